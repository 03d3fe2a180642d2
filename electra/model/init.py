"""Starting weights that give the first layer neighbour-reading heads from step 0 ("local" init).

Why: with BERT's initialisation every attention head starts near uniform, so a masked position
hears the whole sentence as one bag of words. Both the generator (an MLM) and the discriminator
then sit on a plateau until their learned absolute positions happen to form heads that read the
neighbouring tokens; for the ``tiny`` preset that takes ~2,000–3,500 optimizer steps
(``docs/small-budgets.md``). This scheme starts the model past that point, without data:

1. The first ``2k`` dimensions of the shared position table hold sinusoids ``cos(ω_j t)``,
   ``sin(ω_j t)`` at ``k`` frequencies spread quasi-uniformly over (0, π) (golden-ratio
   sequence: no exact period, so no far-away position looks like a neighbour). The word and
   token-type tables start at zero in those dimensions, so they carry position only.
2. In the first layer of every network, head ``h`` reads those dimensions with a query rotated by
   ``δ_h`` positions: ``q_t · k_s ∝ Σ_j cos(ω_j (s − t − δ_h))``, largest at ``s = t + δ_h``.
   Heads alternate ``δ = −1`` (previous token) and ``δ = +1`` (next token); a network with one
   head gets both. The rest of each head's query/key rows keep their random start (content).
3. The query/key scale is set so that each head puts ``mass`` (0.6) of its attention on its
   target neighbour(s) at initialisation, measured on random token ids.

Everything else keeps BERT's initialisation, and the layout stays that of ``transformers``'
ELECTRA classes (only starting values differ), so checkpoints export as before. The weights are
still all learned. A head reads at most 3/8 of its dimensions' worth of frequencies (the first
ones); a network narrower than the embeddings has its projection pass them through unchanged.
"""

from __future__ import annotations

import math

import torch

from electra.model.encoder import ElectraModel, Embeddings

FREQUENCIES = 24
"""``k``: sinusoid pairs in the position table, at most (48 of ``tiny``'s 128 embedding dimensions;
never more than 3/8 of the embedding width)."""

NEIGHBOUR_MASS = 0.6
"""Attention each first-layer head puts on its neighbour(s) at initialisation."""

HEAD_SHARE = 3 / 8
"""At most this share of a head's query/key dimensions (and of the embedding width) holds position:
``tiny``'s 64-wide heads read 12 of the table's frequencies, its 32-wide generator head 6."""

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def frequencies(k: int) -> torch.Tensor:
    """``k`` angular frequencies in (0, π), quasi-uniform: π · frac(j · golden ratio)."""
    j = torch.arange(1, k + 1, dtype=torch.float64)
    return (math.pi * torch.frac(j * GOLDEN)).float()


