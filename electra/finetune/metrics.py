"""Evaluation metrics for the fine-tuning tasks: GLUE classification and regression, token tagging
(entity spans or plain per-token labels) and SQuAD-style extractive question answering.

Choices:

* Every score is a fraction in [0, 1] (SQuAD exact match and F1 included, not percent), returned
  as a plain Python ``float`` in a ``dict`` so that results serialise to JSON as they are.
* Classification and regression scores come from scikit-learn and scipy. Binary F1 is the F1 of
  class 1 (the GLUE convention for MRPC and QQP); with more classes it is the macro F1 over the
  classes that occur in the labels or the predictions. Undefined ratios count as 0 (no warnings).
* A constant label or prediction vector leaves Pearson and Spearman correlation undefined; they
  are reported as 0.0 rather than ``nan``.
* Entity spans are scored with seqeval: IOB2 tags in its default (conlleval-compatible) mode,
  IOBES tags in strict mode. Labels without a span scheme (POS tags, ...) get token accuracy only.
* SQuAD answers are compared after the usual normalisation (lower case, no punctuation, no
  articles, single spaces). A question with no gold answer is unanswerable: only the empty
  prediction is right for it.
* SQuAD 2.0 no-answer threshold: a question is answered with the empty string when its null
  margin (no-answer score minus best-span score) is above the threshold. The tuned threshold is the
  one with the best F1; among equally good ones, the largest wins (the fewest no-answer
  predictions), ``-inf`` meaning "always no answer".

Bad input (lengths that differ, missing question ids, unknown schemes) raises ``ElectraError``.
"""

from __future__ import annotations

import math
import re
import string
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy import stats
from seqeval import metrics as seqeval_metrics
from seqeval.scheme import IOBES
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, mean_squared_error

from electra.errors import ElectraError

# ---------------------------------------------------------------------------------------------
# Classification and regression (GLUE)
# ---------------------------------------------------------------------------------------------

UNSEEN = -1
"""Gold class id of a label absent from training: the model never predicts it, so it is an error."""


def classification_metrics(labels: Sequence[int], preds: Sequence[int], num_labels: int) -> dict[str, float]:
    """Accuracy, F1 (class 1 if binary, else macro) and Matthews correlation of class ids; a gold
    ``UNSEEN`` is a class of its own that no prediction matches (left out of the F1 average)."""
    _check_same_length(labels, preds, "labels", "predictions")
    if num_labels < 2:
        raise ElectraError(f"classification needs at least 2 labels, got num_labels={num_labels}")
    for name, values, allowed in (("label", labels, {UNSEEN}), ("prediction", preds, set())):
        bad = [v for v in values if not 0 <= v < num_labels and v not in allowed]
        if bad:
            raise ElectraError(f"{name} {bad[0]} is outside the class range [0, {num_labels})")
    if num_labels == 2:
        f1 = f1_score(labels, preds, labels=[1], average="macro", zero_division=0)
    else:
        scored = sorted((set(labels) | set(preds)) - {UNSEEN})
        f1 = f1_score(labels, preds, labels=scored, average="macro", zero_division=0)
    return {
        "accuracy": float(accuracy_score(labels, preds)),
        "f1": float(f1),
        "mcc": float(matthews_corrcoef(labels, preds)),
    }


