"""Text classification and regression files: TSV, CSV and JSONL rows -> :class:`TextExample`.

Choices:

- TSV (``.tsv``/``.txt``) is split on tabs with no quote processing: GLUE files hold stray ``"``
  characters that a CSV reader would take for quoting. CSV uses standard quoting; a record's line
  is where it starts. Blank lines are skipped.
- Rows must have exactly as many fields as the header. Texts are kept as written, labels stripped.
  A file without the label column is unlabelled (label ``None``): that is what GLUE test files
  look like. Whether a labelled file was needed is the caller's check (``Split.labelled``).
- A headerless file (CoLA) is read with ``spec.headerless_columns`` when its first line does not
  name the text columns.
- JSON labels agree with their text form: ``1``, ``1.0``, ``true`` and ``"1"`` all become ``"1"``.
- Plain text (what ``predict`` also reads, :func:`read_plain`): one example a non-blank line, a
  tab between a pair's two texts; no header, no labels.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from electra.errors import ElectraError
from electra.finetune.examples import TextExample
from electra.finetune.readers.common import FileReader, Record, Row, at, chain, field_value, json_lines, numbered_lines
from electra.finetune.tasks import DEFAULT_LABEL_COLUMNS, DEFAULT_TEXT_COLUMNS, TaskSpec

ID_COLUMNS = ("id", "index", "idx")
"""The first of these columns present gives the example's guid (else its row number)."""


@dataclass(frozen=True)
class Columns:
    """Which fields of a file make an example."""

    texts: tuple[str, ...]
    label: str | None
    """None: the file is unlabelled."""
    guid: str | None
    """None: the guid is the row number."""


def _read_tsv(path: Path, text: str, spec: TaskSpec) -> list[TextExample]:
    rows = ((number, line.split("\t")) for number, line in numbered_lines(text))
    return _table_examples(path, _skip_blank(rows), spec)


def _read_csv(path: Path, text: str, spec: TaskSpec) -> list[TextExample]:
    return _table_examples(path, _skip_blank(_csv_rows(path, text)), spec)


