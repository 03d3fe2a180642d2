"""Read-ahead keeps the batch order and reports the position of what was consumed."""

from __future__ import annotations

import pytest
import torch

from electra.data.loader import PretrainBatch
from electra.data.prefetch import Prefetcher


class Counting:
    """A stream of one-row batches holding 0, 1, 2, ...; fails at ``fail_at``."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.position = 0
        self.fail_at = fail_at

    def __next__(self) -> PretrainBatch:
        if self.position == self.fail_at:
            raise ValueError(f"bad row {self.position}")
        ids = torch.tensor([[self.position]])
        self.position += 1
        return PretrainBatch(ids, torch.ones_like(ids), torch.zeros_like(ids))

    def state_dict(self) -> dict:
        return {"position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.position = state["position"]


def test_order_is_kept_and_the_state_is_that_of_the_consumed_batches():
    stream = Prefetcher(Counting(), depth=3)
    seen = [int(next(stream).input_ids) for _ in range(5)]
    assert seen == [0, 1, 2, 3, 4]
    assert stream.state_dict() == {"position": 5}  # the reader is ahead, the state is not
    stream.close()


def test_a_resumed_prefetcher_continues_where_the_state_says():
    first = Prefetcher(Counting())
    for _ in range(4):
        next(first)
    state = first.state_dict()
    first.close()
    second = Prefetcher(Counting())
    second.load_state_dict(state)
    assert int(next(second).input_ids) == 4
    with pytest.raises(RuntimeError):
        second.load_state_dict(state)
    second.close()


def test_errors_in_the_reader_reach_the_consumer():
    stream = Prefetcher(Counting(fail_at=2))
    next(stream), next(stream)
    with pytest.raises(ValueError, match="bad row 2"):
        next(stream)
    stream.close()
