"""What ``--resume`` checks before it continues a run, so that a resumed run never silently trains
on something else: the same data (compared by fingerprint) and the same configuration (only the
budget, the saving and logging cadence and the device may change).

A run records both: ``RUN/run.json`` holds its configuration and the fingerprint of its data, and
every checkpoint's manifest holds the fingerprint again (:mod:`electra.train.checkpoint`). The
checks run before anything under ``RUN`` is written, so a refused resume leaves the run as it was.
Every run, resumed or new, first checks that ``RUN`` is a run's folder (:func:`check_out`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from electra.errors import ElectraError
from electra.files import check_folder_path
from electra.objectives import NETWORK_FOLDERS
from electra.train import checkpoint

RUN_FILE = "run.json"

CHANGEABLE = frozenset(
    {
        "train.max_steps",
        "train.max_minutes",
        "train.max_flops",
        "train.save_every",
        "train.log_every",
        "train.keep_checkpoints",
        "train.device",
        "train.fsdp",
        "train.compile",
        "train.loggers",
    }
)
"""Settings a resumed run may change: the budget, the saving and logging cadence, where and how
the same computation runs (device, sharding, compilation) and where metrics go (loggers). They
are applied and recorded in ``run.json``; any other setting that differs from the run's is refused."""

CONFIGURATION = ("objective", "preset", "model", "recipe", "train", "init")
"""The keys of ``run.json`` that make up a run's configuration (its data is compared by
fingerprint, not by path: a moved data folder is the same data)."""

SHARD_SETTINGS_IGNORED = ("tokenizer", "vocab_size")
"""``meta.json`` settings left out of the shards' fingerprint: the tokenizer's own digest covers them."""


# ---------------------------------------------------------------- data


def data_fingerprint(folder: Path, meta: dict) -> dict[str, str]:
    """Two sha256 digests of a prepared data folder: ``tokenizer`` (its ``tokenizer.json``, which
    gives every token its id) and ``shards`` (what ``meta.json`` says the shards hold: their
    files and row counts, with their checksums where ``prepare`` records them, the checksums and
    line counts of the input files, and the packing settings).

    Cheap: one small file is hashed, no shard is read. Same inputs, settings and tokenizer give
    the same shards (``prepare`` is reproducible), so the two digests identify the token rows.
    """
    tokenizer = Path(folder) / str(meta.get("tokenizer", "tokenizer.json"))
    try:
        tokenizer_digest = hashlib.sha256(tokenizer.read_bytes()).hexdigest()
    except OSError as exc:
        raise ElectraError(f"{tokenizer}: cannot read the data's tokenizer ({exc})") from exc
    settings = {k: v for k, v in (meta.get("config") or {}).items() if k not in SHARD_SETTINGS_IGNORED}
    contents = {
        "shards": meta["shards"],
        "inputs": [{k: entry.get(k) for k in ("sha256", "lines")} for entry in meta.get("inputs", [])],
        "settings": settings,
        "max_seq_len": meta["max_seq_len"],
        "dtype": meta["dtype"],
    }
    shards_digest = hashlib.sha256(json.dumps(contents, sort_keys=True).encode("utf-8")).hexdigest()
    return {"tokenizer": tokenizer_digest, "shards": shards_digest}


def check_same_data(out: Path, data_dir: Path, fingerprint: dict[str, str]) -> None:
    """Refuse to resume the run in ``out`` on data whose fingerprint differs from the one the run
    recorded (in ``run.json`` and in its checkpoints). A run that recorded none (started before
    fingerprints existed) is not checked."""
    run = read_run(out) or {}
    recorded = [(out / RUN_FILE, run["data_fingerprint"])] if isinstance(run.get("data_fingerprint"), dict) else []
    recorded += checkpoint.recorded_data(out)
    for source, theirs in recorded:
        changed = [part for part in ("tokenizer", "shards") if theirs.get(part) != fingerprint[part]]
        if changed:
            raise ElectraError(
                f"{data_dir} is not the data the run in {out} trained on: the {' and the '.join(changed)} "
                f"differ{'s' if len(changed) == 1 else ''} (run, from {source.name}: {_short(theirs)}; "
                f"{data_dir}: {_short(fingerprint)}){_hint(changed)}; resume with the run's own data, or start "
                f"a new run in another --out (nothing was written)"
            )


def _short(fingerprint: dict) -> str:
    return ", ".join(f"{part} {str(fingerprint.get(part))[:16]}" for part in ("tokenizer", "shards"))


def _hint(changed: list[str]) -> str:
    if "tokenizer" in changed:
        return " — was the data prepared again? A new tokenizer gives tokens other ids"
    return ""


# ---------------------------------------------------------------- configuration