def regression_metrics(labels: Sequence[float], preds: Sequence[float]) -> dict[str, float]:
    """Pearson and Spearman correlation (0.0 when undefined) and mean squared error."""
    _check_same_length(labels, preds, "labels", "predictions")
    if len(labels) < 2:
        raise ElectraError(f"correlations need at least 2 examples, got {len(labels)}")
    y, p = np.asarray(labels, dtype=np.float64), np.asarray(preds, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        pearson = stats.pearsonr(y, p).statistic
        spearman = stats.spearmanr(y, p).statistic
    return {
        "pearson": _nan_to_zero(pearson),
        "spearman": _nan_to_zero(spearman),
        "mse": float(mean_squared_error(y, p)),
    }


def _nan_to_zero(value: float) -> float:
    value = float(value)
    return 0.0 if math.isnan(value) else value


def _check_same_length(a: Sequence, b: Sequence, a_name: str, b_name: str) -> None:
    if len(a) != len(b):
        raise ElectraError(f"{len(a)} {a_name} but {len(b)} {b_name}: they must pair up one to one")
    if len(a) == 0:
        raise ElectraError(f"no {a_name} to score")


# ---------------------------------------------------------------------------------------------
# Token tagging (NER, chunking, POS)
# ---------------------------------------------------------------------------------------------

_IOB2_PREFIXES = {"B", "I"}
_IOBES_PREFIXES = {"B", "I", "E", "S"}


def is_span_scheme(tags: Iterable[str]) -> str | None:
    """The span scheme of a label set: ``"IOB2"``, ``"IOBES"`` or None for plain per-token labels.

    Span labels are ``"O"`` or ``PREFIX-TYPE`` with a non-empty type; the set must hold at least
    one span label. Any E- or S- label makes it IOBES.
    """
    prefixes: set[str] = set()
    for tag in tags:
        if tag == "O":
            continue
        prefix, sep, kind = tag.partition("-")
        if not sep or not kind or prefix not in _IOBES_PREFIXES:
            return None
        prefixes.add(prefix)
    if not prefixes:
        return None
    return "IOB2" if prefixes <= _IOB2_PREFIXES else "IOBES"


def tagging_metrics(gold: list[list[str]], pred: list[list[str]], scheme: str | None) -> dict[str, float]:
    """Token accuracy, plus entity precision/recall/F1 (micro-averaged) for a span scheme. A gold
    tag that is no span tag (one unseen in training, say) is a wrong token and no entity."""
    _check_sentences(gold, pred)
    scores = {"accuracy": _token_accuracy(gold, pred)}
    if scheme is None:
        return scores
    gold = [[tag if is_span_scheme((tag,)) or tag == "O" else "O" for tag in sentence] for sentence in gold]
    if scheme == "IOB2":
        options: dict = {}
    elif scheme == "IOBES":
        options = {"mode": "strict", "scheme": IOBES}
    else:
        raise ElectraError(f"unknown tagging scheme {scheme!r}: expected 'IOB2', 'IOBES' or None")
    for name, score in (
        ("precision", seqeval_metrics.precision_score),
        ("recall", seqeval_metrics.recall_score),
        ("f1", seqeval_metrics.f1_score),
    ):
        scores[name] = float(score(gold, pred, zero_division=0, **options))
    return scores


def _check_sentences(gold: list[list[str]], pred: list[list[str]]) -> None:
    _check_same_length(gold, pred, "gold sentences", "predicted sentences")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ElectraError(f"sentence {i} has {len(g)} gold tags but {len(p)} predicted tags")


def _token_accuracy(gold: list[list[str]], pred: list[list[str]]) -> float:
    total = sum(len(g) for g in gold)
    if total == 0:
        raise ElectraError("no tokens to score: every sentence is empty")
    right = sum(g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
    return right / total


# ---------------------------------------------------------------------------------------------
# Extractive question answering (SQuAD 1.1 / 2.0)
# ---------------------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, strip ASCII punctuation, drop the words a/an/the, then single-space the words."""
    text = text.lower().translate(_DROP_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_exact(pred: str, golds: Sequence[str]) -> float:
    """1.0 if the prediction equals some gold answer after normalisation; no golds = unanswerable."""
    guess = normalize_answer(pred)
    return max(float(guess == normalize_answer(g)) for g in _golds_or_empty(golds))


def answer_f1(pred: str, golds: Sequence[str]) -> float:
    """Best bag-of-words F1 between the prediction and a gold answer; no golds = unanswerable."""
    guess = normalize_answer(pred).split()
    return max(_token_f1(guess, normalize_answer(g).split()) for g in _golds_or_empty(golds))


def _golds_or_empty(golds: Sequence[str]) -> Sequence[str]:
    """An unanswerable question scores as if its only gold answer were the empty string."""
    return golds if len(golds) > 0 else [""]


def _token_f1(guess: list[str], truth: list[str]) -> float:
    if not guess or not truth:
        return float(guess == truth)
    overlap = sum((Counter(guess) & Counter(truth)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(guess), overlap / len(truth)
    return 2 * precision * recall / (precision + recall)


def squad_metrics(preds: Mapping[str, str], golds: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Mean exact match and F1 over the questions in ``golds``, with answerable/unanswerable splits.

    Keys: ``exact``, ``f1``, ``total``, and for each split that has questions
    ``has_ans_*`` / ``no_ans_*`` with the same three fields. Counts are floats.
    """
    _check_questions(golds, preds, "predictions")
    groups = {
        "": list(golds),
        "has_ans_": [q for q in golds if len(golds[q]) > 0],
        "no_ans_": [q for q in golds if len(golds[q]) == 0],
    }
    exact = {q: answer_exact(preds[q], golds[q]) for q in golds}
    f1 = {q: answer_f1(preds[q], golds[q]) for q in golds}
    result: dict[str, float] = {}
    for prefix, qids in groups.items():
        if qids:
            result[f"{prefix}exact"] = sum(exact[q] for q in qids) / len(qids)
            result[f"{prefix}f1"] = sum(f1[q] for q in qids) / len(qids)
            result[f"{prefix}total"] = float(len(qids))
    return result


def _check_questions(golds: Mapping[str, object], other: Mapping[str, object], what: str) -> None:
    if not golds:
        raise ElectraError("no gold questions to score")
    missing = [q for q in golds if q not in other]
    if missing:
        shown = ", ".join(repr(q) for q in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ElectraError(f"{what} miss {len(missing)} question id(s): {shown}{more}")


def apply_null_threshold(
    preds: Mapping[str, str], null_margin: Mapping[str, float], threshold: float
) -> dict[str, str]:
    """Answer "" where the null margin is above ``threshold``, else the best span's text."""
    _check_questions(preds, null_margin, "null margins")
    return {q: "" if null_margin[q] > threshold else text for q, text in preds.items()}


def best_null_threshold(
    preds: Mapping[str, str], null_margin: Mapping[str, float], golds: Mapping[str, Sequence[str]]
) -> tuple[float, float, float]:
    """The no-answer threshold with the best F1 over the questions in ``golds``.

    Returns ``(threshold, f1, exact)``, ``exact`` being the exact match at that threshold. The
    questions are sorted by null margin once; the sweep starts at the largest margin (nothing is
    turned into "no answer") and lowers the threshold past one distinct margin at a time, ending
    at ``-inf`` (everything is "no answer"). A later threshold replaces the best only when its F1
    is strictly higher, so ties go to the largest threshold, i.e. the fewest no-answer predictions.
    """
    _check_questions(golds, preds, "predictions")
    _check_questions(golds, null_margin, "null margins")
    qids = sorted(golds, key=lambda q: null_margin[q], reverse=True)
    f1_answered = {q: answer_f1(preds[q], golds[q]) for q in qids}
    exact_answered = {q: answer_exact(preds[q], golds[q]) for q in qids}
    f1_gain = {q: answer_f1("", golds[q]) - f1_answered[q] for q in qids}
    exact_gain = {q: answer_exact("", golds[q]) - exact_answered[q] for q in qids}

    f1_sum, exact_sum = sum(f1_answered.values()), sum(exact_answered.values())
    best = (float(null_margin[qids[0]]), f1_sum, exact_sum)
    for i, q in enumerate(qids):
        f1_sum += f1_gain[q]
        exact_sum += exact_gain[q]
        if i + 1 < len(qids) and null_margin[qids[i + 1]] == null_margin[q]:
            continue  # a threshold cannot split questions that share a margin
        if f1_sum > best[1] + 1e-9:
            below = float(null_margin[qids[i + 1]]) if i + 1 < len(qids) else -math.inf
            best = (below, f1_sum, exact_sum)
    threshold, f1_total, exact_total = best
    return threshold, f1_total / len(qids), exact_total / len(qids)
