"""Writing files so that a crash never leaves a half-written one: temporary name, then rename."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` through a temporary file and an atomic rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, body: dict) -> None:
    """Write indented JSON atomically."""
    write_text_atomic(path, json.dumps(body, indent=2) + "\n")