def table_frequencies(width: int) -> int:
    """Sinusoid pairs the position table of an embedding ``width`` holds: the words keep >= 5/8 of it."""
    return max(1, min(FREQUENCIES, int(width * HEAD_SHARE) // 2))


def position_table(n_positions: int, width: int, k: int, std: float) -> torch.Tensor:
    """(n_positions, width): sinusoids in the first ``2k`` columns, zero elsewhere; each row has
    the norm a word row of std ``std`` has on average (``std · √width``)."""
    t = torch.arange(n_positions, dtype=torch.float32)[:, None]
    w = frequencies(k)[None]
    table = torch.zeros(n_positions, width)
    table[:, 0 : 2 * k : 2] = torch.cos(t * w)
    table[:, 1 : 2 * k : 2] = torch.sin(t * w)
    return table * (std * math.sqrt(width) / math.sqrt(k))


def rotation(k: int, delta: float) -> torch.Tensor:
    """(2k, 2k) block-diagonal rotation taking position ``t``'s sinusoid pairs to ``t + delta``'s."""
    w = frequencies(k) * delta
    c, s = torch.cos(w), torch.sin(w)
    blocks = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (k, 2, 2)
    return torch.block_diag(*blocks)


def head_offsets(num_heads: int) -> list[tuple[int, ...]]:
    """The neighbour(s) each first-layer head reads: alternately the previous and the next token."""
    if num_heads == 1:
        return [(-1, 1)]
    return [(-1,) if h % 2 == 0 else (1,) for h in range(num_heads)]


def network_frequencies(net: ElectraModel, k: int) -> int:
    """How many of the ``k`` frequencies fit this network's heads."""
    attention = net.encoder.layer[0].attention
    head_size = net.config.hidden_size // attention.num_heads
    return max(1, min(k, int(head_size * HEAD_SHARE) // 2))


@torch.no_grad()
def set_local_heads(net: ElectraModel, k: int, scale: float) -> None:
    """Write the position-reading rows of every first-layer head's query and key."""
    attention = net.encoder.layer[0].attention
    head_size = net.config.hidden_size // attention.num_heads
    query, key = attention.self.query.weight, attention.self.key.weight  # (H, H)
    for h, deltas in enumerate(head_offsets(attention.num_heads)):
        rows = slice(h * head_size, h * head_size + 2 * k)
        turn = sum(rotation(k, d) for d in deltas) / len(deltas)
        query[rows] = 0.0
        key[rows] = 0.0
        query[rows, : 2 * k] = scale * turn
        key[rows, : 2 * k] = scale * torch.eye(2 * k)


@torch.no_grad()
def pass_positions_through(net: ElectraModel, k: int, k_table: int, generator: torch.Generator) -> None:
    """A network narrower than the embeddings: its projection keeps the first ``2k`` position
    columns as they are and maps the content columns orthogonally onto the remaining width."""
    if not hasattr(net, "embeddings_project"):
        return
    weight = net.embeddings_project.weight  # (H, E)
    rest = torch.empty(weight.shape[0] - 2 * k, weight.shape[1] - 2 * k_table)
    torch.nn.init.orthogonal_(rest, generator=generator)
    weight.zero_()
    weight[: 2 * k, : 2 * k] = torch.eye(2 * k)
    weight[2 * k :, 2 * k_table :] = rest


@torch.no_grad()
def neighbour_mass(net: ElectraModel, ids: torch.Tensor) -> float:
    """Mean attention the first layer's heads put on their neighbour(s), over the batch ``ids``."""
    x = net.embeddings(ids, torch.zeros_like(ids))
    if hasattr(net, "embeddings_project"):
        x = net.embeddings_project(x)
    attention = net.encoder.layer[0].attention
    B, T, H = x.shape
    q, k = (
        proj(x).view(B, T, attention.num_heads, -1).transpose(1, 2)  # (B, nh, T, hs)
        for proj in (attention.self.query, attention.self.key)
    )
    probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)  # (B, nh, T, T)
    masses = [
        sum(torch.diagonal(probs[:, h], offset=d, dim1=-2, dim2=-1).mean() for d in deltas)
        for h, deltas in enumerate(head_offsets(attention.num_heads))
    ]
    return float(sum(masses) / len(masses))


def calibrate(net: ElectraModel, k: int, ids: torch.Tensor, mass: float = NEIGHBOUR_MASS) -> float:
    """The query/key scale (bisection on a log scale) at which the heads put ``mass`` on their neighbours."""
    low, high = 0.05, 50.0
    for _ in range(30):
        scale = math.sqrt(low * high)
        set_local_heads(net, k, scale)
        low, high = (scale, high) if neighbour_mass(net, ids) < mass else (low, scale)
    return math.sqrt(low * high)


@torch.no_grad()
def local_init(embeddings: Embeddings, networks: list[ElectraModel], std: float, seed: int = 0) -> None:
    """Apply the scheme to the shared ``embeddings`` and every encoder in ``networks``, in place."""
    generator = torch.Generator().manual_seed(seed)
    width = embeddings.word_embeddings.weight.shape[1]
    k_table = table_frequencies(width)
    table = embeddings.position_embeddings.weight
    table.copy_(position_table(table.shape[0], width, k_table, std))
    embeddings.word_embeddings.weight[:, : 2 * k_table] = 0.0
    embeddings.token_type_embeddings.weight[:, : 2 * k_table] = 0.0
    vocab = embeddings.word_embeddings.weight.shape[0]
    ids = torch.randint(0, vocab, (8, min(128, table.shape[0])), generator=generator)
    for net in networks:
        k = min(k_table, network_frequencies(net, k_table))
        pass_positions_through(net, k, k_table, generator)
        set_local_heads(net, k, calibrate(net, k, ids))
