"""Metric sinks: where the rows of a training run go (``--train.loggers jsonl,tensorboard``).

A sink takes one row at a time (``log(row, step)``) and is closed once (``close()``). The row is
what ``metrics.jsonl`` holds: pretraining logs one every ``log_every`` steps, fine-tuning one per
epoch (train loss, dev scores as a nested dict). The JSONL sink writes it unchanged; the
trackers get its numbers as scalars, nested keys joined with '/' (``dev/accuracy``), at the
row's step.

Resuming at step S keeps what the run logged up to S and drops the rest (the resumed run logs
it again): the JSONL file is cut after S, TensorBoard purges events past S (``purge_step``),
W&B continues the same run id (kept in ``wandb-run-id``), MLflow starts a new run. Only rank 0
opens sinks.

The trackers' packages are optional and imported only when chosen; :func:`require` checks them
before any work and names the ``pip install`` line.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from electra.config import LOGGERS
from electra.errors import ElectraError
from electra.files import write_text_atomic


class Sink(Protocol):
    def log(self, row: dict, step: int) -> None: ...

    def close(self) -> None: ...


def scalars(row: dict, prefix: str = "") -> dict[str, float]:
    """The row's numbers by tag: nested dicts flattened with '/', the step and non-numbers left out."""
    out: dict[str, float] = {}
    for key, value in row.items():
        tag = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(scalars(value, f"{tag}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and tag != "step":
            out[tag] = float(value)
    return out


def run_name(folder: Path) -> str:
    """A tracker's name for the run in ``folder``: its last two path parts ('runs/small', 'sst2/seed-1')."""
    return "/".join(folder.resolve().parts[-2:])


def _row_step(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


class JsonlSink:
    """``FOLDER/metrics.jsonl``, one JSON object a line, appended and closed per row (a reader
    tailing the file sees every row at once; a crash tears at most the last line)."""

    def __init__(self, folder: Path, start_step: int) -> None:
        self.path = folder / "metrics.jsonl"
        if self.path.exists():  # rows after start_step are logged again; a torn last line is dropped
            kept = [
                line
                for line in self.path.read_text(encoding="utf-8").splitlines()
                if _row_step(line) is not None and _row_step(line) <= start_step
            ]
            write_text_atomic(self.path, "".join(line + "\n" for line in kept))

    def log(self, row: dict, step: int) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    def close(self) -> None:
        pass


class TensorBoardSink:
    """Event files in ``FOLDER/tb`` (``tensorboard --logdir FOLDER/tb``), through torch's ``SummaryWriter``."""

    def __init__(self, folder: Path, start_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # purge_step: TensorBoard hides events at or after it written by an earlier session
        self.writer = SummaryWriter(log_dir=str(folder / "tb"), purge_step=start_step + 1)

    def log(self, row: dict, step: int) -> None:
        for tag, value in scalars(row).items():
            self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    """A Weights & Biases run with its files under ``FOLDER/wandb``; ``WANDB_MODE=offline`` works
    without a network (``wandb sync`` uploads later). Project from ``WANDB_PROJECT`` (default
    'electra'); the run id is kept in ``FOLDER/wandb-run-id`` so that a resumed run continues it."""

    def __init__(self, folder: Path, start_step: int, config: dict | None = None) -> None:
        import wandb

        id_file = folder / "wandb-run-id"
        run_id = id_file.read_text(encoding="utf-8").strip() if id_file.is_file() and start_step else None
        run_id = run_id or secrets.token_hex(6)  # W&B ids: lowercase letters and digits
        write_text_atomic(id_file, run_id + "\n")
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "electra"),
            name=run_name(folder),
            dir=str(folder),
            id=run_id,
            resume="allow",
            config=config or {},
        )

    def log(self, row: dict, step: int) -> None:
        self.run.log(scalars(row), step=step)

    def close(self) -> None:
        self.run.finish()


class MlflowSink:
    """An MLflow run; the tracking store is ``MLFLOW_TRACKING_URI`` when set, else the SQLite file
    ``FOLDER/mlflow.db`` (``mlflow ui --backend-store-uri sqlite:///FOLDER/mlflow.db``; MLflow 3
    refuses new file stores). MLflow has no NaN: such values are left out."""

    def __init__(self, folder: Path, start_step: int, config: dict | None = None) -> None:
        import mlflow

        self.mlflow = mlflow
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            mlflow.set_tracking_uri(f"sqlite:///{(folder / 'mlflow.db').resolve()}")
        self.run = mlflow.start_run(run_name=run_name(folder))
        if config:
            mlflow.log_params({k: v for k, v in config.items() if not isinstance(v, (dict, list))})

    def log(self, row: dict, step: int) -> None:
        self.mlflow.log_metrics({k: v for k, v in scalars(row).items() if math.isfinite(v)}, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


@dataclass(frozen=True)
class Kind:
    """One sink: the module it imports, the package that provides it, how it opens."""

    module: str | None
    package: str | None
    open: Callable[[Path, int, dict | None], Sink]


SINKS: dict[str, Kind] = {
    "jsonl": Kind(None, None, lambda folder, step, config: JsonlSink(folder, step)),
    "tensorboard": Kind("tensorboard", "tensorboard", lambda folder, step, config: TensorBoardSink(folder, step)),
    "wandb": Kind("wandb", "wandb", WandbSink),
    "mlflow": Kind("mlflow", "mlflow", MlflowSink),
}
assert set(SINKS) == set(LOGGERS), "electra.config.LOGGERS and SINKS name the same sinks"


def names(loggers: str) -> list[str]:
    """'jsonl,tensorboard' -> ['jsonl', 'tensorboard'] (already validated by the config)."""
    return [name.strip() for name in loggers.split(",") if name.strip()]


def require(loggers: str, option: str = "--train.loggers") -> None:
    """Raise before any work when a chosen sink's package cannot be imported, with the install line."""
    for name in names(loggers):
        kind = SINKS[name]
        if kind.module is None:
            continue
        try:
            importlib.import_module(kind.module)
        except ImportError as exc:
            raise ElectraError(
                f"{option} {name}: the '{kind.package}' package is not installed ({exc}); "
                f"install it with: pip install {kind.package}"
            ) from exc


class Sinks:
    """Several sinks behind the one interface; every row goes to each."""

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

    def log(self, row: dict, step: int) -> None:
        for sink in self.sinks:
            sink.log(row, step)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def open_sinks(loggers: str, folder: Path, start_step: int = 0, config: dict | None = None) -> Sinks:
    """The chosen sinks, writing under ``folder``, continuing a run at ``start_step`` (0: a fresh run)."""
    require(loggers)
    folder.mkdir(parents=True, exist_ok=True)
    return Sinks([SINKS[name].open(folder, start_step, config) for name in names(loggers)])
