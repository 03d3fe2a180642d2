"""``electra demo``: the whole pipeline on the built-in public-domain corpus, in a few minutes.

1. prepare the shipped corpus (State of the Union addresses, Jane Austen, Moby-Dick) with the
   shipped pair's tokenizer;
2. pretrain a tiny ELECTRA live for a few minutes, with a progress bar and losses;
3. let the shipped generator corrupt a sentence, then show which tokens the live discriminator
   and the shipped (longer-trained) discriminator flag as replaced, with probabilities.

The live model uses the ``tiny-budget`` preset, whose discriminator leaves its always-"original"
plateau within a few hundred steps, so a few CPU-minutes already catch some replacements; the
shipped pair (trained by this project with ``electra pretrain``, see its ``TRAINING.md``) shows
what the same model does after more training.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import torch

from electra.commands.validate import Pair, load_pair
from electra.config import ObjectiveConfig, PrepareConfig, tiny_budget
from electra.data.loader import PretrainBatch
from electra.data.prepare import prepare
from electra.errors import ElectraError
from electra.objectives import ElectraObjective
from electra.pretrain import PretrainJob, run_pretraining

ASSETS = Path(__file__).parent.parent / "assets"
DEFAULT_SENTENCE = (
    "The President said that the nation must work together to build a stronger "
    "economy and a better future for all of our children."
)


def shipped_pair_path() -> Path:
    """Folder of the tiny generator + discriminator pair that ships with the package."""
    return ASSETS / "pretrained-tiny"


def corpus_files() -> list[Path]:
    files = sorted((ASSETS / "corpus").glob("*.txt.gz"))
    if not files:
        raise ElectraError(f"{ASSETS / 'corpus'}: the built-in corpus is missing (broken install?)")
    return files


def run(out: Path | None = None, minutes: float = 4.0, sentence: str | None = None) -> None:
    if out is None:
        with tempfile.TemporaryDirectory(prefix="electra-demo-") as tmp:
            _run(Path(tmp), minutes, sentence)
    else:
        _run(Path(out), minutes, sentence)


def _run(workdir: Path, minutes: float, sentence: str | None) -> None:
    shipped = load_pair(shipped_pair_path())
    say(f"[1/3] preparing the built-in corpus ({', '.join(p.name for p in corpus_files())})")
    data_dir = workdir / "data"
    meta = prepare(corpus_files(), data_dir, PrepareConfig(tokenizer=str(shipped.folder / "discriminator")))
    counts = meta["counts"]
    say(f"      {counts['documents']} documents, {counts['examples']} examples, {counts['tokens']:,} tokens")

    say(f"[2/3] pretraining a tiny ELECTRA (preset tiny-budget) for {minutes:g} minutes on the CPU")
    preset = tiny_budget()
    job = PretrainJob(
        "electra",
        preset.model,
        preset.objective,
        dataclasses.replace(preset.train, max_minutes=minutes, device="cpu", save_every=10**9),
    )
    run_dir = run_pretraining(job, data_dir, workdir / "run")
    last = _last_metrics(run_dir)
    say(
        f"      live model after {last['step']} steps: generator accuracy {last['gen_acc']:.1%}, "
        f"discriminator loss {last['disc_loss']:.3f} vs always-'original' baseline "
        f"{last['disc_baseline_loss']:.3f}, recall on replaced tokens {last['disc_recall']:.1%}"
    )

    say("[3/3] the shipped generator corrupts a sentence; both discriminators look for replacements")
    live = load_pair(run_dir)
    show_detections(shipped, live, sentence or DEFAULT_SENTENCE)


def show_detections(shipped: Pair, live: Pair, sentence: str, seed: int = 3) -> None:
    tokenizer = shipped.tokenizer
    encoding = tokenizer.encode(sentence)
    ids = torch.tensor([encoding.ids])
    batch = PretrainBatch(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=torch.zeros_like(ids))
    recipe = ObjectiveConfig(mask_prob=0.2, disallow_correct=True)  # a few, always real, replacements
    corruptor = ElectraObjective(shipped.generator, shipped.discriminator, recipe, shipped.special, ids.shape[1]).eval()
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        out = corruptor.run(batch, rng)
        p_shipped = torch.sigmoid(out.disc_logits[0])
        p_live = torch.sigmoid(live.discriminator(out.disc_input, batch.attention_mask, batch.token_type_ids)[0])
    say(f"\n  original:  {sentence}")
    say(f"  corrupted: {tokenizer.decode(out.disc_input[0].tolist())}\n")
    say(f"  {'token':<14} {'original':<14} {'truth':<9} {'live P(replaced)':>17} {'shipped P(replaced)':>20}")
    for pos in range(1, ids.shape[1] - 1):
        written = tokenizer.id_to_token(int(out.disc_input[0, pos]))
        original = tokenizer.id_to_token(int(ids[0, pos]))
        truth = "REPLACED" if out.labels[0, pos] else ""
        say(
            f"  {written:<14} {original if truth else '':<14} {truth:<9} "
            f"{_flag(p_live[pos]):>17} {_flag(p_shipped[pos]):>20}"
        )
    say("\n  * = flagged as replaced (P > 0.5)")


def _flag(p: torch.Tensor) -> str:
    return f"{'* ' if p > 0.5 else ''}{float(p):.2f}"


def _last_metrics(run_dir: Path) -> dict:
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ElectraError(f"{run_dir}: the live run logged no metrics (budget too short?)")
    return json.loads(lines[-1])


def say(message: str) -> None:
    print(message, file=sys.stdout, flush=True)
