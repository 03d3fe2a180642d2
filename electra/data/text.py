"""Streaming text input: files and folders in, documents (lists of lines) out.

Formats, told by the file name (:data:`FORMATS`):

- ``.txt`` / ``.txt.gz``: one sentence or paragraph per line; a blank line (or the end of a
  file) ends a document.
- ``.jsonl`` / ``.jsonl.gz``: one JSON object per line; its text field (``text_field``, default
  ``text``) is one document, whose lines are the lines of that text (blank ones dropped). A line
  that is not JSON, or a record without the field (or whose value is not a string), is an error
  naming the file and line: a typo in ``--text-field`` must not pass for an empty corpus.
- ``.parquet``: the text column (``text_field``), one row = one document, read in batches of
  rows (memory stays flat); needs ``pyarrow``, imported only then.

Besides files, an input may be a Hugging Face dataset (:class:`~electra.data.hf_dataset.HFDataset`,
``--hf-dataset``): its ``text_field`` column, one row = one document, as for Parquet; its
``sha256`` is that of the text read (each row's UTF-8 followed by a NUL byte), since a streamed
dataset has no file to hash.

A file named explicitly must have one of these extensions (anything else, ``.md``, ``.csv``,
``.json``, is refused by name: reading a CSV as text would train on its commas and quotes).
Folders are walked recursively in sorted order, taking the files of these formats; the others
are skipped with one note on stderr counting them by extension.

Robustness choices, each counted in :class:`TextStats` so ``meta.json`` can report it:

- Invalid UTF-8 is replaced by U+FFFD (``errors='replace'``); a line holding U+FFFD counts as
  a replaced line (a file that already contained U+FFFD counts too: the check is on the text).
- A file whose first 8 KiB (after decompression) contain a NUL byte is taken for binary, and a
  ``.gz`` that does not decompress is taken for corrupt; both are skipped with a warning on
  stderr naming the file. A gzip file that breaks off mid-way keeps what was read before the
  break and is listed as skipped with the reason.
- Empty files (no non-blank line) are reported and skipped.
- Lines longer than :data:`MAX_LINE_CHARS` characters are cut into chunks of that size, each
  treated as its own line (counted as split lines), and documents longer than
  :data:`MAX_DOCUMENT_LINES` lines are yielded in pieces. Both keep memory bounded on files
  without newlines or blank lines.

Nothing here reads a whole file into memory; the sha256 of each file's bytes on disk is
computed in a separate chunked pass before it is read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from electra.data.hf_dataset import HFDataset, open_rows
from electra.errors import ElectraError
from electra.files import sha256_of

FORMATS = {".txt": "text", ".txt.gz": "text", ".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".parquet": "parquet"}
"""File name ending -> how the file is read."""
SUPPORTED = ", ".join(FORMATS)
PARQUET_BATCH_ROWS = 1024
"""Rows read from a Parquet file at a time."""
MAX_LINE_CHARS = 100_000
"""Longer lines are cut into chunks of this many characters."""
MAX_DOCUMENT_LINES = 10_000
"""Longer documents are yielded in pieces of this many lines (bounded memory; costs at most one
short example per piece)."""
SNIFF_BYTES = 8192
"""A NUL byte among the first this-many (decompressed) bytes marks a file as binary."""
_GZIP_MAGIC = b"\x1f\x8b"
_NEWLINE = re.compile(r"\r\n|\r|\n")


@dataclass
class FileStats:
    """What was read from one input file."""

    file: str
    sha256: str
    bytes: int
    lines: int = 0
    """Non-blank lines yielded (after splitting long lines)."""
    documents: int = 0


@dataclass
class TextStats:
    """Counts over all inputs of one pass; filled in while :func:`iter_documents` runs."""

    files: list[FileStats] = field(default_factory=list)
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    """``{"file": ..., "reason": ...}`` for each binary, corrupt or empty file."""
    documents: int = 0
    lines: int = 0
    replaced_lines: int = 0
    split_lines: int = 0


def input_format(path: Path) -> str | None:
    """``text``, ``jsonl`` or ``parquet`` by the file's name, or None for any other name."""
    name = Path(path).name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    return None


