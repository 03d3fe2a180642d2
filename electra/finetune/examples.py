"""What a fine-tuning file holds once read: one small dataclass per task kind.

Every example remembers the 1-based line of the file it came from, so that later checks
(an unknown label in dev, an answer that is not in its context) can name file and line.
Labels stay as they are written in the file (class names as strings, regression targets as
floats, tags as strings); mapping them to ids is the featurizer's job. ``None`` marks an
unlabelled example (a test file without a label column, input to ``electra predict``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TextExample:
    """One or two text segments with a class name (str), a target (float) or no label."""

    guid: str
    texts: tuple[str, ...]
    label: str | float | None
    line: int


@dataclass(frozen=True)
class TaggedExample:
    """A sentence as words with one tag per word (CoNLL), or no tags."""

    guid: str
    words: tuple[str, ...]
    tags: tuple[str, ...] | None
    line: int


@dataclass(frozen=True)
class Answer:
    text: str
    start: int
    """Character offset of the answer in the context."""


@dataclass(frozen=True)
class QaExample:
    """A SQuAD question. ``answers`` empty and ``is_impossible`` for an unanswerable one."""

    qid: str
    question: str
    context: str
    answers: tuple[Answer, ...]
    is_impossible: bool
    line: int
    """Line of the question's ``id`` in the JSON file (0 when not known)."""

    @property
    def guid(self) -> str:
        return self.qid


Example = TextExample | TaggedExample | QaExample


@dataclass
class Split:
    """The examples of one file and where they came from."""

    path: Path
    examples: list = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        return bool(self.examples) and _has_label(self.examples[0])

    def __len__(self) -> int:
        return len(self.examples)


def _has_label(example: Example) -> bool:
    if isinstance(example, TextExample):
        return example.label is not None
    if isinstance(example, TaggedExample):
        return example.tags is not None
    return True  # a SQuAD question always says whether it has answers
