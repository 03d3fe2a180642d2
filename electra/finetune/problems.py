"""The four task kinds as small strategy objects: model, inputs, loss, scores, predictions.

A :class:`Problem` knows what its kind needs beyond the shared training loop: which head to
build, how to turn a :class:`Split` into :class:`Features`, the loss, how to score outputs
against the gold labels and how to write predictions. Everything it learns from the training
data (the label set, the tagging scheme, the SQuAD 2.0 no-answer threshold) is in
:meth:`Problem.state`, which is saved with the fine-tuned model so that ``evaluate`` and
``predict`` rebuild the same problem without the training file.

A dev, test or evaluation file may hold labels the training file lacks (a rare POS tag, say):
the model can never predict them, so they are scored as errors after one warning with their
counts (:func:`report_unseen`). Against a fixed label set (GLUE) such a label is an error.
"""

from __future__ import annotations

import math
import sys
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from electra.config import FinetuneConfig, ModelConfig
from electra.errors import ElectraError
from electra.finetune import metrics
from electra.finetune.examples import Split
from electra.finetune.featurize import IGNORE, Features, encode_qa, encode_tagged, encode_texts
from electra.finetune.qa import best_spans
from electra.finetune.readers import check_known_labels, label_set, unseen_labels
from electra.finetune.tasks import TaskSpec
from electra.model.heads import SequenceClassifier, SpanExtractor, TaskModel, TokenClassifier
from electra.tokenizer import special_ids

NEVER = 1e30
"""A no-answer threshold no margin exceeds (SQuAD 1.1 style data: always answer)."""


def report_unseen(split: Split, labels: tuple[str, ...], fixed: bool, what: str) -> None:
    """Warn once (stderr) about the labels of ``split`` outside ``labels``, with their counts; they
    stay in the split and count as errors. Refused instead: any, against a fixed label set (the
    file is not that task's), and a split none of whose labels is known (the wrong column)."""
    if fixed:
        check_known_labels(split, labels)
        return
    unseen, total = unseen_labels(split, labels)
    if not unseen:
        return
    counts = ", ".join(f"'{label}' {len(lines)}× from line {lines[0]}" for label, lines in unseen.items())
    missing = sum(len(lines) for lines in unseen.values())
    if missing == total:
        shown = ", ".join(labels[:30]) + (", ..." if len(labels) > 30 else "")
        raise ElectraError(
            f"{split.path}: none of its {what}s occurs in the training data ({counts}; known: "
            f"{shown}); is it the same task's file, with the {what} column chosen right?"
        )
    print(
        f"warning: {split.path}: {missing} of {total} {what}s never occur in the training data ({counts}); "
        f"the model cannot predict them, so they are scored as errors",
        file=sys.stderr,
    )


@dataclass
class Problem(ABC):
    """Base: the task spec, the settings, the tokenizer; subclasses fill in the kind."""

    spec: TaskSpec
    settings: FinetuneConfig
    tokenizer: Tokenizer

    default_max_len = 128

    @property
    def max_len(self) -> int:
        return self.settings.max_seq_length or self.default_max_len

    def fit_labels(self, train: Split, others: list[Split]) -> None:
        """Learn what the training data defines (labels, scheme); check the other splits."""

    def check_labels(self, split: Split) -> None:
        """Every label in ``split`` must be one the model knows (file:line named otherwise)."""

    def state(self) -> dict:
        return {}

    def load_state(self, state: dict) -> None:
        pass

    def main_metric(self) -> str:
        return self.spec.main_metric

    @abstractmethod
    def build_model(self, cfg: ModelConfig) -> TaskModel:
        """The encoder with this kind's head."""

    @abstractmethod
    def featurize(self, split: Split) -> Features:
        """Model inputs (and targets, for labelled splits) of a split."""

    @abstractmethod
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Training loss of a batch's outputs."""

    @abstractmethod
    def score(self, split: Split, features: Features, outputs: list[np.ndarray], tune: bool) -> dict[str, float]:
        """Metrics of outputs against the split's labels; ``tune`` lets dev set decision thresholds."""

    @abstractmethod
    def predictions(self, split: Split, features: Features, outputs: list[np.ndarray]):
        """What ``electra predict`` writes: JSON rows, or one JSON object."""

    def hf_config(self) -> dict:
        """``transformers`` config fields of the task head."""
        return {}

    @abstractmethod
    def baseline(self, train: Split, split: Split) -> tuple[str, dict[str, float]]:
        """The trivial predictor a model must beat (majority class, train mean, all 'O', always
        no answer): its description and its scores on ``split``."""

    def token_level(self) -> bool:
        """Whether outputs are per token (kept unpadded per input) or per input."""
        return True


# ---------------------------------------------------------------- sentences and pairs


