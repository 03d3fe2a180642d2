"""Batches read ahead in a background thread, so that loading is off the training step's path.

The wrapped stream's position is what a checkpoint must record, but the thread runs ahead of
the step; so each batch travels with the stream state *after* it, and ``state_dict`` returns
the state after the last batch actually handed out. Resuming therefore still continues exactly.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from electra.data.loader import PretrainBatch


class Stream(Protocol):
    def __next__(self) -> PretrainBatch: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Prefetcher:
    """Iterator over ``stream`` that keeps up to ``depth`` batches ready (pinned when ``pin``)."""

    def __init__(self, stream: Stream, depth: int = 2, pin: bool = False) -> None:
        self.stream = stream
        self.depth = depth
        self.pin = pin
        self._state = stream.state_dict()
        self._queue: queue.Queue | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __iter__(self) -> Iterator[PretrainBatch]:
        return self

    def __next__(self) -> PretrainBatch:
        if self._thread is None:
            self._start()
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        batch, self._state = item
        return batch

    def state_dict(self) -> dict[str, Any]:
        """The stream state after the last batch handed out (not after the ones read ahead)."""
        return self._state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self._thread is not None:
            raise RuntimeError("cannot move a prefetching stream once it has started")
        self.stream.load_state_dict(state)
        self._state = self.stream.state_dict()

    def close(self) -> None:
        """Stop the reader thread (it is a daemon, so an unclosed one never blocks exit)."""
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                with contextlib.suppress(queue.Empty):  # unblock a reader waiting on a full queue
                    self._queue.get_nowait()
                self._thread.join(timeout=0.05)

    def _start(self) -> None:
        self._queue = queue.Queue(maxsize=self.depth)
        self._thread = threading.Thread(target=self._read, name="electra-prefetch", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while not self._stop.is_set():
                batch = next(self.stream)
                if self.pin:
                    batch = PretrainBatch(
                        *(t.pin_memory() for t in (batch.input_ids, batch.attention_mask, batch.token_type_ids))
                    )
                self._put((batch, self.stream.state_dict()))
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
