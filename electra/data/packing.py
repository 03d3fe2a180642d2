"""Pack tokenized documents into pretraining examples ``[CLS] A [SEP] B [SEP]``.

The semantics follow the ExampleBuilder of google-research/electra
(``build_pretraining_dataset.py``), restated (docs/recipe.md, "Pretraining data building"):

1. Lines of a document are appended to the current example until its content reaches the
   target length; the end of a document flushes the current example even when it is short.
   Documents are never mixed inside an example.
2. The target is ``max_seq_len``, or with probability ``short_seq_prob`` a length drawn
   uniformly from ``[5, max_seq_len]`` (drawn after each flush, for the next example).
3. With probability ``single_segment_prob`` the example is ``[CLS] A [SEP]``. Otherwise the
   accumulated lines are split at a uniformly drawn line boundary into A and B (``[CLS] A [SEP]
   B [SEP]``); a single line is split at a uniformly drawn token boundary instead, so the share
   of single-segment examples stays ``single_segment_prob`` (only a one-token example cannot
   be split).

Choices that differ from the reference, and why:

- Where A ends (rule 3): the reference fills A with whole lines up to about half the target
  length and puts the rest in B, so a one-line example has no B; here the boundary is drawn
  uniformly over the line boundaries (or token boundaries of a single line), which gives a
  spread of A/B lengths and two segments in every example but the ``single_segment_prob``
  share.

- The target length counts the special tokens and bounds the example: a short target really
  gives a short example (the reference only stops accumulating there, then truncates to
  ``max_seq_len``).
- When A and B together exceed the budget, the longer one is cut first (BERT's
  ``truncate_seq_pair``), so both keep tokens; the reference cuts B first, which can leave B
  empty. Tokens are always cut from the end of a segment; a single line that is split into A
  and B is cut to the budget before the split, so A and B stay one contiguous span.
- No text is thrown away: a line that overflows the current example is split, its head
  closes this example and its tail opens the next (the reference truncates it, which on
  corpora with paragraph-long lines such as novels loses 40% of the tokens). Lines stay the
  preferred A/B boundaries. Any token still cut is counted in ``ExampleBuilder.truncated_tokens``.

Examples are 1-D ``int64`` arrays of length at most ``max_seq_len``; token types are not
stored (0 up to and including the first ``[SEP]``, 1 after; see ``loader.batch_from_ids``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from electra.tokenizer import SpecialIds

MIN_TARGET_LEN = 5
"""Shortest target length a short example may draw ([CLS] a [SEP] b [SEP])."""

Document = list[list[int]]
"""One document: its lines, each a list of token ids without special tokens."""


class ExampleBuilder:
    """Stateful packer; its random draws come only from the ``rng`` it is given."""

    def __init__(
        self,
        max_seq_len: int,
        short_seq_prob: float,
        single_segment_prob: float,
        rng: np.random.Generator,
        special: SpecialIds,
    ) -> None:
        if max_seq_len < MIN_TARGET_LEN:
            raise ValueError(f"max_seq_len must be >= {MIN_TARGET_LEN}, got {max_seq_len}")
        self.max_seq_len = max_seq_len
        self.short_seq_prob = short_seq_prob
        self.single_segment_prob = single_segment_prob
        self.rng = rng
        self.special = special
        self.truncated_tokens = 0
        """Content tokens dropped because they did not fit an example."""
        self._target = max_seq_len

    def examples(self, documents: Iterable[Document]) -> Iterator[np.ndarray]:
        """Yield the examples of ``documents`` in order."""
        for document in documents:
            lines: list[list[int]] = []
            length = 0
            for line in document:
                while line:
                    room = self._target - 3 - length  # content left in a two-segment example
                    lines.append(line[:room])
                    length += len(lines[-1])
                    line = line[room:]  # the rest of an overflowing line opens the next example
                    if length >= self._target - 3:
                        yield self._flush(lines)
                        lines, length = [], 0
            if lines:
                yield self._flush(lines)

    def _flush(self, lines: list[list[int]]) -> np.ndarray:
        """Turn the accumulated lines into one example and draw the next target length."""
        target = self._target
        total = sum(len(line) for line in lines)
        single = self.rng.random() < self.single_segment_prob or total < 2
        if single:
            first = [token for line in lines for token in line]
            second: list[int] = []
            first = self._cut(first, target - 2)
        else:
            first, second = self._split(lines, target - 3)
            keep_first, keep_second = _fit_pair(len(first), len(second), target - 3)
            first = self._cut(first, keep_first)
            second = self._cut(second, keep_second)
        self._target = self._next_target()
        return self._assemble(first, second)

    def _split(self, lines: list[list[int]], budget: int) -> tuple[list[int], list[int]]:
        """A/B at a random line boundary, or at a random token boundary of a single line
        (which is first cut to ``budget``, so A and B stay one contiguous span)."""
        if len(lines) == 1:
            tokens = self._cut(lines[0], budget)
            cut = int(self.rng.integers(1, len(tokens)))
            return tokens[:cut], tokens[cut:]
        cut = int(self.rng.integers(1, len(lines)))
        first = [token for line in lines[:cut] for token in line]
        second = [token for line in lines[cut:] for token in line]
        return first, second

    def _next_target(self) -> int:
        if self.rng.random() < self.short_seq_prob:
            return int(self.rng.integers(MIN_TARGET_LEN, self.max_seq_len + 1))
        return self.max_seq_len

    def _cut(self, tokens: list[int], keep: int) -> list[int]:
        if len(tokens) > keep:
            self.truncated_tokens += len(tokens) - keep
            return tokens[:keep]
        return tokens

    def _assemble(self, first: list[int], second: list[int]) -> np.ndarray:
        ids = [self.special.cls, *first, self.special.sep]
        if second:
            ids += [*second, self.special.sep]
        return np.asarray(ids, dtype=np.int64)


def _fit_pair(len_a: int, len_b: int, budget: int) -> tuple[int, int]:
    """How many tokens of A and B to keep so that they fit ``budget``, the longer cut first."""
    if len_a + len_b <= budget:
        return len_a, len_b
    half = budget // 2
    if len_a <= half:
        return len_a, budget - len_a
    if len_b <= budget - half:
        return budget - len_b, len_b
    return budget - half, half  # both long: A gets the odd token
