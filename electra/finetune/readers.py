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

Choices:

- Files are read whole (fine-tuning sets are at most a few hundred MB and are kept in memory as
  examples anyway) and decoded as strict UTF-8; a leading byte-order mark is dropped (MRPC and
  spreadsheet exports have one). Bad bytes are an error naming the line, not a silent U+FFFD,
  since a label cell cannot be repaired by guessing. NUL bytes in the first 8 KiB mean "binary".
- Lines end at ``\\n`` only (a trailing ``\\r`` is dropped), so line numbers in messages match
  what an editor shows; blank lines are skipped.
- TSV is split on tabs with no quote processing: GLUE files hold stray ``"`` characters that a
  CSV reader would take for quoting. CSV uses standard quoting; a record's line is where it starts.
- Rows must have exactly as many fields as the header. Texts are kept as written, labels stripped.
  A file without the label column is unlabelled (label ``None``): that is what GLUE test files
  look like. Whether a labelled file was needed is the caller's check (``Split.labelled``).
- JSON labels agree with their text form: ``1``, ``1.0``, ``true`` and ``"1"`` all become ``"1"``.
- A SQuAD answer whose offset does not match its text is moved to the nearest occurrence of the
  text in the context (datasets converted from other formats are often off by a few characters);
  an answer that does not occur at all is an error. Answers of an impossible question are dropped.
- Hugging Face ``datasets`` is optional and imported only by :func:`load_hub_dataset`. Hub
  datasets use their own column names, so a spec's file-layout columns (MRPC's ``#1 String``)
  that the hub dataset lacks fall back to the default column names.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from electra.errors import ElectraError
from electra.finetune.examples import Answer, QaExample, Split, TaggedExample, TextExample
from electra.finetune.tasks import DEFAULT_LABEL_COLUMNS, DEFAULT_TEXT_COLUMNS, TaskSpec

SUFFIXES = (".tsv", ".csv", ".jsonl", ".json", ".conll", ".txt")
"""Extensions :func:`split_files` considers."""
SNIFF_BYTES = 8192
"""A NUL byte among the first this-many bytes marks a file as binary."""
ID_COLUMNS = ("id", "index", "idx")
"""The first of these columns present gives the example's guid (else its row number)."""
TAG_KEYS = ("tags", "ner_tags", "labels")
"""JSONL tagging: the first of these keys present holds the tags."""
HUB_SPLITS = {"train": ("train",), "dev": ("validation_matched", "validation"), "test": ("test_matched", "test")}
"""Our split name -> Hugging Face split names, first present wins (MNLI has ``_matched``)."""
"""Tried after DEFAULT_TEXT_COLUMNS for hub datasets (GLUE MNLI's columns on the hub)."""
TEXT_KINDS = ("classification", "pair-classification", "regression")

Row = tuple[int, list[str]]
"""A physical line number and the fields that start there."""
Record = tuple[int, Mapping[str, object]]
"""A line number and the example's fields by column name."""


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
            raise ElectraError(f"{folder}: both {by_stem[path.stem].name} and {path.name} could be the "
                               f"'{path.stem}' file; remove or rename one")
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

FileReader = Callable[[Path, str, TaskSpec], list]


def read_split(path: Path, spec: TaskSpec) -> Split:
    """All examples of one file, read as ``spec.kind`` and the file's extension dictate."""
    path = Path(path)
    readers = _READERS[_family(spec)]
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise ElectraError(f"{path}: a {spec.kind} task reads {', '.join(readers)} files, "
                           f"not '{path.suffix or path.name}'")
    if not path.is_file():
        raise ElectraError(f"{path}: file not found")
    examples = reader(path, _read_text(path), spec)
    if not examples:
        raise ElectraError(f"{path}: no examples")
    return Split(path, examples)


def _family(spec: TaskSpec) -> str:
    """The readers' grouping of kinds: the three text kinds share theirs."""
    return "text" if spec.kind in TEXT_KINDS else spec.kind


