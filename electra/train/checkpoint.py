"""Training checkpoints: weights as safetensors, everything else as a weights-only torch file.

Layout: ``RUN/checkpoints/step-00001000/{discriminator,generator}/`` (standalone model folders)
+ ``trainer_state.pt`` (optimizer, scheduler, RNG states, data position, step) +
``manifest.json`` (file sizes). A checkpoint is written under a temporary name, flushed, its
manifest written last, then renamed into place: a folder named ``step-*`` is complete. On resume
the manifest is checked, and a damaged checkpoint is reported and skipped for the previous one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import torch
from torch import nn

from electra.errors import ElectraError
from electra.files import write_json
from electra.model.io import WeightsMismatch, load_weights, save_network

PREFIX = "step-"


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def save_checkpoint(run_dir: Path, step: int, networks: dict[str, nn.Module], state: dict,
                    keep: int, tokenizer_dir: Path | None = None,
                    weights: dict[str, dict] | None = None) -> Path:
    """Write checkpoint ``step`` atomically and prune all but the newest ``keep``. ``weights``:
    each network's full state dict when the modules hold only shards (FSDP)."""
    root = checkpoint_dir(run_dir)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, module in networks.items():
        save_network(module, tmp / name, tokenizer_dir, state=(weights or {}).get(name))
    torch.save(state, tmp / "trainer_state.pt")
    _fsync_tree(tmp)
    write_json(tmp / "manifest.json", {"step": step, "files": _sizes(tmp)})
    if final.exists():  # same step saved again: move the old copy aside until the new one is in place
        aside = root / f".old-{final.name}-{os.getpid()}"
        os.replace(final, aside)
        os.replace(tmp, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp, final)
    _prune(root, keep)
    return final


def _sizes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _prune(root: Path, keep: int) -> None:
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX))


def verify(path: Path) -> str | None:
    """None if the checkpoint's files match its manifest, else what is wrong."""
    manifest_path = path / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        return f"unreadable manifest ({exc})"
    actual = _sizes(path)
    for name, size in manifest.get("files", {}).items():
        if actual.get(name) != size:
            return f"{name}: expected {size} bytes, found {actual.get(name)}"
    return None


def load_latest(run_dir: Path, networks: dict[str, nn.Module], load=load_weights) -> tuple[Path, dict] | None:
    """Load the newest good checkpoint into ``networks`` with ``load(module, folder)``; damaged ones
    are reported and skipped."""
    for path in reversed(list_checkpoints(checkpoint_dir(run_dir))):
        problem = verify(path)
        if problem is None:
            try:
                for name, module in networks.items():
                    load(module, path / name)
                state = torch.load(path / "trainer_state.pt", map_location="cpu", weights_only=True)
                return path, state
            except WeightsMismatch as exc:
                raise ElectraError(f"checkpoint {path} does not fit this model ({exc}); was the run started "
                                   f"with other --model/--recipe values? They are in {run_dir / 'run.json'}") from exc
            except (ElectraError, RuntimeError, OSError, EOFError) as exc:
                problem = str(exc)
        print(f"warning: checkpoint {path} is damaged ({problem}); trying an older one", file=sys.stderr)
    return None
