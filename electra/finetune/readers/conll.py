"""Tagging files: CoNLL and JSONL -> :class:`TaggedExample`.

Choices:

- CoNLL (``.conll``/``.txt``/``.tsv``): one token a line, sentences end at blank and
  ``-DOCSTART-`` lines. Columns are split on tabs when a line has any (words may hold spaces),
  else on whitespace. The word and tag are ``spec.token_column`` and ``spec.tag_column``
  (negative counts from the end); the first token line fixes the number of columns for the
  file. A file of one column holds words without tags (unlabelled).
- JSONL: ``{"tokens": [...], "tags": [...]}`` a line; the tag key is the first of
  :data:`TAG_KEYS` in the first line (or ``spec.label_column``), without it the file is
  unlabelled. Integer tags (exported tag ids) are kept as their text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from electra.errors import ElectraError
from electra.finetune.examples import TaggedExample
from electra.finetune.readers.common import FileReader, Row, chain, field_value, json_lines, numbered_lines
from electra.finetune.tasks import TaskSpec

TAG_KEYS = ("tags", "ner_tags", "labels")
"""JSONL tagging: the first of these keys present holds the tags."""


# ---------------------------------------------------------------------------------------------
# CoNLL
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ConllLayout:
    """The column layout of a CoNLL file, fixed by its first token line."""

    width: int
    first_line: int
    token: int
    tag: int | None
    """None: a one-column file of words without tags."""

    def split(self, path: Path, line: int, fields: list[str]) -> tuple[str, str | None]:
        """The word and tag of one token line, checking it against the layout."""
        if self.tag is not None and len(fields) <= max(self.token, self.tag):
            raise ElectraError(f"{path}:{line}: expected a token and a tag column, found {len(fields)} column(s)")
        if len(fields) != self.width:
            raise ElectraError(
                f"{path}:{line}: found {len(fields)} columns, but line {self.first_line} has {self.width}"
            )
        return fields[self.token], None if self.tag is None else fields[self.tag]


def _read_conll(path: Path, text: str, spec: TaskSpec) -> list[TaggedExample]:
    examples: list[TaggedExample] = []
    layout: _ConllLayout | None = None
    for index, sentence in enumerate(_conll_sentences(text)):
        if layout is None:
            layout = _conll_layout(path, *sentence[0], spec)
        tokens = [layout.split(path, line, fields) for line, fields in sentence]
        words = tuple(word for word, _ in tokens)
        tags = None if layout.tag is None else tuple(tag for _, tag in tokens)  # type: ignore[misc]
        examples.append(TaggedExample(str(index), words, tags, sentence[0][0]))
    return examples


def _conll_sentences(text: str) -> Iterator[list[Row]]:
    """Token lines grouped into sentences at blank and ``-DOCSTART-`` lines."""
    sentence: list[Row] = []
    for number, line in numbered_lines(text):
        fields = _conll_fields(line)
        if fields and fields[0] != "-DOCSTART-":
            sentence.append((number, fields))
        elif sentence:
            yield sentence
            sentence = []
    if sentence:
        yield sentence


def _conll_fields(line: str) -> list[str]:
    """Columns split on tabs when the line has any (words may hold spaces), else on whitespace."""
    line = line.strip()
    if not line:
        return []
    return [field.strip() for field in line.split("\t")] if "\t" in line else line.split()


def _conll_layout(path: Path, line: int, fields: list[str], spec: TaskSpec) -> _ConllLayout:
    width = len(fields)
    token = _column_index(spec.token_column, width)
    if width == 1 and token == 0:
        return _ConllLayout(width, line, token, None)
    tag = _column_index(spec.tag_column, width)
    if token is None or tag is None or tag == token:
        raise ElectraError(
            f"{path}:{line}: expected a token and a tag column (columns {spec.token_column} "
            f"and {spec.tag_column}), found {width} column(s)"
        )
    return _ConllLayout(width, line, token, tag)


def _column_index(column: int, width: int) -> int | None:
    """``column`` (negative counts from the end) as an index into ``width`` columns, or None."""
    index = column + width if column < 0 else column
    return index if 0 <= index < width else None


# ---------------------------------------------------------------------------------------------
# JSON lines
# ---------------------------------------------------------------------------------------------


def _read_jsonl(path: Path, text: str, spec: TaskSpec) -> list[TaggedExample]:
    """``{"tokens": [...], "tags": [...]}`` per line; the tag key is the first of TAG_KEYS in the
    first line (or ``spec.label_column``); without it the file is unlabelled."""
    records = json_lines(path, text)
    first = next(records, None)
    if first is None:
        return []
    names = (spec.label_column,) if spec.label_column else TAG_KEYS
    tag_key = next((name for name in names if name in first[1]), None)
    return [
        json_sentence(path, line, index, fields, tag_key) for index, (line, fields) in enumerate(chain(first, records))
    ]


def json_sentence(
    path: Path, line: int, index: int, fields: Mapping[str, object], tag_key: str | None
) -> TaggedExample:
    """A sentence from its ``tokens`` and (unless ``tag_key`` is None) its tags."""
    words = _string_list(path, line, "tokens", field_value(path, line, fields, "tokens"))
    if not words:
        raise ElectraError(f"{path}:{line}: 'tokens' is empty")
    tags = None
    if tag_key is not None:
        tags = _string_list(path, line, tag_key, field_value(path, line, fields, tag_key))
        if len(tags) != len(words):
            raise ElectraError(f"{path}:{line}: {len(words)} tokens but {len(tags)} {tag_key}")
    return TaggedExample(str(index), words, tags, line)


def _string_list(path: Path, line: int, key: str, value: object) -> tuple[str, ...]:
    """A JSON list of strings (integers, such as exported tag ids, are written as text)."""
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise ElectraError(f"{path}:{line}: '{key}' should be a list of strings")
    return tuple(str(v) for v in value)


READERS: dict[str, FileReader] = {
    ".conll": _read_conll,
    ".txt": _read_conll,
    ".tsv": _read_conll,
    ".jsonl": _read_jsonl,
}
"""File extension -> reader of the decoded text."""