def _read_text(path: Path) -> str:
    """The file as strict UTF-8 (byte-order mark dropped); binary or undecodable is an error."""
    data = path.read_bytes()
    if b"\x00" in data[:SNIFF_BYTES]:
        raise ElectraError(f"{path}: looks binary (NUL bytes in the first {SNIFF_BYTES // 1024} KiB)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ElectraError(f"{path}:{line}: not valid UTF-8 ({exc.reason} at byte {exc.start}); "
                           f"convert the file to UTF-8") from exc


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(1-based line number, line)`` with line ends (``\\n``, ``\\r\\n``) removed."""
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")


def _at(path: Path, line: int) -> str:
    """``FILE:LINE`` for messages; just ``FILE`` when the line is not known."""
    return f"{path}:{line}" if line else str(path)


# ---------------------------------------------------------------------------------------------
# Text classification and regression: TSV, CSV, JSONL
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
    """Which fields of a file make an example."""

    texts: tuple[str, ...]
    label: str | None
    """None: the file is unlabelled."""
    guid: str | None
    """None: the guid is the row number."""


def _read_tsv(path: Path, text: str, spec: TaskSpec) -> list[TextExample]:
    rows = ((number, line.split("\t")) for number, line in _numbered_lines(text))
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
        rows = _chain(first, rows)
    columns = _choose_columns(path, header, _file_columns(spec))
    records = (_as_record(path, number, header, fields) for number, fields in rows)
    return [_text_example(path, record, index, columns, spec) for index, record in enumerate(records)]


def _looks_like_header(fields: Sequence[str], spec: TaskSpec) -> bool:
    """True when the first line names the spec's text columns (or a default set of them)."""
    text_candidates, _ = _file_columns(spec)
    return any(all(name in fields for name in names) for names in text_candidates)


def _chain(first: Row, rest: Iterator[Row]) -> Iterator[Row]:
    yield first
    yield from rest


def _as_record(path: Path, number: int, header: Sequence[str], fields: Sequence[str]) -> Record:
    if len(fields) != len(header):
        raise ElectraError(f"{path}:{number}: expected {len(header)} columns, found {len(fields)}")
    return number, dict(zip(header, fields))


def _file_columns(spec: TaskSpec) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """Candidate text-column sets and label columns for files: the spec's, else the defaults."""
    texts = (spec.text_columns,) if spec.text_columns else DEFAULT_TEXT_COLUMNS
    labels = (spec.label_column,) if spec.label_column else DEFAULT_LABEL_COLUMNS
    return texts, labels


def _choose_columns(source: Path | str, available: Sequence[str],
                    candidates: tuple[Sequence[tuple[str, ...]], Sequence[str]]) -> _Columns:
    """The first text-column set fully present, the first label column present (none: the file
    is unlabelled) and the id column, if any."""
    text_candidates, label_candidates = candidates
    texts = next((names for names in text_candidates if all(name in available for name in names)), None)
    if texts is None:
        wanted = " or ".join("+".join(f"'{name}'" for name in names) for names in text_candidates)
        raise ElectraError(f"{source}: no text column(s) {wanted}; the file has columns "
                           f"{', '.join(repr(name) for name in available)}; name yours with --text-columns")
    label = next((name for name in label_candidates if name in available), None)
    guid = next((name for name in ID_COLUMNS if name in available and name not in texts), None)
    return _Columns(texts, label, guid)


def _text_example(path: Path, record: Record, index: int, columns: _Columns, spec: TaskSpec) -> TextExample:
    line, fields = record
    label = None
    if columns.label is not None:
        label = _label(path, line, columns.label, _field(path, line, fields, columns.label), spec)
    return _labelled_text(path, line, index, fields, columns, label)