@dataclass
class SentenceProblem(Problem):
    """Classification of a sentence or a sentence pair, or regression (one output)."""

    labels: tuple[str, ...] = ()

    @property
    def regression(self) -> bool:
        return self.spec.kind == "regression"

    def fit_labels(self, train: Split, others: list[Split]) -> None:
        if self.regression:
            return
        self.labels = label_set(train, self.spec)
        if len(self.labels) < 2:
            raise ElectraError(f"{train.path}: classification needs at least 2 classes, found {list(self.labels)}")
        if self.spec.labels:
            check_known_labels(train, self.labels)
        for split in others:
            self.check_labels(split)

    def check_labels(self, split: Split) -> None:
        if not self.regression and split.labelled:
            report_unseen(split, self.labels, bool(self.spec.labels), "label")

    def state(self) -> dict:
        return {"labels": list(self.labels)}

    def load_state(self, state: dict) -> None:
        self.labels = tuple(state.get("labels", ()))

    def build_model(self, cfg: ModelConfig) -> TaskModel:
        return SequenceClassifier(
            cfg, 1 if self.regression else len(self.labels), self.settings.classifier_dropout, self.settings.head
        )

    def featurize(self, split: Split) -> Features:
        label_ids = None if self.regression else {label: i for i, label in enumerate(self.labels)}
        return encode_texts(split.examples, self.tokenizer, self.max_len, label_ids)

    def token_level(self) -> bool:
        return False

    def loss(self, outputs, targets):
        if self.regression:
            return F.mse_loss(outputs.squeeze(-1).float(), targets)
        return F.cross_entropy(outputs.float(), targets)

    def score(self, split, features, outputs, tune):
        preds = np.stack(outputs)
        if self.regression:
            return metrics.regression_metrics(features.targets, preds[:, 0].tolist())
        return metrics.classification_metrics(features.targets, preds.argmax(-1).tolist(), len(self.labels))

    def predictions(self, split, features, outputs):
        rows = []
        for ex, out in zip(split.examples, outputs):
            if self.regression:
                rows.append({"guid": ex.guid, "score": float(out[0])})
            else:
                probs = torch.softmax(torch.from_numpy(out).float(), -1).tolist()
                rows.append(
                    {
                        "guid": ex.guid,
                        "label": self.labels[int(np.argmax(out))],
                        "probabilities": dict(zip(self.labels, probs)),
                    }
                )
        return rows

    def baseline(self, train, split):
        if self.regression:
            mean = float(np.mean([ex.label for ex in train.examples]))
            gold = [float(ex.label) for ex in split.examples]
            return f"always {mean:.4g} (train mean)", metrics.regression_metrics(gold, [mean] * len(gold))
        majority = Counter(ex.label for ex in train.examples).most_common(1)[0][0]
        ids = {label: i for i, label in enumerate(self.labels)}
        gold = [ids.get(ex.label, metrics.UNSEEN) for ex in split.examples]
        return (
            f"always '{majority}' (majority class)",
            metrics.classification_metrics(gold, [ids[majority]] * len(gold), len(self.labels)),
        )

    def hf_config(self) -> dict:
        if self.regression:
            return {
                "num_labels": 1,
                "problem_type": "regression",
                "id2label": {0: "LABEL_0"},
                "label2id": {"LABEL_0": 0},
            }
        return {
            "num_labels": len(self.labels),
            "problem_type": "single_label_classification",
            "id2label": dict(enumerate(self.labels)),
            "label2id": {label: i for i, label in enumerate(self.labels)},
        }


# ---------------------------------------------------------------- tagging


