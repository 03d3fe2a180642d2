"""Read prepared shards: ``meta.json`` checks, memory-mapped rows, and a resumable,
rank-aware stream of :class:`PretrainBatch`.

Choices:

- Shards are opened with ``np.load(mmap_mode='r')``: nothing is read until a batch asks for
  its rows, so opening a dataset of any size is instant and costs no memory, and no worker
  processes are needed.
- The example order of epoch ``e`` is a permutation drawn from
  ``np.random.default_rng([seed, e])``: a pure function of ``(seed, epoch)``. Resuming needs
  only ``{"epoch", "position"}``.
- Every rank draws the same global batch of ``batch_size`` examples and takes its own
  contiguous ``batch_size // world_size`` slice, so ranks never share an example and their
  union is exactly the single-process batch.
- The last incomplete global batch of an epoch is dropped (every step sees the same number of
  examples).
- With ``trim=True`` a batch is cut to its longest real row, so no compute is spent on
  columns that are padding everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from electra.errors import ElectraError

META_FILE = "meta.json"
SUPPORTED_SCHEMA = 1


@dataclass
class PretrainBatch:
    """One batch of packed examples; all tensors are ``(B, T)`` int64."""

    input_ids: torch.Tensor
    """Token ids, ``[CLS] A [SEP] (B [SEP])`` then ``[PAD]``."""
    attention_mask: torch.Tensor
    """1 on real tokens, 0 on padding."""
    token_type_ids: torch.Tensor
    """0 up to and including the first ``[SEP]``, 1 for segment B and its ``[SEP]``, 0 on padding."""

    def to(self, device: torch.device | str, non_blocking: bool = False) -> PretrainBatch:
        return PretrainBatch(
            *(
                t.to(device, non_blocking=non_blocking)
                for t in (self.input_ids, self.attention_mask, self.token_type_ids)
            )
        )

    @property
    def num_tokens(self) -> int:
        """Real (non-padding) tokens in the batch."""
        return int(self.attention_mask.sum())


def batch_from_ids(ids: np.ndarray, pad_id: int, sep_id: int) -> PretrainBatch:
    """Derive the attention mask and token types of padded rows ``ids`` (B, T).

    A row's real length ends at its last non-``[PAD]`` token (a ``[PAD]`` id inside the text
    cannot occur: prepare never emits one).
    """
    ids = np.asarray(ids, dtype=np.int64)
    positions = np.arange(ids.shape[1])
    real = ids != pad_id  # (B, T)
    length = np.where(real.any(1), ids.shape[1] - np.argmax(real[:, ::-1], axis=1), 0)  # (B,)
    attention = positions[None, :] < length[:, None]  # (B, T)
    is_sep = ids == sep_id
    first_sep = np.where(is_sep.any(1), np.argmax(is_sep, axis=1), ids.shape[1])  # (B,)
    token_types = (positions[None, :] > first_sep[:, None]) & attention  # (B, T)
    return PretrainBatch(
        input_ids=torch.from_numpy(ids),
        attention_mask=torch.from_numpy(attention.astype(np.int64)),
        token_type_ids=torch.from_numpy(token_types.astype(np.int64)),
    )


def load_meta(folder: str | Path) -> dict[str, Any]:
    """Read and check ``folder/meta.json`` and the shards it lists."""
    folder = Path(folder)
    path = folder / META_FILE
    if not path.is_file():
        raise ElectraError(f"{path}: not found; is {folder} the output of 'electra prepare'?")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ElectraError(f"{path}: cannot read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise ElectraError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from exc
    required = ("schema_version", "vocab_size", "special_ids", "max_seq_len", "dtype", "shards")
    missing = [key for key in required if not isinstance(meta, dict) or key not in meta]
    if missing:
        raise ElectraError(f"{path}: missing key(s) {', '.join(missing)}")
    if meta["schema_version"] != SUPPORTED_SCHEMA:
        raise ElectraError(
            f"{path}: schema_version {meta['schema_version']!r} is not supported "
            f"(expected {SUPPORTED_SCHEMA}); prepare the data again"
        )
    if not meta["shards"]:
        raise ElectraError(f"{path}: lists no shards")
    for shard in meta["shards"]:
        if not isinstance(shard, dict) or not {"file", "examples"} <= shard.keys():
            raise ElectraError(f"{path}: shard entry {shard!r} needs 'file' and 'examples'")
        _check_shard(folder / shard["file"], shard["examples"], meta)
    return meta


class PretrainData:
    """All shards of one prepared folder, memory-mapped, addressed by a global row index."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.meta = load_meta(self.folder)
        self.shards = [np.load(self.folder / s["file"], mmap_mode="r") for s in self.meta["shards"]]
        self.offsets = np.cumsum([0] + [len(s) for s in self.shards])  # (num_shards + 1,)
        special = self.meta["special_ids"]
        self.pad_id: int = special["pad"]
        self.sep_id: int = special["sep"]
        self.max_seq_len: int = self.meta["max_seq_len"]
        self.vocab_size: int = self.meta["vocab_size"]

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def rows(self, indices: np.ndarray) -> np.ndarray:
        """The padded rows at global ``indices``, in that order, as ``int64`` (k, max_seq_len).
        A token id outside the vocabulary (a damaged shard) is an ElectraError naming the shard;
        the check costs one max over the rows read."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"row index out of range [0, {len(self)})")
        out = np.empty((len(indices), self.max_seq_len), dtype=np.int64)
        shard_of = np.searchsorted(self.offsets, indices, side="right") - 1
        for shard in np.unique(shard_of):
            picked = np.flatnonzero(shard_of == shard)
            out[picked] = self.shards[shard][indices[picked] - self.offsets[shard]]
            largest = int(out[picked].max()) if picked.size else 0
            if largest >= self.vocab_size:
                raise ElectraError(
                    f"{self.folder / self.meta['shards'][shard]['file']}: token id {largest} is outside "
                    f"the vocabulary of {self.vocab_size} ids: the shard is damaged; prepare the data "
                    f"again (meta.json records each shard's sha256)"
                )
        return out


class BatchStream:
    """Endless batches over ``data``: shuffled per epoch, sliced per rank, resumable."""

    def __init__(
        self, data: PretrainData, batch_size: int, seed: int, rank: int = 0, world_size: int = 1, trim: bool = True
    ) -> None:
        """``batch_size`` is the global batch; each rank yields ``batch_size // world_size`` rows."""
        if world_size < 1 or not 0 <= rank < world_size:
            raise ElectraError(f"invalid rank {rank} for world size {world_size}")
        if batch_size % world_size:
            raise ElectraError(f"batch size {batch_size} is not divisible by world size {world_size}")
        if len(data) < batch_size:
            raise ElectraError(f"{data.folder}: {len(data)} examples cannot fill one batch of {batch_size}")
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.trim = trim
        self.batches_per_epoch = len(data) // batch_size
        self.epoch = 0
        self.position = 0
        """Index of the next batch within the epoch."""
        self._order: np.ndarray | None = None
        self._order_epoch = -1

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> PretrainBatch:
        if self.position >= self.batches_per_epoch:
            self.epoch += 1
            self.position = 0
        local = self.batch_size // self.world_size
        start = self.position * self.batch_size + self.rank * local
        indices = self._epoch_order()[start : start + local]
        self.position += 1
        batch = batch_from_ids(self.data.rows(indices), self.data.pad_id, self.data.sep_id)
        return _trimmed(batch) if self.trim else batch

    def state_dict(self) -> dict[str, int]:
        """Where the next batch comes from; enough to resume exactly."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])

    def _epoch_order(self) -> np.ndarray:
        if self._order_epoch != self.epoch:
            self._order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.data))
            self._order_epoch = self.epoch
        return self._order


def _trimmed(batch: PretrainBatch) -> PretrainBatch:
    """Drop the columns that are padding in every row."""
    length = max(int(batch.attention_mask.sum(1).max()), 1)
    return PretrainBatch(
        batch.input_ids[:, :length].contiguous(),
        batch.attention_mask[:, :length].contiguous(),
        batch.token_type_ids[:, :length].contiguous(),
    )


def _check_shard(path: Path, examples: int, meta: dict) -> None:
    if not path.is_file():
        raise ElectraError(f"{path}: shard listed in meta.json is missing")
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise ElectraError(f"{path}: not a readable .npy shard ({exc})") from exc
    expected = (examples, meta["max_seq_len"])
    if array.shape != expected:
        raise ElectraError(f"{path}: shape {array.shape}, meta.json says {expected}")
    if array.dtype.name != meta["dtype"]:
        raise ElectraError(f"{path}: dtype {array.dtype.name}, meta.json says {meta['dtype']}")
