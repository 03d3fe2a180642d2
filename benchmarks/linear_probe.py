"""How much of a labelled sentence task a frozen encoder already knows: a linear probe per layer.

Logistic regression (scikit-learn) on the frozen encoder's features of every layer (embedding
output and each transformer layer), mean-pooled over the real tokens and at [CLS], trained on
the task's training file and scored on its dev file. Cheaper than fine-tuning (one forward pass
over the data, no seeds) and blind to the fine-tuning dynamics, so it tells "the features hold
nothing for the task" apart from "fine-tuning cannot use them". Used in docs/small-budgets.md::

    python benchmarks/linear_probe.py MODEL_FOLDER ../shared/data/tasks/sentiment [--random]

``--random`` probes the same architecture from fresh weights (with the folder's ``init_scheme``).
Prints one JSON object: dev accuracy per layer for the mean-pooled and the [CLS] features.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from electra.config import ModelConfig
from electra.model.encoder import ElectraModel, init_weights, padding_mask
from electra.model.heads import TaskModel
from electra.model.io import load_encoder, read_config
from electra.model.networks import apply_init_scheme
from electra.tokenizer import load_tokenizer


def encoder(folder: Path, random: bool) -> ElectraModel:
    """The folder's encoder, or (``random``) fresh weights of its architecture and init scheme."""
    cfg = ModelConfig.from_dict(read_config(folder), source=str(folder / "config.json"))
    torch.manual_seed(1)
    model = TaskModel(cfg)
    init_weights(model, cfg.initializer_range)
    if random:
        apply_init_scheme(cfg, [model.electra])
    else:
        load_encoder(model, folder)
    return model.electra.eval()


def read_task(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [r["sentence"] for r in rows], np.array([int(r["label"]) for r in rows])


@torch.no_grad()
def layer_features(model: ElectraModel, tokenizer, texts: list[str], max_len: int = 128) -> tuple[np.ndarray, ...]:
    """(layers + 1, N, H) mean-pooled and [CLS] features."""
    means, cls = [], []
    for start in range(0, len(texts), 128):
        encoded = tokenizer.encode_batch(texts[start : start + 128])
        width = min(max_len, max(len(e.ids) for e in encoded))
        ids = torch.zeros(len(encoded), width, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, e in enumerate(encoded):
            kept = e.ids[:width]
            ids[row, : len(kept)] = torch.tensor(kept)
            mask[row, : len(kept)] = 1
        x = model.embeddings(ids, torch.zeros_like(ids))
        if hasattr(model, "embeddings_project"):
            x = model.embeddings_project(x)
        states = [x]
        for layer in model.encoder.layer:
            x = layer(x, padding_mask(mask))
            states.append(x)
        weights = mask[..., None].float()
        means.append(torch.stack([(h * weights).sum(1) / weights.sum(1) for h in states]))
        cls.append(torch.stack([h[:, 0] for h in states]))
    return torch.cat(means, 1).numpy(), torch.cat(cls, 1).numpy()


def probe(train: np.ndarray, y_train: np.ndarray, dev: np.ndarray, y_dev: np.ndarray) -> float:
    mu, sd = train.mean(0), train.std(0) + 1e-6
    clf = LogisticRegression(max_iter=2000).fit((train - mu) / sd, y_train)
    return round(float(clf.score((dev - mu) / sd, y_dev)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="an encoder folder (discriminator, MLM model, exported model)")
    parser.add_argument("task", type=Path, help="folder with train.tsv and dev.tsv (columns sentence, label)")
    parser.add_argument("--random", action="store_true", help="probe fresh weights of the same architecture")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tokenizer = load_tokenizer(args.model)
    model = encoder(args.model, args.random)
    texts, y_train = read_task(args.task / "train.tsv")
    dev_texts, y_dev = read_task(args.task / "dev.tsv")
    (mean_train, cls_train), (mean_dev, cls_dev) = (
        layer_features(model, tokenizer, texts),
        layer_features(model, tokenizer, dev_texts),
    )
    report = {
        "model": str(args.model),
        "random": args.random,
        "mean": [probe(a, y_train, b, y_dev) for a, b in zip(mean_train, mean_dev)],
        "cls": [probe(a, y_train, b, y_dev) for a, b in zip(cls_train, cls_dev)],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
