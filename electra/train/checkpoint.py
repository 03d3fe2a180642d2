"""Training checkpoints: weights as safetensors, everything else as a weights-only torch file.

Layout: ``RUN/checkpoints/step-00001000/{discriminator,generator}/`` (standalone model folders)
+ ``trainer_state.pt`` (step, elapsed training time and model FLOPs spent, from which the
learning rate follows; optimizer, RNG states, data position) +
``manifest.json`` (size and sha256 of every file, and the fingerprint of the data the run trains
on). A checkpoint is written under a temporary name, flushed, its manifest written last, then
renamed into place: a folder named ``step-*`` is complete. On resume every file is checked
against the manifest (content, not just size; manifests written before the checksums were added
hold sizes only, and those are checked), and a damaged checkpoint, or one that cannot be loaded
for any other reason, is reported and skipped for the previous one.
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
from electra.files import sha256_of, write_json
from electra.model.io import WeightsMismatch, load_weights, save_network

PREFIX = "step-"
MANIFEST = "manifest.json"


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def save_checkpoint(
    run_dir: Path,
    step: int,
    networks: dict[str, nn.Module],
    state: dict,
    keep: int,
    tokenizer_dir: Path | None = None,
    weights: dict[str, dict] | None = None,
    data: dict | None = None,
) -> Path:
    """Write checkpoint ``step`` atomically and prune all but the newest ``keep``. ``weights``:
    each network's full state dict when the modules hold only shards (FSDP). ``data``: the
    fingerprint of the training data (``electra.train.resume.data_fingerprint``), kept in the
    manifest so that a resume on other data is refused."""
    root = checkpoint_dir(run_dir)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, module in networks.items():
        save_network(module, tmp / name, tokenizer_dir, state=(weights or {}).get(name))
    torch.save(state, tmp / "trainer_state.pt")
    manifest = {"step": step, "files": _flush_and_describe(tmp)}
    if data is not None:
        manifest["data"] = data
    write_json(tmp / MANIFEST, manifest)
    if final.exists():  # same step saved again: move the old copy aside until the new one is in place
        aside = root / f".old-{final.name}-{os.getpid()}"
        os.replace(final, aside)
        os.replace(tmp, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp, final)
    _prune(root, keep)
    return final


def _files(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.rglob("*")) if p.is_file()]


def _flush_and_describe(folder: Path) -> dict[str, dict]:
    """Flush every file of ``folder`` to disk; relative name -> size and sha256 (one read each,
    mostly from the page cache the write just filled)."""
    files = {}
    for path in _files(folder):
        with open(path, "rb") as handle:
            digest = sha256_of(handle)
            os.fsync(handle.fileno())
        files[str(path.relative_to(folder))] = {"size": path.stat().st_size, "sha256": digest}
    return files


def _prune(root: Path, keep: int) -> None:
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX))


def read_manifest(path: Path) -> dict:
    """The manifest of checkpoint ``path``; ElectraError when it is missing or malformed."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSON and UTF-8 decoding errors are ValueErrors
        raise ElectraError(f"unreadable manifest ({exc})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ElectraError("malformed manifest (no 'files' table)")
    return manifest


def verify(path: Path) -> str | None:
    """None if every file listed in the checkpoint's manifest is there with its size and sha256
    (size only in manifests written before checksums), else what is wrong."""
    try:
        listed = read_manifest(path)["files"]
    except ElectraError as exc:
        return str(exc)
    for name, expected in listed.items():
        problem = _file_problem(path / name, expected)
        if problem is not None:
            return f"{name}: {problem}"
    return None


def _file_problem(path: Path, entry) -> str | None:
    size, digest = _expected(entry)
    if not isinstance(size, int):
        return f"malformed manifest entry {entry!r}"
    if not path.is_file():
        return "missing"
    if path.stat().st_size != size:
        return f"expected {size} bytes, found {path.stat().st_size}"
    if digest is not None:
        with open(path, "rb") as handle:
            if sha256_of(handle) != digest:
                return "content differs from the manifest's sha256"
    return None


def _expected(entry) -> tuple[int | None, str | None]:
    """(size, sha256) of a manifest entry: ``{"size", "sha256"}``, or a bare size (older manifests)."""
    if isinstance(entry, int):
        return entry, None
    if isinstance(entry, dict):
        return entry.get("size"), entry.get("sha256")
    return None, None


def recorded_data(run_dir: Path) -> list[tuple[Path, dict]]:
    """(checkpoint, data fingerprint) for every checkpoint whose manifest records one."""
    found = []
    for path in list_checkpoints(checkpoint_dir(run_dir)):
        try:
            data = read_manifest(path).get("data")
        except ElectraError:
            continue  # a damaged checkpoint: resume reports it when it gets there
        if isinstance(data, dict):
            found.append((path, data))
    return found


def load_latest(run_dir: Path, networks: dict[str, nn.Module], load=load_weights) -> tuple[Path, dict] | None:
    """Load the newest good checkpoint into ``networks`` with ``load(module, folder)``; damaged ones
    (failing their manifest, or failing to load for any other reason) are reported on stderr and
    skipped. Weights that do not fit the model are an error: an older checkpoint would not fit either."""
    for path in reversed(list_checkpoints(checkpoint_dir(run_dir))):
        problem = verify(path)
        if problem is None:
            try:
                return path, _load(path, networks, load)
            except Unloadable as exc:
                problem = str(exc)
        print(f"warning: checkpoint {path} is damaged ({problem}); trying an older one", file=sys.stderr)
    return None


class Unloadable(Exception):
    """A checkpoint file that passed its manifest (or has only sizes there) but cannot be loaded."""


def _load(path: Path, networks: dict[str, nn.Module], load) -> dict:
    """Load the networks of checkpoint ``path``; its trainer state. ``Unloadable`` names the file."""
    for name, module in networks.items():
        try:
            load(module, path / name)
        except WeightsMismatch as exc:
            record = path.parent.parent / "run.json"
            where = (
                f"They are in {record}"
                if record.is_file()
                else f"{record} is gone: give them again ({path / name / 'config.json'} has the network's shape)"
            )
            raise ElectraError(
                f"checkpoint {path} does not fit this model ({exc}); was the run started "
                f"with other --model/--recipe values? {where}"
            ) from exc
        except Exception as exc:  # noqa: BLE001 -- a damaged file raises anything at all
            raise Unloadable(f"{name}: cannot be loaded ({_reason(exc)})") from exc
    try:
        state = torch.load(path / "trainer_state.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- unpickling garbage raises anything at all
        raise Unloadable(f"trainer_state.pt: cannot be unpickled ({_reason(exc)})") from exc
    if not isinstance(state, dict) or "step" not in state:
        raise Unloadable("trainer_state.pt: holds no trainer state")
    return state


def _reason(exc: Exception) -> str:
    """Our own errors by their message; others (torch's unpickling errors advise on an unrelated
    setting) by their type."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if isinstance(exc, ElectraError) and text else type(exc).__name__
