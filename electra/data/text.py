"""Streaming text input: files and folders in, documents (lists of lines) out.

Format: one sentence or paragraph per line; a blank line (or the end of a file) ends a
document. Inputs are ``.txt`` / ``.txt.gz`` files; folders are walked recursively in sorted
order, taking only those extensions. A file named explicitly is read whatever its name.

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
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from electra.errors import ElectraError

TEXT_SUFFIXES = (".txt", ".txt.gz")
MAX_LINE_CHARS = 100_000
"""Longer lines are cut into chunks of this many characters."""
MAX_DOCUMENT_LINES = 10_000
"""Longer documents are yielded in pieces of this many lines (bounded memory; costs at most one
short example per piece)."""
SNIFF_BYTES = 8192
"""A NUL byte among the first this-many (decompressed) bytes marks a file as binary."""
_GZIP_MAGIC = b"\x1f\x8b"


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


def resolve_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders (recursively, sorted) into their ``.txt``/``.txt.gz`` files."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(TEXT_SUFFIXES))
            if not found:
                raise ElectraError(f"{path}: folder holds no {' or '.join(TEXT_SUFFIXES)} files")
            files.extend(found)
        else:
            raise ElectraError(f"{path}: input not found")
    if not files:
        raise ElectraError("no input files given")
    return files


def total_bytes(files: Iterable[Path]) -> int:
    """Sum of on-disk sizes, for a progress bar over bytes read."""
    return sum(f.stat().st_size for f in files)


def iter_documents(
    files: Iterable[Path],
    stats: TextStats,
    warn: bool = True,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[list[str]]:
    """Yield each document as a list of stripped, non-empty lines.

    ``files`` come from :func:`resolve_inputs`. ``stats`` is updated as documents are
    yielded. ``warn`` prints skipped files to stderr. ``on_bytes`` is called with the number
    of on-disk bytes consumed since its last call (for a progress bar).
    """
    for path in files:
        yield from _file_documents(Path(path), stats, warn, on_bytes or (lambda n: None))


def iter_lines(files: Iterable[Path], stats: TextStats, warn: bool = True,
               on_bytes: Callable[[int], None] | None = None) -> Iterator[str]:
    """The lines of :func:`iter_documents`, flattened (what tokenizer training needs)."""
    for document in iter_documents(files, stats, warn, on_bytes):
        yield from document


# ---------------------------------------------------------------------------------------------


def _file_documents(path: Path, stats: TextStats, warn: bool,
                    on_bytes: Callable[[int], None]) -> Iterator[list[str]]:
    size = path.stat().st_size
    problem = _sniff(path)
    if problem is not None:
        _skip(stats, path, problem, warn)
        on_bytes(size)
        return
    entry = FileStats(file=str(path), sha256=_sha256(path), bytes=size)
    document: list[str] = []
    reported = 0
    broken = False
    with path.open("rb") as raw:
        try:
            for line in _bounded_lines(_text_stream(raw), stats):
                if line:
                    document.append(line)
                    entry.lines += 1
                if document and (not line or len(document) >= MAX_DOCUMENT_LINES):
                    entry.documents += 1
                    yield document
                    document = []
                if entry.lines % 1024 == 0:
                    position = raw.tell()
                    on_bytes(position - reported)
                    reported = position
        except (EOFError, OSError, zlib.error) as exc:
            # A gzip stream that breaks off mid-way: keep what was read, report the file.
            _skip(stats, path, f"stopped after {entry.lines} lines: {_describe(exc)}", warn)
            broken = True
    if document:
        entry.documents += 1
        yield document
    on_bytes(size - reported)
    if entry.lines == 0:
        if not broken:
            _skip(stats, path, "empty (no non-blank line)", warn)
        return
    stats.files.append(entry)
    stats.documents += entry.documents
    stats.lines += entry.lines


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
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _skip(stats: TextStats, path: Path, reason: str, warn: bool) -> None:
    stats.skipped_files.append({"file": str(path), "reason": reason})
    if warn:
        print(f"warning: {path}: skipped, {reason}", file=sys.stderr)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
