"""Token vectors from corpus co-occurrence: what ``electra prepare --token-vectors N`` adds to a
prepared folder, and what ``recipe.token_vectors`` starts the token table from.

At small budgets most of what fine-tuning can take from pretraining is word knowledge: which
pieces occur in the same contexts (``docs/small-budgets.md``). Counting gets that in seconds
where a network needs thousands of steps:

1. Co-occurrence counts over the prepared shards: every pair of non-special pieces at most
   :data:`WINDOW` apart in an example, weighted ``1 / distance``, both orders.
2. Positive pointwise mutual information, with the context counts raised to 0.75 (so rare
   contexts do not dominate).
3. A truncated SVD of that matrix (randomised, fixed seed): piece ``i``'s vector is row ``i`` of
   ``U sqrt(S)``, components by falling singular value. A piece the shards never show next to
   another (a special token, an unused id) gets a zero row.

The file ``token-vectors.safetensors`` holds the ``(vocab_size, N)`` float32 matrix and, in its
metadata, the settings and the sha256 of the ``meta.json`` it was computed from: a folder
prepared again (other shards) no longer matches, and reading the stale file is an error.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from sklearn.utils.extmath import randomized_svd

from electra.errors import ElectraError

VECTORS_FILE = "token-vectors.safetensors"
WINDOW = 4
"""Pieces at most this far apart count as co-occurring."""
CONTEXT_SMOOTHING = 0.75
SVD_SEED = 0
CHUNK_ROWS = 16384
"""Examples counted per sparse batch: bounds the memory of one batch of pairs (~0.5 GB at 128 wide)."""


def cooccurrence(shards: Iterable[np.ndarray], vocab_size: int, special: Iterable[int]) -> sp.csr_matrix:
    """(V, V) float64 counts of pieces within :data:`WINDOW` of each other, weighted 1 / distance,
    symmetric; pairs with a special id are left out."""
    ignored = np.zeros(vocab_size, dtype=bool)
    ignored[list(special)] = True
    counts = sp.csr_matrix((vocab_size, vocab_size), dtype=np.float64)
    for shard in shards:
        for start in range(0, len(shard), CHUNK_ROWS):
            rows = np.asarray(shard[start : start + CHUNK_ROWS], dtype=np.int64)  # (R, T)
            firsts, seconds, weights = [], [], []
            for distance in range(1, WINDOW + 1):
                a, b = rows[:, :-distance].ravel(), rows[:, distance:].ravel()
                keep = ~(ignored[a] | ignored[b])
                a, b = a[keep], b[keep]
                firsts += [a, b]
                seconds += [b, a]
                weights.append(np.full(2 * len(a), 1.0 / distance))
            pairs = (np.concatenate(weights), (np.concatenate(firsts), np.concatenate(seconds)))
            counts = counts + sp.coo_matrix(pairs, shape=(vocab_size, vocab_size)).tocsr()  # sums duplicates
    return counts


def positive_pmi(counts: sp.csr_matrix) -> sp.csr_matrix:
    """max(0, log p(i, j) / (p(i) p_0.75(j))) on the non-zero counts."""
    total = counts.sum()
    if total == 0:
        raise ElectraError("the shards hold no pair of ordinary pieces to count: no token vectors can be computed")
    rows = np.asarray(counts.sum(axis=1)).ravel()
    contexts = np.asarray(counts.sum(axis=0)).ravel() ** CONTEXT_SMOOTHING
    contexts = contexts / contexts.sum() * total
    c = counts.tocoo()
    pmi = np.log(c.data * total / (rows[c.row] * contexts[c.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (c.row[keep], c.col[keep])), shape=counts.shape)


def svd_vectors(ppmi: sp.csr_matrix, dim: int) -> np.ndarray:
    """(V, dim) float32: ``U sqrt(S)`` of the truncated SVD, components by falling singular value;
    exactly zero for the pieces with no positive entry (the SVD leaves rounding noise there)."""
    u, s, _ = randomized_svd(ppmi, dim, random_state=SVD_SEED)
    vectors = (u * np.sqrt(s)).astype(np.float32)
    vectors[ppmi.getnnz(axis=1) == 0] = 0.0
    return vectors


def compute_token_vectors(data_dir: Path, meta: dict, dim: int) -> np.ndarray:
    """The ``(vocab_size, dim)`` vectors of the prepared folder ``data_dir`` (its ``meta``)."""
    vocab_size = int(meta["vocab_size"])
    if not 1 <= dim < vocab_size:
        raise ElectraError(f"--token-vectors {dim}: must be between 1 and the vocabulary size - 1 ({vocab_size - 1})")
    shards = (np.load(data_dir / s["file"], mmap_mode="r") for s in meta["shards"])
    counts = cooccurrence(shards, vocab_size, meta["special_ids"].values())
    return svd_vectors(positive_pmi(counts), dim)


def meta_digest(data_dir: Path) -> str:
    return hashlib.sha256((data_dir / "meta.json").read_bytes()).hexdigest()


def settings(dim: int, digest: str) -> dict[str, str]:
    """What the file's metadata records (safetensors metadata is str -> str)."""
    return {
        "dim": str(dim),
        "window": str(WINDOW),
        "context_smoothing": str(CONTEXT_SMOOTHING),
        "svd_seed": str(SVD_SEED),
        "meta_sha256": digest,
    }


def write_token_vectors(data_dir: Path, meta: dict, dim: int) -> bool:
    """Compute and write ``data_dir/token-vectors.safetensors`` unless a file of the same settings
    for this ``meta.json`` is there already; returns whether it computed them."""
    data_dir = Path(data_dir)
    wanted = settings(dim, meta_digest(data_dir))
    if _metadata(data_dir / VECTORS_FILE) == wanted:
        return False
    vectors = compute_token_vectors(data_dir, meta, dim)
    tmp = data_dir / (VECTORS_FILE + ".tmp")
    save_file({"vectors": torch.from_numpy(vectors)}, str(tmp), metadata=wanted)
    os.replace(tmp, data_dir / VECTORS_FILE)
    return True


def read_token_vectors(data_dir: Path) -> torch.Tensor:
    """The ``(vocab_size, N)`` vectors prepared in ``data_dir``; an ElectraError when the folder
    has none, or has ones computed before it was prepared again."""
    data_dir = Path(data_dir)
    path = data_dir / VECTORS_FILE
    if not path.is_file():
        raise ElectraError(
            f"{data_dir}: no token vectors ({VECTORS_FILE}); run the same 'electra prepare' command "
            f"again with --token-vectors 128 (the shards are kept; only the vectors are computed)"
        )
    held = _metadata(path)
    if held is None:
        raise ElectraError(f"{path}: not a readable token-vectors file; delete it and run prepare again")
    if held.get("meta_sha256") != meta_digest(data_dir):
        raise ElectraError(
            f"{path}: computed for other shards (meta.json has changed since); run 'electra prepare' "
            f"again with --token-vectors {held.get('dim', 128)}"
        )
    with safe_open(str(path), framework="pt") as handle:
        return handle.get_tensor("vectors")


def _metadata(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata()
    except (SafetensorError, OSError, ValueError):
        return None
