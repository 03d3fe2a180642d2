"""Pretrain with a non-BERT initialisation, to measure whether the start holds the discriminator back.

Runs ``electra pretrain`` with the freshly built generator/discriminator pair re-initialised by
one or more schemes (comma-separated, applied in this order):

- ``sinusoidal``: the shared position table starts as the sinusoid table of "Attention is all
  you need", scaled to the standard deviation ``initializer_range`` (it is still learned).
- ``mimetic``: every layer's attention starts "mimetic" (Trockman & Kolter, 2023): per head
  W_q^T W_k ~ 0.7 Z + 0.7 I and, per layer, W_v^T W_o^T ~ 0.4 Z - 0.4 I (Z Gaussian with
  variance 1/width), factored by SVD. With the sinusoidal table each token then attends to
  itself and its neighbours from step 0. A generator narrower than the embeddings gets an
  orthonormal ``embeddings_project`` so that its layers see unit-scale inputs.
- ``prior-bias``: the generator's output bias starts at the log unigram frequency of the
  prepared data (so the word-frequency stage is solved at step 0) and the discriminator's
  output bias at logit(0.13), the usual share of replaced tokens.

The models keep the ``transformers`` layout; only the starting values change. Used for the
"initialisation" rows of ``docs/small-budgets.md``::

    python benchmarks/init_knobs.py mimetic,sinusoidal -- pretrain --data D --out R --preset tiny
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

import electra.objectives
from electra.cli import main as electra_main
from electra.model.encoder import ElectraModel
from electra.model.networks import Discriminator, Generator, build_pair

SCHEMES = ("sinusoidal", "mimetic", "prior-bias")
REPLACED_SHARE = 0.13


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--" or argv[2] != "pretrain":
        print(__doc__, file=sys.stderr)
        return 2
    schemes = argv[0].split(",")
    unknown = sorted(set(schemes) - set(SCHEMES))
    if unknown:
        print(f"error: unknown scheme(s) {unknown}; choose from {SCHEMES}", file=sys.stderr)
        return 2
    data = Path(argv[argv.index("--data") + 1])
    electra.objectives.build_pair = lambda cfg, fraction: reinitialised_pair(cfg, fraction, schemes, data)
    return electra_main(argv[2:])


def reinitialised_pair(cfg, fraction: float, schemes: list[str], data: Path) -> tuple[Generator, Discriminator]:
    generator, discriminator = build_pair(cfg, fraction)
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        if "sinusoidal" in schemes:
            sinusoid_table(discriminator.electra.embeddings.position_embeddings.weight, cfg.initializer_range)
        if "mimetic" in schemes:
            for net in (generator.electra, discriminator.electra):
                unit_projection(net, rng)
                mimetic_attention(net, rng)
        if "prior-bias" in schemes:
            generator.generator_lm_head.bias.copy_(log_unigram(data, cfg.vocab_size))
            discriminator.discriminator_predictions.dense_prediction.bias.fill_(
                math.log(REPLACED_SHARE / (1 - REPLACED_SHARE))
            )
    print(f"init_knobs: re-initialised with {schemes}", file=sys.stderr)
    return generator, discriminator


def sinusoid_table(weight: torch.Tensor, std: float) -> None:
    n, d = weight.shape
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
    table = torch.zeros(n, d)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)
    weight.copy_(table / table.std() * std)


def low_rank_factors(m: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """a, b of shape (d, rank) with a @ b.T the best rank-``rank`` approximation of m."""
    u, s, vh = torch.linalg.svd(m)
    root = s[:rank].sqrt()
    return u[:, :rank] * root, vh[:rank].T * root


def mimetic_attention(net: ElectraModel, rng: torch.Generator, qk=(0.7, 0.7), vo=(0.4, 0.4)) -> None:
    for layer in net.encoder.layer:
        attention = layer.attention
        width = attention.self.query.weight.shape[1]
        head = width // attention.num_heads
        queries, keys = [], []
        for _ in range(attention.num_heads):
            target = qk[0] * torch.randn(width, width, generator=rng) / math.sqrt(width) + qk[1] * torch.eye(width)
            a, b = low_rank_factors(target, head)
            queries.append(a.T)  # q = x a, k = x b: q k^T = x (a b^T) x^T
            keys.append(b.T)
        attention.self.query.weight.copy_(torch.cat(queries))
        attention.self.key.weight.copy_(torch.cat(keys))
        target = vo[0] * torch.randn(width, width, generator=rng) / math.sqrt(width) - vo[1] * torch.eye(width)
        a, b = low_rank_factors(target, width)
        attention.self.value.weight.copy_(a.T)  # v = x a, out = v b^T: x (a b^T)
        attention.output.dense.weight.copy_(b)


def unit_projection(net: ElectraModel, rng: torch.Generator) -> None:
    if hasattr(net, "embeddings_project"):
        torch.nn.init.orthogonal_(net.embeddings_project.weight, generator=rng)


def log_unigram(data: Path, vocab_size: int) -> torch.Tensor:
    """Log frequency of every id over the prepared shards (special ids excluded), add-1/2 smoothed."""
    meta = json.loads((data / "meta.json").read_text())
    counts = np.zeros(vocab_size, dtype=np.int64)
    for shard in meta["shards"]:
        counts += np.bincount(np.load(data / shard["file"], mmap_mode="r").ravel(), minlength=vocab_size)
    counts[list(meta["special_ids"].values())] = 0
    smoothed = counts + 0.5
    return torch.from_numpy(np.log(smoothed / smoothed.sum())).float()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
