"""Writing files so that a crash never leaves a half-written one: temporary name, then rename."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from electra.errors import ElectraError


def sha256_of(handle: BinaryIO) -> str:
    """Hex sha256 of what is left to read in the open binary ``handle``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` through a temporary file and an atomic rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, body: dict) -> None:
    """Write indented JSON atomically."""
    write_text_atomic(path, json.dumps(body, indent=2) + "\n")


def check_folder_path(path: Path) -> None:
    """ElectraError when ``path`` cannot be (or become) a folder: it, or one of its parents, is a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ElectraError(f"{path}: exists and is not a folder")
    in_the_way = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if in_the_way is not None:
        raise ElectraError(f"{path}: cannot create the folder, {in_the_way} is a file")


def make_folder(path: Path) -> Path:
    """Create the output folder ``path`` and its parents; an ElectraError naming the obstacle
    (a file in the way, a read-only disk) instead of a traceback."""
    path = Path(path)
    check_folder_path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ElectraError(f"{path}: cannot create the folder ({exc.strerror or exc})") from exc
    return path


def earlier_output(out: Path, belongs: Callable[[Path], bool], what: str, overwrite: bool) -> list[Path]:
    """The contents of ``out`` when it holds only an earlier ``what`` (every entry ``belongs``) and
    ``overwrite`` lets it go; anything else in ``out`` is refused, since the new output would mix
    into it. Nothing is changed here."""
    if not out.exists():
        return []
    if not out.is_dir():
        raise ElectraError(f"{out}: exists and is not a folder (nothing was changed)")
    contents = sorted(out.iterdir())
    other = [p.name + ("/" if p.is_dir() else "") for p in contents if not belongs(p)]
    if other:
        shown = ", ".join(other[:8]) + (f" and {len(other) - 8} more" if len(other) > 8 else "")
        raise ElectraError(
            f"{out}: holds other files ({shown}), not {what}; choose a new or empty folder (nothing was changed)"
        )
    if contents and not overwrite:
        raise ElectraError(
            f"{out}: already holds {what} ({', '.join(p.name for p in contents)}); pass "
            "--overwrite to replace it, or choose another folder (nothing was changed)"
        )
    return contents
