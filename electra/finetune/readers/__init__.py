"""Reading fine-tuning files into :class:`~electra.finetune.examples.Split` objects.

A data folder holds ``train.*`` and optionally a dev and a test file, found by stem
(:func:`split_files`); each file is read according to the task kind and its extension
(:func:`read_split`):

=====================================================  =========================================
kind                                                   files
=====================================================  =========================================
classification, pair-classification, regression        ``.tsv``/``.txt`` (tabs), ``.csv``, ``.jsonl``
tagging                                                CoNLL (``.conll``/``.txt``/``.tsv``), ``.jsonl``
qa                                                     SQuAD v1.1 / v2.0 ``.json``
=====================================================  =========================================

Hugging Face hub datasets are read by :func:`load_hub_dataset` instead. Each format's choices
are stated in its module:

- :mod:`~electra.finetune.readers.common`: decoding (strict UTF-8, byte-order mark, binary files)
  and line numbering, shared by all formats;
- :mod:`~electra.finetune.readers.tables`: TSV, CSV and JSONL rows of the text kinds;
- :mod:`~electra.finetune.readers.conll`: CoNLL and JSONL tagging files;
- :mod:`~electra.finetune.readers.squad`: SQuAD JSON;
- :mod:`~electra.finetune.readers.hub`: Hugging Face ``datasets`` (optional).

Choices common to all:

- Files are read whole and decoded as strict UTF-8; bad bytes are an error, never guessed at.
- Every error is an :class:`~electra.errors.ElectraError` naming ``FILE:LINE`` where the line is
  known; line numbers match what an editor shows. A file without examples is an error.
- A file without labels is read as unlabelled; whether a labelled file was needed is the
  caller's check (``Split.labelled``).
- A label set (:func:`label_set`) is ``spec.labels``, else the labels a split holds, sorted;
  :func:`check_known_labels` refuses a split holding labels outside it, :func:`unseen_labels`
  counts them.
- Inputs to predict (:func:`read_inputs`) may also be plain text: a ``.txt`` file of a text kind
  whose first line does not name text columns holds one example a line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from electra.errors import ElectraError
from electra.finetune.examples import Split, TaggedExample, TextExample
from electra.finetune.readers import conll, squad, tables
from electra.finetune.readers.common import FileReader, at, family, read_text
from electra.finetune.readers.hub import load_hub_dataset
from electra.finetune.tasks import TaskSpec

__all__ = [
    "check_known_labels",
    "label_set",
    "load_hub_dataset",
    "read_inputs",
    "read_split",
    "split_files",
    "unseen_labels",
]

SUFFIXES = (".tsv", ".csv", ".jsonl", ".json", ".conll", ".txt")
"""Extensions :func:`split_files` considers."""


# ---------------------------------------------------------------------------------------------
# Finding the files of a data folder
# ---------------------------------------------------------------------------------------------


def split_files(folder: Path, spec: TaskSpec) -> dict[str, Path]:
    """``{"train": ..., "dev": ..., "test": ...}`` for a data folder (dev and test optional).

    Files are matched by stem: ``train``, then the first of ``spec.dev_file_names`` and of
    ``spec.test_file_names`` present. A file given instead of a folder is the train file.
    """
    folder = Path(folder)
    if folder.is_file():
        return {"train": folder}
    if not folder.is_dir():
        raise ElectraError(f"{folder}: data folder not found")
    by_stem = _candidates(folder, (*spec.train_file_names, *spec.dev_file_names, *spec.test_file_names))
    train = next((name for name in spec.train_file_names if name in by_stem), None)
    if train is None:
        raise ElectraError(f"{folder}: no train file (train{'/'.join(SUFFIXES)}); {_contents(folder)}")
    found = {"train": by_stem[train]}
    for split, names in (("dev", spec.dev_file_names), ("test", spec.test_file_names)):
        stem = next((name for name in names if name in by_stem), None)
        if stem is not None:
            found[split] = by_stem[stem]
    return found


def _candidates(folder: Path, stems: Iterable[str]) -> dict[str, Path]:
    """The readable files of ``folder`` whose stem is one of ``stems``; two per stem is an error."""
    wanted = set(stems)
    by_stem: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not (path.is_file() and path.suffix.lower() in SUFFIXES and path.stem in wanted):
            continue
        if path.stem in by_stem:
            raise ElectraError(
                f"{folder}: both {by_stem[path.stem].name} and {path.name} could be the "
                f"'{path.stem}' file; remove or rename one"
            )
        by_stem[path.stem] = path
    return by_stem


def _contents(folder: Path, shown: int = 20) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    if not names:
        return "the folder is empty"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"the folder holds: {', '.join(names[:shown])}{more}"


# ---------------------------------------------------------------------------------------------
# Reading one file
# ---------------------------------------------------------------------------------------------

_READERS: dict[str, dict[str, FileReader]] = {
    "text": tables.READERS,
    "tagging": conll.READERS,
    "qa": squad.READERS,
}
"""Task family -> file extension -> reader of the decoded text."""


def read_split(path: Path, spec: TaskSpec) -> Split:
    """All examples of one file, read as ``spec.kind`` and the file's extension dictate."""
    path = Path(path)
    readers = _READERS[family(spec)]
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise ElectraError(
            f"{path}: a {spec.kind} task reads {', '.join(readers)} files, not '{path.suffix or path.name}'"
        )
    if not path.is_file():
        raise ElectraError(f"{path}: file not found")
    examples = reader(path, read_text(path), spec)
    if not examples:
        raise ElectraError(f"{path}: no examples")
    return Split(path, examples)