def resolve_inputs(paths: Iterable[str | Path | HFDataset], exclude: Path | None = None) -> list[Path | HFDataset]:
    """Expand folders (recursively, sorted) into their files of the :data:`FORMATS`; files under
    ``exclude`` (the output folder) are left out of the walk. A :class:`HFDataset` stays as it is."""
    files: list[Path | HFDataset] = []
    excluded = None if exclude is None else Path(exclude).resolve()
    for raw in paths:
        if isinstance(raw, HFDataset):
            files.append(raw)
            continue
        path = Path(raw)
        if path.is_file():
            if input_format(path) is None:
                raise ElectraError(
                    f"{path}: cannot read {_extension(path)} files; prepare reads {SUPPORTED} "
                    f"(convert it, or rename it if it is plain text)"
                )
            files.append(path)
        elif path.is_dir():
            found, other = [], Counter()
            for candidate in sorted(path.rglob("*")):
                if not candidate.is_file() or (excluded and candidate.resolve().is_relative_to(excluded)):
                    continue
                if input_format(candidate) is None:
                    other[_extension(candidate)] += 1
                else:
                    found.append(candidate)
            if other:
                kinds = ", ".join(f"{count} {ext}" for ext, count in sorted(other.items()))
                print(
                    f"note: {path}: skipped {sum(other.values())} file(s) of other types ({kinds}); "
                    f"prepare reads {SUPPORTED}",
                    file=sys.stderr,
                )
            if not found:
                raise ElectraError(f"{path}: folder holds no {SUPPORTED} files")
            files.extend(found)
        else:
            raise ElectraError(f"{path}: input not found")
    if not files:
        raise ElectraError("no input files given")
    return files


def total_bytes(files: Iterable[Path | HFDataset]) -> int:
    """Sum of on-disk sizes, for a progress bar over bytes read (a hub dataset counts 0)."""
    return sum(input_size(f) for f in files)


def input_size(source: Path | HFDataset) -> int:
    """Bytes on disk of one input (0 for a hub dataset)."""
    return source.size if isinstance(source, HFDataset) else Path(source).stat().st_size


def iter_documents(
    files: Iterable[Path | HFDataset],
    stats: TextStats,
    warn: bool = True,
    on_bytes: Callable[[int], None] | None = None,
    text_field: str = "text",
) -> Iterator[list[str]]:
    """Yield each document as a list of stripped, non-empty lines.

    ``files`` come from :func:`resolve_inputs`. ``stats`` is updated as documents are
    yielded. ``warn`` prints skipped files to stderr. ``on_bytes`` is called with the number
    of on-disk bytes consumed since its last call (for a progress bar). ``text_field``: the
    field (JSONL) or column (Parquet, Hugging Face dataset) holding the text.
    """
    for path in files:
        if isinstance(path, HFDataset):
            yield from _dataset_documents(path, stats, warn, on_bytes or (lambda n: None), text_field)
        else:
            yield from _file_documents(Path(path), stats, warn, on_bytes or (lambda n: None), text_field)


def iter_lines(
    files: Iterable[Path | HFDataset],
    stats: TextStats,
    warn: bool = True,
    on_bytes: Callable[[int], None] | None = None,
    text_field: str = "text",
) -> Iterator[str]:
    """The lines of :func:`iter_documents`, flattened (what tokenizer training needs)."""
    for document in iter_documents(files, stats, warn, on_bytes, text_field):
        yield from document


# ---------------------------------------------------------------------------------------------


def _file_documents(
    path: Path, stats: TextStats, warn: bool, on_bytes: Callable[[int], None], text_field: str
) -> Iterator[list[str]]:
    size = path.stat().st_size
    kind = input_format(path) or "text"
    problem = None if kind == "parquet" else _sniff(path)  # Parquet is binary by design
    if problem is not None:
        _skip(stats, path, problem, warn)
        on_bytes(size)
        return
    entry = FileStats(file=str(path), sha256=_sha256(path), bytes=size)
    broken = []
    with path.open("rb") as raw:
        position = [0]  # on-disk bytes consumed so far, as the reader can tell
        if kind == "parquet":
            lines, where = _parquet_lines(path, text_field, stats, position), lambda: position[0]
        else:
            stream = _text_stream(raw)
            lines = _bounded_lines(stream, stats) if kind == "text" else _jsonl_lines(stream, path, text_field, stats)
            where = raw.tell
        yield from _documents(_until_broken(lines, entry, stats, path, warn, broken), entry, size, on_bytes, where)
    _record(stats, entry, path, warn, bool(broken))