def _labelled_text(path: Path, line: int, index: int, fields: Mapping[str, object], columns: _Columns,
                   label: str | float | None) -> TextExample:
    """The example's texts (not all empty) and guid, with its label already read."""
    texts = tuple(_text_field(path, line, fields, name) for name in columns.texts)
    if not any(text.strip() for text in texts):
        raise ElectraError(f"{path}:{line}: empty text in column(s) {', '.join(columns.texts)}")
    guid = fields.get(columns.guid) if columns.guid else None
    return TextExample(str(index) if guid is None else str(guid), texts, label, line)


def _field(path: Path, line: int, fields: Mapping[str, object], name: str) -> object:
    if name not in fields:
        raise ElectraError(f"{path}:{line}: no '{name}' key")
    return fields[name]


def _text_field(path: Path, line: int, fields: Mapping[str, object], name: str) -> str:
    value = _field(path, line, fields, name)
    if not isinstance(value, str):
        raise ElectraError(f"{path}:{line}: '{name}' should be a string, found {value!r:.60}")
    return value


def _label(path: Path, line: int, column: str, value: object, spec: TaskSpec) -> str | float:
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
    raise ElectraError(f"{path}:{line}: label column '{column}' should be a string or a number, "
                       f"found {value!r:.60}")


# ---------------------------------------------------------------------------------------------
# JSON lines (text and tagging)
# ---------------------------------------------------------------------------------------------


def _json_lines(path: Path, text: str) -> Iterator[Record]:
    """Each non-blank line parsed as a JSON object."""
    for number, line in _numbered_lines(text):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ElectraError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(value, dict):
            raise ElectraError(f"{path}:{number}: expected a JSON object, found {type(value).__name__}")
        yield number, value


def _read_text_jsonl(path: Path, text: str, spec: TaskSpec) -> list[TextExample]:
    records = _json_lines(path, text)
    first = next(records, None)
    if first is None:
        return []
    columns = _choose_columns(_at(path, first[0]), list(first[1]), _file_columns(spec))
    return [_text_example(path, record, index, columns, spec)
            for index, record in enumerate(_chain(first, records))]


def _read_tagged_jsonl(path: Path, text: str, spec: TaskSpec) -> list[TaggedExample]:
    """``{"tokens": [...], "tags": [...]}`` per line; the tag key is the first of TAG_KEYS in the
    first line (or ``spec.label_column``); without it the file is unlabelled."""
    records = _json_lines(path, text)
    first = next(records, None)
    if first is None:
        return []
    names = (spec.label_column,) if spec.label_column else TAG_KEYS
    tag_key = next((name for name in names if name in first[1]), None)
    return [_json_sentence(path, line, index, fields, tag_key)
            for index, (line, fields) in enumerate(_chain(first, records))]


def _json_sentence(path: Path, line: int, index: int, fields: Mapping[str, object],
                   tag_key: str | None) -> TaggedExample:
    words = _string_list(path, line, "tokens", _field(path, line, fields, "tokens"))
    if not words:
        raise ElectraError(f"{path}:{line}: 'tokens' is empty")
    tags = None
    if tag_key is not None:
        tags = _string_list(path, line, tag_key, _field(path, line, fields, tag_key))
        if len(tags) != len(words):
            raise ElectraError(f"{path}:{line}: {len(words)} tokens but {len(tags)} {tag_key}")
    return TaggedExample(str(index), words, tags, line)


def _string_list(path: Path, line: int, key: str, value: object) -> tuple[str, ...]:
    """A JSON list of strings (integers, such as exported tag ids, are written as text)."""
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                              for v in value):
        raise ElectraError(f"{path}:{line}: '{key}' should be a list of strings")
    return tuple(str(v) for v in value)


# ---------------------------------------------------------------------------------------------
# Tagging: CoNLL
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
            raise ElectraError(f"{path}:{line}: found {len(fields)} columns, but line {self.first_line} "
                               f"has {self.width}")
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
    for number, line in _numbered_lines(text):
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
        raise ElectraError(f"{path}:{line}: expected a token and a tag column (columns {spec.token_column} "
                           f"and {spec.tag_column}), found {width} column(s)")
    return _ConllLayout(width, line, token, tag)