def read_inputs(path: Path, spec: TaskSpec) -> Split:
    """What ``predict`` reads: :func:`read_split`'s files, and plain text (one example a line) in a
    ``.txt`` file of a text kind whose first line does not name the text columns."""
    path = Path(path)
    if family(spec) != "text" or path.suffix.lower() != ".txt" or not path.is_file():
        return read_split(path, spec)
    text = read_text(path)
    if tables.has_header(text, spec):
        return read_split(path, spec)
    examples = tables.read_plain(path, text, spec)
    if not examples:
        raise ElectraError(f"{path}: no examples")
    return Split(path, examples)


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------


def label_set(split: Split, spec: TaskSpec) -> tuple[str, ...]:
    """The classes (or tags) a model predicts: ``spec.labels``, else those of ``split`` sorted
    (numerically when all are integers; ``"O"`` first among tags)."""
    if not (spec.is_classification or spec.kind == "tagging"):
        raise ElectraError(f"a {spec.kind} task has no label set")
    if spec.labels:
        return tuple(spec.labels)
    distinct = set(_labels_of(split))
    found = sorted(distinct, key=_label_key(distinct))
    if not found:
        raise ElectraError(f"{split.path}: no labels to learn the classes from")
    if "O" in found:
        found.remove("O")
        found.insert(0, "O")
    return tuple(found)


def check_known_labels(split: Split, labels: Sequence[str]) -> None:
    """Every class name and tag in ``split`` must be one of ``labels``."""
    known = set(labels)
    for example in split.examples:
        for label in _example_labels(example):
            if label not in known:
                shown = ", ".join(labels[:30]) + (", ..." if len(labels) > 30 else "")
                raise ElectraError(
                    f"{at(split.path, example.line)}: label '{label}' does not occur "
                    f"in the training data (known: {shown})"
                )


def unseen_labels(split: Split, labels: Sequence[str]) -> tuple[dict[str, list[int]], int]:
    """Each class name or tag of ``split`` outside ``labels`` with the line of every occurrence
    (an example's first line), most frequent first; and how many labels (classes, or tags: one a
    word) the split holds in all."""
    known, total = set(labels), 0
    unseen: dict[str, list[int]] = {}
    for example in split.examples:
        found = _example_labels(example)
        total += len(found)
        for label in found:
            if label not in known:
                unseen.setdefault(label, []).append(example.line)
    return dict(sorted(unseen.items(), key=lambda item: -len(item[1]))), total


def _labels_of(split: Split) -> Iterator[str]:
    for example in split.examples:
        yield from _example_labels(example)


def _example_labels(example: object) -> tuple[str, ...]:
    """The class name or tags of an example; nothing for regression targets and questions."""
    if isinstance(example, TextExample) and isinstance(example.label, str):
        return (example.label,)
    if isinstance(example, TaggedExample) and example.tags is not None:
        return example.tags
    return ()


def _label_key(labels: Iterable[str]) -> Callable[[str], object]:
    """Sort integers as numbers ("2" < "10") when every label is one, else as text."""
    if all(re.fullmatch(r"[+-]?\d+", label) for label in labels):
        return int
    return str