def _dataset_documents(
    source: HFDataset, stats: TextStats, warn: bool, on_bytes: Callable[[int], None], text_field: str
) -> Iterator[list[str]]:
    """Each row of a Hugging Face dataset as one document (cut as in :func:`_file_documents`); its
    ``sha256`` is that of the text read."""
    size = source.size
    total, values = open_rows(source, text_field)
    digest = hashlib.sha256()
    entry = FileStats(file=str(source), sha256="", bytes=size)
    position = [0]
    lines = _dataset_lines(source, values, total, size, text_field, stats, digest, position)
    yield from _documents(lines, entry, size, on_bytes, lambda: position[0])
    entry.sha256 = digest.hexdigest()
    _record(stats, entry, source, warn, broken=False)


def _documents(
    lines: Iterable[str], entry: FileStats, size: int, on_bytes: Callable[[int], None], where: Callable[[], int]
) -> Iterator[list[str]]:
    """Documents from ``lines``, where "" ends one (and so does reaching ``MAX_DOCUMENT_LINES``),
    counted into ``entry``; ``on_bytes`` hears of the progress (``where()`` bytes of ``size``)."""
    document: list[str] = []
    reported = 0
    for line in lines:
        if line:
            document.append(line)
            entry.lines += 1
        if document and (not line or len(document) >= MAX_DOCUMENT_LINES):
            entry.documents += 1
            yield document
            document = []
        if entry.lines % 1024 == 0:
            now = where()
            on_bytes(now - reported)
            reported = now
    if document:
        entry.documents += 1
        yield document
    on_bytes(size - reported)


def _until_broken(
    lines: Iterator[str], entry: FileStats, stats: TextStats, path: Path, warn: bool, broken: list
) -> Iterator[str]:
    """``lines`` until a gzip stream breaks off mid-way: what was read is kept, the file reported
    (and ``broken`` marked)."""
    try:
        yield from lines
    except (EOFError, OSError, zlib.error) as exc:
        _skip(stats, path, f"stopped after {entry.lines} lines: {_describe(exc)}", warn)
        broken.append(True)


def _record(stats: TextStats, entry: FileStats, source: Path | HFDataset, warn: bool, broken: bool) -> None:
    """Add a finished input to ``stats``; an input without a non-blank line is reported instead."""
    if entry.lines == 0:
        if not broken:
            _skip(stats, source, "empty (no non-blank line)", warn)
        return
    stats.files.append(entry)
    stats.documents += entry.documents
    stats.lines += entry.lines


def _dataset_lines(
    source: HFDataset,
    values: Iterator[object],
    total: int | None,
    size: int,
    field: str,
    stats: TextStats,
    digest,
    position: list[int],
) -> Iterator[str]:
    """The lines of each row's text, then "" (the row is one document); the text read goes into
    ``digest``, ``position[0]`` follows the share of rows read, in bytes of ``size``."""
    for rows, value in enumerate(values, start=1):
        text = _text_of({field: value}, field, f"{source}: row {rows}")
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
        yield from _record_lines(text, stats)
        yield ""
        if total:
            position[0] = size * rows // total


def _jsonl_lines(stream: io.TextIOWrapper, path: Path, field: str, stats: TextStats) -> Iterator[str]:
    """The lines of each record's text, then "" (the record is one document); a record is read
    whole (its memory is its size)."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ElectraError(f"{path}:{number}: not a JSON record ({exc})") from None
        text = _text_of(record, field, f"{path}:{number}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape ("\ud800"): replaced, like bad bytes
            text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        yield from _record_lines(text, stats)
        yield ""


def _parquet_lines(path: Path, field: str, stats: TextStats, position: list[int]) -> Iterator[str]:
    """The lines of each row's text, then "" (the row is one document); ``position[0]`` follows
    the share of rows read, in bytes of the file."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ElectraError(f"{path}: reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        reader = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid (a ValueError) and others for a bad file
        raise OSError(f"not a readable Parquet file ({exc})") from exc
    names = reader.schema_arrow.names
    if field not in names:
        raise ElectraError(
            f"{path}: no column {field!r} (columns: {', '.join(names)}); choose the text column with --text-field"
        )
    rows, total = 0, max(reader.metadata.num_rows, 1)
    size = path.stat().st_size
    for batch in reader.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[field]):
        for value in batch.column(0).to_pylist():
            rows += 1
            yield from _record_lines(_text_of({field: value}, field, f"{path}: row {rows}"), stats)
            yield ""
        position[0] = size * rows // total


