"""What the readers of every format share: decoding a file, numbering its lines, error locations.

Choices:

- Files are read whole (fine-tuning sets are at most a few hundred MB and are kept in memory as
  examples anyway) and decoded as strict UTF-8; a leading byte-order mark is dropped (MRPC and
  spreadsheet exports have one). Bad bytes are an error naming the line, not a silent U+FFFD,
  since a label cell cannot be repaired by guessing. NUL bytes in the first 8 KiB mean "binary".
- Lines end at ``\\n`` only (a trailing ``\\r`` is dropped), so line numbers in messages match
  what an editor shows.
- JSON lines files (text and tagging) hold one object per non-blank line.

Names without a leading underscore here and in the format modules are for the other modules of
this package; the package's public interface is what :mod:`electra.finetune.readers` exports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from electra.errors import ElectraError
from electra.finetune.tasks import TaskSpec

_T = TypeVar("_T")

SNIFF_BYTES = 8192
"""A NUL byte among the first this-many bytes marks a file as binary."""
TEXT_KINDS = ("classification", "pair-classification", "regression")

Row = tuple[int, list[str]]
"""A physical line number and the fields that start there."""
Record = tuple[int, Mapping[str, object]]
"""A line number and the example's fields by column name."""
FileReader = Callable[[Path, str, TaskSpec], list]
"""Reads the decoded text of a file into examples."""


def family(spec: TaskSpec) -> str:
    """The readers' grouping of kinds: the three text kinds share theirs."""
    return "text" if spec.kind in TEXT_KINDS else spec.kind


def read_text(path: Path) -> str:
    """The file as strict UTF-8 (byte-order mark dropped); binary or undecodable is an error."""
    data = path.read_bytes()
    if b"\x00" in data[:SNIFF_BYTES]:
        raise ElectraError(f"{path}: looks binary (NUL bytes in the first {SNIFF_BYTES // 1024} KiB)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ElectraError(
            f"{path}:{line}: not valid UTF-8 ({exc.reason} at byte {exc.start}); convert the file to UTF-8"
        ) from exc


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(1-based line number, line)`` with line ends (``\\n``, ``\\r\\n``) removed."""
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")


def at(path: Path, line: int) -> str:
    """``FILE:LINE`` for messages; just ``FILE`` when the line is not known."""
    return f"{path}:{line}" if line else str(path)


def chain(first: _T, rest: Iterator[_T]) -> Iterator[_T]:
    """``first`` (taken off ``rest`` to look at) followed by the rest again."""
    yield first
    yield from rest


def json_lines(path: Path, text: str) -> Iterator[Record]:
    """Each non-blank line parsed as a JSON object."""
    for number, line in numbered_lines(text):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ElectraError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(value, dict):
            raise ElectraError(f"{path}:{number}: expected a JSON object, found {type(value).__name__}")
        yield number, value


def field_value(path: Path, line: int, fields: Mapping[str, object], name: str) -> object:
    """``fields[name]``; a missing key is an error naming the line."""
    if name not in fields:
        raise ElectraError(f"{path}:{line}: no '{name}' key")
    return fields[name]
