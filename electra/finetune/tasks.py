"""Task kinds and the GLUE tasks known by name: which columns to read and what to measure.

A task is either one of the five kinds (``classification``, ``pair-classification``,
``regression``, ``tagging``, ``qa``), read from files whose columns the user names or that
follow the common defaults, or a GLUE task name whose official file layout is known, so
``--task sst2 --data glue/SST-2`` works on the downloaded files as they are.

The metric used to keep the best epoch (``main_metric``) follows the GLUE leaderboard: MCC
for CoLA, Pearson for STS-B, F1 for MRPC and QQP, accuracy elsewhere; entity F1 for span
tagging, token accuracy for per-token tagging, F1 for QA.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from electra.errors import ElectraError

KINDS = ("classification", "pair-classification", "regression", "tagging", "qa")

DEFAULT_TEXT_COLUMNS = (
    ("sentence1", "sentence2"),
    ("question", "sentence"),
    ("question1", "question2"),
    ("premise", "hypothesis"),
    ("sentence",),
    ("text",),
)
"""Tried in order when ``--text-columns`` is not given: the first set a file has is used."""

DEFAULT_LABEL_COLUMNS = ("label", "score", "gold_label", "labels")


@dataclass(frozen=True)
class TaskSpec:
    """How to read one task's files and how to judge predictions on it."""

    name: str
    kind: str
    text_columns: tuple[str, ...] | None = None
    """Column names of the text segments; None: the first of DEFAULT_TEXT_COLUMNS present."""
    label_column: str | None = None
    """Column name of the label; None: the first of DEFAULT_LABEL_COLUMNS present."""
    headerless_columns: tuple[str, ...] | None = None
    """Column names for files that have no header line (CoLA's train/dev)."""
    labels: tuple[str, ...] | None = None
    """The fixed label set (GLUE); None: the classes found in the training file."""
    token_column: int = 0
    """CoNLL: index of the word column."""
    tag_column: int = -1
    """CoNLL: index of the tag column (-1: the last one, the NER tag in CoNLL-2003)."""
    epochs: int = 3
    main_metric: str = "accuracy"
    train_file_names: tuple[str, ...] = ("train",)
    dev_file_names: tuple[str, ...] = ("dev", "validation", "valid", "val")
    test_file_names: tuple[str, ...] = ("test",)

    @property
    def is_classification(self) -> bool:
        return self.kind in ("classification", "pair-classification")

    def with_columns(
        self,
        text_columns: tuple[str, ...] | None = None,
        label_column: str | None = None,
        token_column: int | None = None,
        tag_column: int | None = None,
    ) -> TaskSpec:
        """The spec with user-given columns (None keeps what the spec has)."""
        return dataclasses.replace(
            self,
            text_columns=text_columns or self.text_columns,
            label_column=label_column or self.label_column,
            token_column=self.token_column if token_column is None else token_column,
            tag_column=self.tag_column if tag_column is None else tag_column,
        )


BINARY = ("0", "1")
ENTAILMENT = ("entailment", "not_entailment")

GLUE: dict[str, TaskSpec] = {
    "cola": TaskSpec(
        "cola",
        "classification",
        ("sentence",),
        "label",
        labels=BINARY,
        main_metric="mcc",
        headerless_columns=("source", "label", "original_label", "sentence"),
    ),
    "sst2": TaskSpec("sst2", "classification", ("sentence",), "label", labels=BINARY),
    "mrpc": TaskSpec(
        "mrpc", "pair-classification", ("#1 String", "#2 String"), "Quality", labels=BINARY, main_metric="f1"
    ),
    "qqp": TaskSpec(
        "qqp", "pair-classification", ("question1", "question2"), "is_duplicate", labels=BINARY, main_metric="f1"
    ),
    "stsb": TaskSpec("stsb", "regression", ("sentence1", "sentence2"), "score", epochs=10, main_metric="pearson"),
    "mnli": TaskSpec(
        "mnli",
        "pair-classification",
        ("sentence1", "sentence2"),
        "gold_label",
        labels=("contradiction", "entailment", "neutral"),
        dev_file_names=("dev_matched", "dev"),
        test_file_names=("test_matched", "test"),
    ),
    "qnli": TaskSpec("qnli", "pair-classification", ("question", "sentence"), "label", labels=ENTAILMENT),
    "rte": TaskSpec("rte", "pair-classification", ("sentence1", "sentence2"), "label", labels=ENTAILMENT, epochs=10),
}

KIND_DEFAULTS: dict[str, TaskSpec] = {
    "classification": TaskSpec("classification", "classification"),
    "pair-classification": TaskSpec("pair-classification", "pair-classification"),
    "regression": TaskSpec("regression", "regression", epochs=10, main_metric="pearson"),
    # tagging sets are small (WNUT-16: 1.8k sentences, CoNLL-2003: 14k) and entities rare: 10 epochs,
    # as the paper gives its small GLUE tasks; at 3 a tiny model still tags everything "O"
    "tagging": TaskSpec("tagging", "tagging", epochs=10, main_metric="f1"),
    "qa": TaskSpec(
        "qa",
        "qa",
        epochs=2,
        main_metric="f1",  # the official SQuAD file names too
        train_file_names=("train", "train-v2.0", "train-v1.1"),
        dev_file_names=("dev", "dev-v2.0", "dev-v1.1", "validation"),
    ),
}

ALIASES = {"sst-2": "sst2", "sts-b": "stsb", "mnli-m": "mnli"}


def resolve_task(name: str) -> TaskSpec:
    """A GLUE name (any case, SST-2 style accepted) or a task kind -> its spec."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key in GLUE:
        return GLUE[key]
    if key in KIND_DEFAULTS:
        return KIND_DEFAULTS[key]
    raise ElectraError(f"unknown task '{name}': use a kind ({', '.join(KINDS)}) or a GLUE task ({', '.join(GLUE)})")