@dataclass
class TaggingProblem(Problem):
    """One label per word, predicted at its first sub-token; span F1 or token accuracy."""

    labels: tuple[str, ...] = ()
    scheme: str | None = None
    """'IOB2' / 'IOBES' (entity spans) or None (plain per-token labels)."""
    scheme_override: str = "auto"

    default_max_len = 256

    def fit_labels(self, train: Split, others: list[Split]) -> None:
        self.labels = label_set(train, self.spec)
        for split in others:
            self.check_labels(split)
        detected = metrics.is_span_scheme(self.labels)
        if self.scheme_override == "span" and detected is None:
            raise ElectraError(
                f"{train.path}: --tagging-scheme span, but the tags {list(self.labels)[:8]} are not BIO / BIOES tags"
            )
        self.scheme = None if self.scheme_override == "token" else detected

    def state(self) -> dict:
        return {"labels": list(self.labels), "scheme": self.scheme}

    def load_state(self, state: dict) -> None:
        self.labels, self.scheme = tuple(state["labels"]), state.get("scheme")

    def check_labels(self, split: Split) -> None:
        if split.labelled:
            report_unseen(split, self.labels, bool(self.spec.labels), "tag")

    def main_metric(self) -> str:
        return "f1" if self.scheme else "accuracy"

    def build_model(self, cfg):
        return TokenClassifier(cfg, len(self.labels), self.settings.classifier_dropout)

    def featurize(self, split):
        return encode_tagged(
            split.examples, self.tokenizer, self.max_len, {label: i for i, label in enumerate(self.labels)}
        )

    def loss(self, outputs, targets):
        return F.cross_entropy(outputs.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE)

    def word_tags(self, features, outputs) -> list[list[str]]:
        """Predicted tag per word; a word the model never saw (truncated) gets 'O' / the first label."""
        fallback = "O" if "O" in self.labels else self.labels[0]
        tags = []
        for starts, out in zip(features.word_starts, outputs):
            best = out.argmax(-1)
            tags.append([self.labels[int(best[pos])] if pos >= 0 else fallback for pos in starts])
        return tags

    def score(self, split, features, outputs, tune):
        gold = [list(ex.tags) for ex in split.examples]
        return metrics.tagging_metrics(gold, self.word_tags(features, outputs), self.scheme)

    def predictions(self, split, features, outputs):
        return [
            {"guid": ex.guid, "words": list(ex.words), "tags": tags}
            for ex, tags in zip(split.examples, self.word_tags(features, outputs))
        ]

    def baseline(self, train, split):
        common = Counter(tag for ex in train.examples for tag in ex.tags).most_common(1)[0][0]
        gold = [list(ex.tags) for ex in split.examples]
        return f"always '{common}'", metrics.tagging_metrics(gold, [[common] * len(g) for g in gold], self.scheme)

    def hf_config(self):
        return {
            "num_labels": len(self.labels),
            "id2label": dict(enumerate(self.labels)),
            "label2id": {label: i for i, label in enumerate(self.labels)},
        }


# ---------------------------------------------------------------- extractive QA


@dataclass
class QaProblem(Problem):
    """SQuAD-style span extraction; with unanswerable questions, a tuned no-answer threshold."""

    with_null: bool = False
    """Whether the training data has unanswerable questions (SQuAD 2.0 style)."""
    null_threshold: float = NEVER

    default_max_len = 384

    def fit_labels(self, train, others):
        self.with_null = any(ex.is_impossible for ex in train.examples)

    def state(self):
        return {"with_null": self.with_null, "null_threshold": self.null_threshold}

    def load_state(self, state):
        self.with_null, self.null_threshold = state["with_null"], state["null_threshold"]

    def build_model(self, cfg):
        return SpanExtractor(cfg)

    def featurize(self, split):
        s = self.settings
        return encode_qa(
            split.examples,
            self.tokenizer,
            special_ids(self.tokenizer),
            self.max_len,
            s.max_query_length,
            s.doc_stride,
            with_targets=split.labelled,
        )

    def loss(self, outputs, targets):
        logits = outputs.float()  # (B, T, 2)
        return (F.cross_entropy(logits[..., 0], targets[:, 0]) + F.cross_entropy(logits[..., 1], targets[:, 1])) / 2

    def answers(self, split, features, outputs):
        return best_spans(split.examples, features, outputs, self.settings.n_best, self.settings.max_answer_length)

    def score(self, split, features, outputs, tune):
        answers, margins = self.answers(split, features, outputs)
        golds = {ex.qid: [a.text for a in ex.answers] for ex in split.examples}
        if self.with_null and tune:
            threshold, _, _ = metrics.best_null_threshold(answers, margins, golds)
            self.null_threshold = max(threshold, -NEVER)
        result = metrics.squad_metrics(metrics.apply_null_threshold(answers, margins, self.null_threshold), golds)
        result["null_threshold"] = self.null_threshold
        return result

    def predictions(self, split, features, outputs):
        answers, margins = self.answers(split, features, outputs)
        final = metrics.apply_null_threshold(answers, margins, self.null_threshold)
        return {"answers": final, "null_margins": {k: (v if math.isfinite(v) else None) for k, v in margins.items()}}

    def baseline(self, train, split):
        golds = {ex.qid: [a.text for a in ex.answers] for ex in split.examples}
        return "always no answer", metrics.squad_metrics({qid: "" for qid in golds}, golds)

    def hf_config(self):
        return {"num_labels": 2}


PROBLEMS: dict[str, type[Problem]] = {
    "classification": SentenceProblem,
    "pair-classification": SentenceProblem,
    "regression": SentenceProblem,
    "tagging": TaggingProblem,
    "qa": QaProblem,
}


def make_problem(
    spec: TaskSpec, settings: FinetuneConfig, tokenizer: Tokenizer, tagging_scheme: str = "auto"
) -> Problem:
    problem = PROBLEMS[spec.kind](spec, settings, tokenizer)
    if isinstance(problem, TaggingProblem):
        problem.scheme_override = tagging_scheme
    return problem