def _csv_rows(path: Path, text: str) -> Iterator[Row]:
    """CSV records with the line each starts on (quoted fields may span lines). Strict mode: a
    quote left open would otherwise swallow the rest of the file into one field."""
    reader = csv.reader(io.StringIO(text, newline="\n"), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ElectraError(f"{path}:{start}: not valid CSV ({exc})") from None
        yield start, fields


def _skip_blank(rows: Iterable[Row]) -> Iterator[Row]:
    return ((number, fields) for number, fields in rows if any(field.strip() for field in fields))


def _table_examples(path: Path, rows: Iterator[Row], spec: TaskSpec) -> list[TextExample]:
    """Examples of a TSV or CSV file: header (or ``spec.headerless_columns``), then one per row."""
    first = next(rows, None)
    if first is None:
        return []
    header = [name.strip() for name in first[1]]
    if spec.headerless_columns and not _looks_like_header(header, spec):
        header = list(spec.headerless_columns)
        rows = chain(first, rows)
    columns = choose_columns(path, header, _file_columns(spec))
    records = (_as_record(path, number, header, fields) for number, fields in rows)
    return [_text_example(path, record, index, columns, spec) for index, record in enumerate(records)]


def _looks_like_header(fields: Sequence[str], spec: TaskSpec) -> bool:
    """True when the first line names the spec's text columns (or a default set of them)."""
    text_candidates, _ = _file_columns(spec)
    return any(all(name in fields for name in names) for names in text_candidates)


def _as_record(path: Path, number: int, header: Sequence[str], fields: Sequence[str]) -> Record:
    if len(fields) != len(header):
        raise ElectraError(f"{path}:{number}: expected {len(header)} columns, found {len(fields)}")
    return number, dict(zip(header, fields))


def _read_jsonl(path: Path, text: str, spec: TaskSpec) -> list[TextExample]:
    records = json_lines(path, text)
    first = next(records, None)
    if first is None:
        return []
    columns = choose_columns(at(path, first[0]), list(first[1]), _file_columns(spec))
    return [_text_example(path, record, index, columns, spec) for index, record in enumerate(chain(first, records))]


def _file_columns(spec: TaskSpec) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """Candidate text-column sets and label columns for files: the spec's, else the defaults."""
    texts = (spec.text_columns,) if spec.text_columns else DEFAULT_TEXT_COLUMNS
    labels = (spec.label_column,) if spec.label_column else DEFAULT_LABEL_COLUMNS
    return texts, labels


def choose_columns(
    source: Path | str, available: Sequence[str], candidates: tuple[Sequence[tuple[str, ...]], Sequence[str]]
) -> Columns:
    """The first text-column set fully present, the first label column present (none: the file
    is unlabelled) and the id column, if any."""
    text_candidates, label_candidates = candidates
    texts = next((names for names in text_candidates if all(name in available for name in names)), None)
    if texts is None:
        wanted = " or ".join("+".join(f"'{name}'" for name in names) for names in text_candidates)
        raise ElectraError(
            f"{source}: no text column(s) {wanted}; the file has columns "
            f"{', '.join(repr(name) for name in available)}; name yours with --text-columns"
        )
    label = next((name for name in label_candidates if name in available), None)
    guid = next((name for name in ID_COLUMNS if name in available and name not in texts), None)
    return Columns(texts, label, guid)


def _text_example(path: Path, record: Record, index: int, columns: Columns, spec: TaskSpec) -> TextExample:
    line, fields = record
    label = None
    if columns.label is not None:
        label = parse_label(path, line, columns.label, field_value(path, line, fields, columns.label), spec)
    return labelled_text(path, line, index, fields, columns, label)


def labelled_text(
    path: Path, line: int, index: int, fields: Mapping[str, object], columns: Columns, label: str | float | None
) -> TextExample:
    """The example's texts (not all empty) and guid, with its label already read."""
    texts = tuple(_text_field(path, line, fields, name) for name in columns.texts)
    if not any(text.strip() for text in texts):
        raise ElectraError(f"{path}:{line}: empty text in column(s) {', '.join(columns.texts)}")
    guid = fields.get(columns.guid) if columns.guid else None
    return TextExample(str(index) if guid is None else str(guid), texts, label, line)


def _text_field(path: Path, line: int, fields: Mapping[str, object], name: str) -> str:
    value = field_value(path, line, fields, name)
    if not isinstance(value, str):
        raise ElectraError(f"{path}:{line}: '{name}' should be a string, found {value!r:.60}")
    return value


def parse_label(path: Path, line: int, column: str, value: object, spec: TaskSpec) -> str | float:
    """A class name (str) or, for regression, a finite float."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ElectraError(f"{path}:{line}: empty label in column '{column}'")
    if spec.kind == "regression":
        return _number(path, line, column, value)
    return _class_name(path, line, column, value)


def _number(path: Path, line: int, column: str, value: object) -> float:
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ElectraError(f"{path}:{line}: label column '{column}' value '{value}' is not a number") from None
    if not math.isfinite(number):
        raise ElectraError(f"{path}:{line}: label column '{column}' value '{value}' is not a finite number")
    return number


def _class_name(path: Path, line: int, column: str, value: object) -> str:
    """The label as text; JSON numbers and booleans written as their integer when integral."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (bool, int)) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    if isinstance(value, float):
        return str(value)
    raise ElectraError(f"{path}:{line}: label column '{column}' should be a string or a number, found {value!r:.60}")


def has_header(text: str, spec: TaskSpec) -> bool:
    """Whether the first non-blank line of a ``.txt`` file names text columns (a TSV table)."""
    first = next((line for _, line in numbered_lines(text) if line.strip()), "")
    return _looks_like_header([name.strip() for name in first.split("\t")], spec)


def read_plain(path: Path, text: str, spec: TaskSpec) -> list[TextExample]:
    """Unlabelled examples, one a non-blank line (a tab separates a pair's texts); when the
    spec names its text columns, every line must hold that many texts."""
    examples = []
    for number, line in numbered_lines(text):
        if not line.strip():
            continue
        texts = tuple(line.split("\t"))
        if spec.text_columns and len(texts) != len(spec.text_columns):
            raise ElectraError(
                f"{path}:{number}: {len(texts)} tab-separated text(s), but the model reads "
                f"{len(spec.text_columns)} ({', '.join(spec.text_columns)}); plain text holds "
                "one example a line, a tab between a pair's texts"
            )
        examples.append(TextExample(str(len(examples)), texts, None, number))
    return examples


READERS: dict[str, FileReader] = {".tsv": _read_tsv, ".txt": _read_tsv, ".csv": _read_csv, ".jsonl": _read_jsonl}
"""File extension -> reader of the decoded text."""
