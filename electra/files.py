"""Writing files so that a crash never leaves a half-written one: temporary name, then rename."""

from __future__ import annotations

import json
import os
from pathlib import Path

from electra.errors import ElectraError


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
