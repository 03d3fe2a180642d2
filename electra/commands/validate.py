"""Judge a generator + discriminator pair on held-out text.

The discriminator is compared with the one number that gives its loss meaning: the loss of a
detector that answers "original" everywhere, i.e. the binary entropy of the share of replaced
tokens. ROC AUC, precision and recall on replaced tokens say whether it detects anything.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from tokenizers import Tokenizer

from electra.config import ObjectiveConfig, PrepareConfig
from electra.data.loader import PretrainData, batch_from_ids
from electra.data.prepare import prepare
from electra.errors import ElectraError
from electra.model.io import load_network
from electra.model.networks import Discriminator, Generator
from electra.objectives import ElectraObjective
from electra.runtime import resolve_device
from electra.tokenizer import SpecialIds, load_tokenizer, special_ids


@dataclass
class Pair:
    """A loaded generator + discriminator and the tokenizer they were trained with."""

    generator: Generator
    discriminator: Discriminator
    folder: Path
    recipe: ObjectiveConfig
    max_seq_len: int
    tokenizer: Tokenizer
    special: SpecialIds


def load_pair(folder: Path) -> Pair:
    """Load ``folder/{generator,discriminator}`` (a run, a checkpoint or the shipped pair)."""
    folder = Path(folder)
    for part in ("generator", "discriminator"):
        if not (folder / part).is_dir():
            raise ElectraError(
                f"{folder}: no '{part}' folder; expected the output of "
                f"'electra pretrain --objective electra' (or one of its checkpoints)"
            )
    generator = load_network(Generator, folder / "generator")
    discriminator = load_network(Discriminator, folder / "discriminator")
    if generator.config.vocab_size != discriminator.config.vocab_size:
        raise ElectraError(f"{folder}: generator and discriminator vocabularies differ")
    recipe, max_seq_len = ObjectiveConfig(), 128
    run_file = next((p / "run.json" for p in (folder, folder.parent.parent) if (p / "run.json").is_file()), None)
    if run_file is not None:
        try:
            run = json.loads(run_file.read_text(encoding="utf-8"))
            recipe = ObjectiveConfig(**run["recipe"])
            max_seq_len = int(run.get("max_seq_len", max_seq_len))
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ElectraError(f"{run_file}: not a valid run description ({exc})") from exc
    tokenizer = load_tokenizer(folder / "discriminator")
    return Pair(generator, discriminator, folder, recipe, max_seq_len, tokenizer, special_ids(tokenizer))


def prepared_folder(data: list[Path], pair: Pair, workdir: Path) -> Path:
    """``data`` itself if it is one prepared folder, else raw text tokenized with the pair's tokenizer."""
    if len(data) == 1 and (data[0] / "meta.json").is_file():
        return data[0]
    cfg = PrepareConfig(tokenizer=str(pair.folder / "discriminator"), max_seq_len=pair.max_seq_len)
    prepare(data, workdir, cfg, progress=False)
    return workdir


@torch.no_grad()
def evaluate_pair(
    pair: Pair, data_dir: Path, batch_size: int = 64, max_examples: int = 4000, seed: int = 0, device: str = "cpu"
) -> dict:
    """Corrupt held-out examples with the generator and score the discriminator on them."""
    data = PretrainData(data_dir)
    meta = data.meta
    special = pair.special
    if int(meta["vocab_size"]) != pair.discriminator.config.vocab_size:
        raise ElectraError(
            f"{data_dir}: prepared with a vocabulary of {meta['vocab_size']} ids, "
            f"the model has {pair.discriminator.config.vocab_size}"
        )
    if batch_size < 1 or max_examples < 1:
        raise ElectraError(f"batch size and max examples must be positive, got {batch_size} and {max_examples}")
    if int(meta["max_seq_len"]) > pair.discriminator.config.max_position_embeddings:
        raise ElectraError(
            f"{data_dir}: examples of {meta['max_seq_len']} tokens are longer than the model's "
            f"{pair.discriminator.config.max_position_embeddings} positions"
        )
    device = str(resolve_device(device))
    objective = (
        ElectraObjective(pair.generator, pair.discriminator, pair.recipe, special, int(meta["max_seq_len"]))
        .to(device)
        .eval()
    )
    rng = torch.Generator(device=device)
    rng.manual_seed(seed)
    totals: dict[str, float] = {}
    scores, labels = [], []
    # evenly spaced over the whole set, so that every input file is represented
    indices = np.unique(np.linspace(0, len(data) - 1, min(len(data), max_examples)).round().astype(np.int64))
    n = len(indices)
    if n == 0:
        raise ElectraError(f"{data_dir}: no examples to validate on")
    for start in range(0, n, batch_size):
        batch = batch_from_ids(data.rows(indices[start : start + batch_size]), special.pad, special.sep).to(device)
        out = objective.run(batch, rng)
        for key, value in objective.score(out, batch.attention_mask).stats.items():
            totals[key] = totals.get(key, 0.0) + float(value)
        real = batch.attention_mask.bool()
        scores.append(out.disc_logits[real].float().cpu().numpy())
        labels.append(out.labels[real].cpu().numpy())
    return report(totals, np.concatenate(scores), np.concatenate(labels), n)


def report(totals: dict[str, float], scores: np.ndarray, labels: np.ndarray, examples: int) -> dict:
    row = ElectraObjective.metrics(totals)
    auc = float(roc_auc_score(labels, scores)) if 0 < labels.sum() < labels.size else None  # undefined
    return {
        "examples": examples,
        "tokens": int(totals["real_tokens"]),
        "gen_loss": row["mlm_loss"],
        "gen_acc": row["gen_acc"],
        "disc_loss": row["disc_loss"],
        "baseline_loss": row["disc_baseline_loss"],
        "disc_loss_ratio": row["disc_loss_ratio"],
        "disc_auc": auc,
        "disc_precision": row["disc_precision"],
        "disc_recall": row["disc_recall"],
        "disc_acc": row["disc_acc"],
        "replaced_share": row["replaced_share"],
    }


def validate(model: Path, data: list[Path], **kwargs) -> dict:
    pair = load_pair(model)
    with tempfile.TemporaryDirectory(prefix="electra-validate-") as tmp:
        return evaluate_pair(pair, prepared_folder([Path(p) for p in data], pair, Path(tmp)), **kwargs)
