"""Hugging Face hub datasets (``"glue/sst2"``, ``"imdb"``, ``"squad_v2"``) read into splits.

Choices:

- Hugging Face ``datasets`` is optional and imported only by :func:`load_hub_dataset`. Hub
  datasets use their own column names, so a spec's file-layout columns (MRPC's ``#1 String``)
  that the hub dataset lacks fall back to the default column names.
- Hub splits map to ours by :data:`HUB_SPLITS` (MNLI's ``validation_matched`` is the dev split).
- Integer class ids become the hub's class names when the spec has no fixed labels or uses those
  names, else stay digits; a label of -1 (GLUE test rows) means unlabelled.
- Rows are checked as the files of their kind are (the same column choice, labels, tags and
  answer offsets); a split's "path" is ``hf://NAME/SPLIT`` and a row's "line" its 1-based index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from electra.errors import ElectraError
from electra.finetune.examples import QaExample, Split, TaggedExample, TextExample
from electra.finetune.readers.common import family
from electra.finetune.readers.conll import TAG_KEYS, json_sentence
from electra.finetune.readers.squad import located_answer
from electra.finetune.readers.tables import choose_columns, labelled_text, parse_label
from electra.finetune.tasks import DEFAULT_LABEL_COLUMNS, DEFAULT_TEXT_COLUMNS, TaskSpec

HUB_SPLITS = {"train": ("train",), "dev": ("validation_matched", "validation"), "test": ("test_matched", "test")}
"""Our split name -> Hugging Face split names, first present wins (MNLI has ``_matched``)."""


def load_hub_dataset(name: str, spec: TaskSpec) -> dict[str, Split]:
    """Splits of a Hugging Face dataset (``"glue/sst2"``, ``"imdb"``) as ``train``/``dev``/``test``."""
    datasets = _import_datasets()
    try:
        dataset = datasets.load_dataset(*name.split("/", 1))
    except Exception as exc:  # network, unknown name, bad config: all for the user to fix
        raise ElectraError(f"hub dataset '{name}' could not be loaded: {exc}") from exc
    splits: dict[str, Split] = {}
    for ours, theirs in HUB_SPLITS.items():
        hub_split = next((split for split in theirs if split in dataset), None)
        if hub_split is not None:
            path = Path(f"hf://{name}/{hub_split}")
            splits[ours] = Split(path, _HUB_CONVERTERS[family(spec)](path, dataset[hub_split], spec))
    if "train" not in splits:
        raise ElectraError(f"hub dataset '{name}' has no train split (it has {', '.join(dataset)})")
    return splits


def _import_datasets():
    try:
        import datasets
    except ImportError:
        raise ElectraError(
            "reading a Hugging Face hub dataset needs the datasets package: "
            "pip install datasets (local data files never need it)"
        ) from None
    return datasets


def _hub_text_examples(path: Path, rows: Any, spec: TaskSpec) -> list[TextExample]:
    """Rows of a hub split as text examples; a label of -1 (GLUE test rows) means no label."""
    columns = choose_columns(path, rows.column_names, _hub_columns(spec))
    names = _class_names(rows.features, columns.label, spec)
    examples = []
    for index, row in enumerate(rows):
        value = row[columns.label] if columns.label else None
        label = None
        if value is not None and value != -1:
            label = parse_label(path, index + 1, columns.label, value if names is None else names[value], spec)
        examples.append(labelled_text(path, index + 1, index, row, columns, label))
    return examples


def _hub_columns(spec: TaskSpec) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """The spec's columns first, then the defaults: GLUE specs name the columns of the GLUE
    files (MRPC's ``#1 String``, ``Quality``), which the hub's copies rename."""
    texts = ((spec.text_columns,) if spec.text_columns else ()) + DEFAULT_TEXT_COLUMNS
    labels = ((spec.label_column,) if spec.label_column else ()) + DEFAULT_LABEL_COLUMNS
    return texts, labels


def _class_names(features, column: str | None, spec: TaskSpec) -> Sequence[str] | None:
    """Names for integer class ids: the hub's class names when the spec has no fixed labels or
    uses those names (MNLI, QNLI, RTE); None keeps the id as digits ("0"/"1" for binary GLUE)."""
    names = getattr(features.get(column), "names", None) if column else None
    if names is None or spec.kind == "regression":
        return None
    if spec.labels is None or set(names) <= set(spec.labels):
        return list(names)
    return None


def _hub_tagged_examples(path: Path, rows: Any, spec: TaskSpec) -> list[TaggedExample]:
    """``tokens`` and a tag column (``ner_tags`` in CoNLL-2003), tag ids mapped to their names."""
    keys = (spec.label_column,) if spec.label_column else TAG_KEYS
    tag_key = next((key for key in keys if key in rows.column_names), None)
    names = getattr(getattr(rows.features.get(tag_key), "feature", None), "names", None)
    examples = []
    for index, row in enumerate(rows):
        fields = {"tokens": row["tokens"]}
        if tag_key is not None:
            fields[tag_key] = [tag if names is None else names[tag] for tag in row[tag_key]]
        examples.append(json_sentence(path, index + 1, index, fields, tag_key))
    return examples


def _hub_qa_examples(path: Path, rows: Any, spec: TaskSpec) -> list[QaExample]:
    """SQuAD-style rows: ``answers`` is ``{"text": [...], "answer_start": [...]}``; none: impossible."""
    examples = []
    for index, row in enumerate(rows):
        qid, context = str(row["id"]), row["context"]
        where = f"row {index}"
        answers = tuple(
            located_answer(path, where, qid, index + 1, context, {"text": text, "answer_start": start})
            for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"])
        )
        examples.append(QaExample(qid, row["question"], context, answers, not answers, index + 1))
    return examples


_HUB_CONVERTERS: dict[str, Callable[[Path, Any, TaskSpec], list]] = {
    "text": _hub_text_examples,
    "tagging": _hub_tagged_examples,
    "qa": _hub_qa_examples,
}
"""Task family -> converter of a hub split's rows into examples."""