def _text_of(record: object, field: str, where: str) -> str:
    """The text of one JSONL record or Parquet row; anything else is an error naming ``where``."""
    if not isinstance(record, dict):
        raise ElectraError(f"{where}: a JSON {type(record).__name__}, not an object with a {field!r} field")
    if field not in record:
        have = ", ".join(map(repr, list(record)[:5])) or "none"
        raise ElectraError(
            f"{where}: record has no {field!r} field (its fields: {have}); choose the text field with --text-field"
        )
    value = record[field]
    if not isinstance(value, str):
        raise ElectraError(f"{where}: {field!r} is {'null' if value is None else type(value).__name__}, not text")
    return value


def _record_lines(text: str, stats: TextStats) -> Iterator[str]:
    """Stripped non-blank lines of one record's text, long ones cut as in :func:`_bounded_lines`."""
    for line in _NEWLINE.split(text):
        line = line.strip()
        if "\ufffd" in line:
            stats.replaced_lines += 1
        if len(line) > MAX_LINE_CHARS:
            stats.split_lines += 1
            chunks = (line[i : i + MAX_LINE_CHARS].strip() for i in range(0, len(line), MAX_LINE_CHARS))
            yield from (chunk for chunk in chunks if chunk)
        elif line:
            yield line


def _sniff(path: Path) -> str | None:
    """Why ``path`` cannot be read as text, or None when it can."""
    try:
        with path.open("rb") as raw:
            head = raw.read(SNIFF_BYTES)
            if head.startswith(_GZIP_MAGIC):
                raw.seek(0)
                with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                    head = unzipped.read(SNIFF_BYTES)
    except (EOFError, OSError, zlib.error) as exc:
        return f"not a readable gzip file ({_describe(exc)})"
    if b"\x00" in head:
        return "looks binary (NUL bytes in the first 8 KiB)"
    return None


def _text_stream(raw: BinaryIO) -> io.TextIOWrapper:
    """``raw`` (plain, or gzip as told by its magic bytes) as UTF-8 text, bad bytes replaced."""
    is_gzip = raw.read(2) == _GZIP_MAGIC
    raw.seek(0)
    binary = gzip.GzipFile(fileobj=raw, mode="rb") if is_gzip else raw
    return io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline=None)


def _bounded_lines(stream: io.TextIOWrapper, stats: TextStats) -> Iterator[str]:
    """Stripped lines (blank ones as ""), long ones cut into chunks of at most
    ``MAX_LINE_CHARS`` characters; whitespace-only chunks of a long line are dropped."""
    inside_long_line = False
    while True:
        chunk = stream.readline(MAX_LINE_CHARS)
        if not chunk:
            return
        cut = len(chunk) >= MAX_LINE_CHARS and not chunk.endswith("\n")
        if cut and not inside_long_line:
            stats.split_lines += 1
        part_of_long_line = cut or inside_long_line
        inside_long_line = cut
        line = chunk.strip()
        if "\ufffd" in line:
            stats.replaced_lines += 1
        if line or not part_of_long_line:
            yield line


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return sha256_of(handle)


def _skip(stats: TextStats, path: Path | HFDataset, reason: str, warn: bool) -> None:
    stats.skipped_files.append({"file": str(path), "reason": reason})
    if warn:
        print(f"warning: {path}: skipped, {reason}", file=sys.stderr)


def _extension(path: Path) -> str:
    suffixes = path.suffixes[-2:] if path.suffix.lower() == ".gz" else path.suffixes[-1:]
    return "".join(suffixes) or "extension-less"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