def _column_index(column: int, width: int) -> int | None:
    """``column`` (negative counts from the end) as an index into ``width`` columns, or None."""
    index = column + width if column < 0 else column
    return index if 0 <= index < width else None


# ---------------------------------------------------------------------------------------------
# Question answering: SQuAD JSON
# ---------------------------------------------------------------------------------------------

_ID_KEY = re.compile(r'"id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _read_squad(path: Path, text: str, spec: TaskSpec) -> list[QaExample]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ElectraError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    if not isinstance(document, dict) or "data" not in document:
        raise ElectraError(f"{path}: no 'data' list at the top level (expected a SQuAD file)")
    v2 = str(document.get("version", "")).startswith("v2")
    id_lines = _id_lines(text)
    examples: list[QaExample] = []
    seen: dict[str, int] = {}
    for where, context, question in _squad_questions(path, document):
        example = _qa_example(path, where, context, question, v2, id_lines)
        if example.qid in seen:
            raise ElectraError(f"{_at(path, example.line)}: {where}: question id '{example.qid}' occurs twice")
        seen[example.qid] = example.line
        examples.append(example)
    return examples


def _id_lines(text: str) -> dict[str, int]:
    """Each string value of an ``"id"`` key -> the line it first occurs on (one regex pass)."""
    lines: dict[str, int] = {}
    line, position = 1, 0
    for match in _ID_KEY.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        try:
            qid = json.loads(f'"{match.group(1)}"')
        except json.JSONDecodeError:
            continue
        lines.setdefault(qid, line)
    return lines


def _squad_questions(path: Path, document: Mapping[str, object]) -> Iterator[tuple[str, str, Mapping]]:
    """``(where, context, question object)`` for every question, checking the nesting."""
    for i, article in enumerate(_member(path, document, "data", "", list)):
        article_at = f"data[{i}]"
        paragraphs = _member(path, _object(path, article, article_at), "paragraphs", article_at, list)
        for j, paragraph in enumerate(paragraphs):
            paragraph_at = f"{article_at}.paragraphs[{j}]"
            paragraph = _object(path, paragraph, paragraph_at)
            context = _member(path, paragraph, "context", paragraph_at, str)
            for k, question in enumerate(_member(path, paragraph, "qas", paragraph_at, list)):
                question_at = f"{paragraph_at}.qas[{k}]"
                yield question_at, context, _object(path, question, question_at)


def _qa_example(path: Path, where: str, context: str, question: Mapping, v2: bool,
                id_lines: Mapping[str, int]) -> QaExample:
    raw_id = _member(path, question, "id", where, (str, int))
    qid = str(raw_id)
    line = id_lines.get(qid, 0) if isinstance(raw_id, str) else 0
    text = _member(path, question, "question", where, str)
    if "answers" not in question:  # an unlabelled file
        return QaExample(qid, text, context, (), False, line)
    raw_answers = _member(path, question, "answers", where, list)
    impossible = bool(question.get("is_impossible", v2 and not raw_answers))
    answers = () if impossible else tuple(
        _answer(path, f"{where}.answers[{n}]", qid, line, context, _object(path, answer, f"{where}.answers[{n}]"))
        for n, answer in enumerate(raw_answers))
    return QaExample(qid, text, context, answers, impossible, line)


def _answer(path: Path, where: str, qid: str, line: int, context: str, answer: Mapping) -> Answer:
    """The answer, its start moved to the nearest place where its text occurs in the context."""
    text = _member(path, answer, "text", where, str)
    start = _member(path, answer, "answer_start", where, int)
    if not text:
        raise ElectraError(f"{_at(path, line)}: question '{qid}': {where} has an empty text")
    found = _locate(text, context, start)
    if found is None:
        raise ElectraError(f"{_at(path, line)}: question '{qid}': answer {text!r} (at {start}) "
                           f"does not occur in its context")
    return Answer(text, found)


def _locate(text: str, context: str, start: int) -> int | None:
    """``start`` when the context holds ``text`` there, else the closest start that does."""
    if start >= 0 and context.startswith(text, start):
        return start
    starts = [m.start() for m in re.finditer(re.escape(text), context)]
    if not starts:
        return None
    return min(starts, key=lambda s: (abs(s - start), s))


def _member(path: Path, obj: Mapping, key: str, where: str, kind: type | tuple[type, ...]) -> object:
    """``obj[key]`` checked to be of ``kind`` (bools are not ints), else an error naming where."""
    at = f"{where}: " if where else ""
    if key not in obj:
        raise ElectraError(f"{path}: {at}no '{key}'")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ElectraError(f"{path}: {at}'{key}' should be a {names}, found {json.dumps(value)[:60]}")
    return value


def _object(path: Path, value: object, where: str) -> Mapping:
    if not isinstance(value, dict):
        raise ElectraError(f"{path}: {where}: expected an object, found {json.dumps(value)[:60]}")
    return value


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
                raise ElectraError(f"{_at(split.path, example.line)}: label '{label}' does not occur "
                                   f"in the training data (known: {shown})")


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


# ---------------------------------------------------------------------------------------------
# Hugging Face datasets (optional)
# ---------------------------------------------------------------------------------------------


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
            splits[ours] = Split(path, _HUB_CONVERTERS[_family(spec)](path, dataset[hub_split], spec))
    if "train" not in splits:
        raise ElectraError(f"hub dataset '{name}' has no train split (it has {', '.join(dataset)})")
    return splits


def _import_datasets():
    try:
        import datasets
    except ImportError:
        raise ElectraError("reading a Hugging Face hub dataset needs the datasets package: "
                           "pip install datasets (local data files never need it)") from None
    return datasets


def _hub_text_examples(path: Path, rows: Any, spec: TaskSpec) -> list[TextExample]:
    """Rows of a hub split as text examples; a label of -1 (GLUE test rows) means no label."""
    columns = _choose_columns(path, rows.column_names, _hub_columns(spec))
    names = _class_names(rows.features, columns.label, spec)
    examples = []
    for index, row in enumerate(rows):
        value = row[columns.label] if columns.label else None
        label = None
        if value is not None and value != -1:
            label = _label(path, index + 1, columns.label, value if names is None else names[value], spec)
        examples.append(_labelled_text(path, index + 1, index, row, columns, label))
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
        examples.append(_json_sentence(path, index + 1, index, fields, tag_key))
    return examples


def _hub_qa_examples(path: Path, rows: Any, spec: TaskSpec) -> list[QaExample]:
    """SQuAD-style rows: ``answers`` is ``{"text": [...], "answer_start": [...]}``; none: impossible."""
    examples = []
    for index, row in enumerate(rows):
        qid, context = str(row["id"]), row["context"]
        where = f"row {index}"
        answers = tuple(_answer(path, where, qid, index + 1, context, {"text": text, "answer_start": start})
                        for text, start in zip(row["answers"]["text"], row["answers"]["answer_start"]))
        examples.append(QaExample(qid, row["question"], context, answers, not answers, index + 1))
    return examples


_READERS: dict[str, dict[str, FileReader]] = {
    "text": {".tsv": _read_tsv, ".txt": _read_tsv, ".csv": _read_csv, ".jsonl": _read_text_jsonl},
    "tagging": {".conll": _read_conll, ".txt": _read_conll, ".tsv": _read_conll, ".jsonl": _read_tagged_jsonl},
    "qa": {".json": _read_squad},
}
"""Task family -> file extension -> reader of the decoded text."""

_HUB_CONVERTERS: dict[str, Callable[[Path, Any, TaskSpec], list]] = {
    "text": _hub_text_examples,
    "tagging": _hub_tagged_examples,
    "qa": _hub_qa_examples,
}