def read_run(out: Path) -> dict | None:
    """The body of ``out/run.json``, or None when there is none."""
    path = Path(out) / RUN_FILE
    if not path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ElectraError(
            f"{path}: cannot read the run's record ({exc}); restore it, or remove it and give the run's options again"
        ) from exc
    if not isinstance(body, dict):
        raise ElectraError(f"{path}: not a run record (expected a JSON object)")
    return body


def check_resumable(out: Path) -> None:
    """Refuse ``--resume`` where there is no run to continue (neither a run.json nor a checkpoint)."""
    if read_run(out) is None and not checkpoint.list_checkpoints(checkpoint.checkpoint_dir(out)):
        raise ElectraError(
            f"--resume: {out} holds no run to resume (no {RUN_FILE}, no checkpoint); "
            f"drop --resume to start a new run there"
        )


OTHER_FOLDERS = {
    "meta.json": "prepared data",
    "prepare.json": "prepared data",
    "results.json": "a fine-tuning run",
    "config.json": "a model",
    "model.safetensors": "a model",
}
"""Files that mark a folder as another kind than a run; a run never writes into such a folder."""

FINAL_MODELS = NETWORK_FOLDERS


def check_out(out: Path, resume: bool) -> None:
    """Refuse an ``out`` that a run would mix into or clobber, before anything is written: a file,
    another kind of folder (:data:`OTHER_FOLDERS`: prepared data, a fine-tuning run, a model or an
    export), and, without ``resume``, a run that has checkpoints or its final models."""
    out = Path(out)
    check_folder_path(out)
    if not out.is_dir():
        return
    marks = sorted(name for name in OTHER_FOLDERS if (out / name).exists())
    if marks:
        kinds = " and ".join(sorted({OTHER_FOLDERS[name] for name in marks}))
        raise ElectraError(
            f"{out}: holds {kinds} ({', '.join(marks)}), not a pretraining run; a run is never "
            f"written into it: choose a new or empty --out (nothing was written)"
        )
    if resume:
        return
    if checkpoint.list_checkpoints(checkpoint.checkpoint_dir(out)):
        raise ElectraError(
            f"{out} already holds checkpoints of another run: pass --resume to continue it, "
            f"or choose a new --out (nothing was written)"
        )
    finished = [name for name in FINAL_MODELS if (out / name / "config.json").is_file()]
    if finished:
        raise ElectraError(
            f"{out} already holds the final models of a run ({'/, '.join(finished)}/): choose a new "
            f"--out, or remove them to start a run there (nothing was written)"
        )


def check_same_configuration(out: Path, configuration: dict) -> None:
    """Refuse a resume whose ``configuration`` (the keys of :data:`CONFIGURATION`) differs from the
    run's in anything but the :data:`CHANGEABLE` settings; the message lists every difference."""
    run = read_run(out)
    if run is None:
        return
    changed = differences(run, configuration)
    if changed:
        raise ElectraError(
            f"--resume continues the run in {out} with its own configuration ({RUN_FILE}); these options "
            f"differ from it and cannot change on resume: {'; '.join(changed)}. Drop them (only the budget "
            f"--max-steps/--max-minutes/--max-flops, save_every, log_every, keep_checkpoints, device, fsdp, "
            f"compile and loggers may change), or start a new run in another --out (nothing was written)"
        )


def check_step_budget(out: Path, max_steps: int) -> None:
    """Refuse a resumed ``max_steps`` below the step the run has reached (its newest checkpoint):
    it would be recorded in ``run.json`` without effect."""
    steps = [
        int(p.name[len(checkpoint.PREFIX) :])
        for p in checkpoint.list_checkpoints(checkpoint.checkpoint_dir(out))
        if p.name[len(checkpoint.PREFIX) :].isdigit()
    ]
    if steps and max(steps) > max_steps:
        raise ElectraError(
            f"--max-steps {max_steps}: the run in {out} has reached step {max(steps)}; give at "
            f"least {max(steps)}, or leave it out (nothing was written)"
        )


def differences(run: dict, configuration: dict) -> list[str]:
    """``field: run value -> given value`` for each setting that differs and may not change.
    Settings the run did not record (older runs) are not compared."""
    recorded, given = _flat(run), _flat(configuration)
    changed = []
    for key, value in recorded.items():
        if key in CHANGEABLE or key not in given or given[key] == value:
            continue
        if key == "preset" and None in (value, given[key]):
            continue  # runs started from the library name no preset
        changed.append(f"{key}: {_show(value)} -> {_show(given[key])}")
    return changed


def _flat(body: dict) -> dict:
    """``{"model.hidden_size": 64, "objective": "electra", ...}`` of the configuration keys,
    values as JSON gives them back (so a recorded and a given value compare alike)."""
    flat = {}
    for key in CONFIGURATION:
        if key not in body:
            continue
        value = json.loads(json.dumps(body[key], default=str))
        if isinstance(value, dict):
            flat.update({f"{key}.{field}": item for field, item in value.items()})
        else:
            flat[key] = value
    return flat


def _show(value) -> str:
    return json.dumps(value)
