"""From start/end logits over context windows to one answer (or none) per question.

For each question, every window proposes its ``n_best`` highest start and end positions inside
the context; a pair is a candidate span when the end is not before the start and the span is
at most ``max_answer_length`` tokens. A span's score is start logit + end logit; the best over
all windows wins and its text is cut from the original context by character offsets, widened to
whole words (so the answer keeps the context's case and spacing, and never ends mid-word).

"No answer" scores start[CLS] + end[CLS]; each question's *null margin* is the smallest such
score over its windows minus the best span's score (BERT's SQuAD 2.0 rule). Whether a margin
means "no answer" is decided by a threshold tuned on dev (``metrics.best_null_threshold``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from electra.finetune.examples import QaExample
from electra.finetune.featurize import QaFeatures


def best_spans(
    examples: Sequence[QaExample], features: QaFeatures, logits: np.ndarray | list, n_best: int, max_answer_length: int
) -> tuple[dict[str, str], dict[str, float]]:
    """Best non-null answer text and null margin per question id.

    ``logits[i]`` is window i's (T_i, 2) array of start and end logits (padding excluded).
    A question whose windows hold no valid span gets "" and a margin of +inf.
    """
    best: dict[int, tuple[float, str]] = {}
    null: dict[int, float] = {}
    for window, index in enumerate(features.example_index):
        start_logits, end_logits = logits[window][:, 0], logits[window][:, 1]
        null[index] = min(null.get(index, np.inf), float(start_logits[0] + end_logits[0]))
        candidate = best_span_in_window(start_logits, end_logits, features.offsets[window], n_best, max_answer_length)
        if candidate is not None and (index not in best or candidate[0] > best[index][0]):
            score, (first, last) = candidate
            best[index] = (score, whole_words(examples[index].context, first, last))
    answers, margins = {}, {}
    for index, ex in enumerate(examples):
        score, text = best.get(index, (-np.inf, ""))
        answers[ex.qid] = text
        margins[ex.qid] = float(null.get(index, np.inf) - score)
    return answers, margins


def whole_words(context: str, first: int, last: int) -> str:
    """``context[first:last]`` widened to whole whitespace-separated words.

    A span that starts or ends inside a word ("Rum" of "Rumford") is mapped back to the words
    it touches, as the reference code does by projecting sub-tokens onto the context's words.
    """
    while first > 0 and not context[first - 1].isspace():
        first -= 1
    while last < len(context) and not context[last].isspace():
        last += 1
    return context[first:last].strip()


def best_span_in_window(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: Sequence[tuple[int, int] | None],
    n_best: int,
    max_answer_length: int,
) -> tuple[float, tuple[int, int]] | None:
    """(score, (first char, end char)) of the best valid context span, or None."""
    starts = top_context_positions(start_logits, offsets, n_best)
    ends = top_context_positions(end_logits, offsets, n_best)
    found = None
    for s in starts:
        for e in ends:
            if e < s or e - s + 1 > max_answer_length:
                continue
            score = float(start_logits[s] + end_logits[e])
            if found is None or score > found[0]:
                found = (score, (offsets[s][0], offsets[e][1]))
    return found


def top_context_positions(logits: np.ndarray, offsets: Sequence[tuple[int, int] | None], n: int) -> list[int]:
    """The ``n`` highest-scoring positions that are context tokens."""
    order = np.argsort(-logits[: len(offsets)], kind="stable")
    return [int(i) for i in order if offsets[i] is not None][:n]
