"""Metric sinks: TensorBoard events equal the JSONL rows (also across a resume), a tracker whose
package is missing fails before any work, the trackers get the rows' numbers at their steps."""

import json
import math
import shutil
import sys
import types
from pathlib import Path

import pytest
import torch

from electra.config import FinetuneConfig, ModelConfig, ObjectiveConfig, TrainConfig
from electra.errors import ElectraError
from electra.pretrain import PretrainJob, run_pretraining
from electra.train import checkpoint
from electra.train.sinks import open_sinks, scalars

MODEL = ModelConfig(
    embedding_size=32,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=64,
)


def job(steps: int, loggers: str, **train) -> PretrainJob:
    cfg = dict(
        batch_size=16,
        lr=2e-3,
        warmup_steps=2,
        max_steps=steps,
        log_every=5,
        save_every=5,
        device="cpu",
        seed=7,
        loggers=loggers,
    )
    cfg.update(train)
    return PretrainJob("electra", MODEL, ObjectiveConfig(generator_fraction=0.5), TrainConfig(**cfg))


def jsonl_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def events(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] as TensorBoard reads the event files (purged events left out)."""
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    reader = accumulator.EventAccumulator(str(folder), size_guidance={accumulator.SCALARS: 0})
    reader.Reload()
    return {tag: [(e.step, e.value) for e in reader.Scalars(tag)] for tag in reader.Tags()["scalars"]}


def assert_events_equal_rows(tb: Path, rows: list[dict]) -> None:
    expected: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for tag, value in scalars(row).items():
            expected.setdefault(tag, []).append((row["step"], value))
    found = events(tb)
    assert set(found) == set(expected)
    for tag, points in expected.items():
        assert [step for step, _ in found[tag]] == [step for step, _ in points], tag
        for (_, got), (_, want) in zip(found[tag], points):  # event files hold float32
            assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, rel=1e-6, abs=1e-30), tag


def test_tensorboard_events_equal_the_jsonl_rows_also_after_a_resume(prepared, tmp_path):
    pytest.importorskip("tensorboard")
    torch.set_num_threads(1)
    run = run_pretraining(job(10, "jsonl,tensorboard"), prepared, tmp_path / "run", progress=False)
    rows = jsonl_rows(run)
    assert [r["step"] for r in rows] == [5, 10] and {"loss", "disc_loss", "lr", "flops"} <= set(rows[0])
    assert_events_equal_rows(run / "tb", rows)

    # the newest checkpoint lost: the resumed run continues from step 5 and logs step 10 anew
    shutil.rmtree(checkpoint.list_checkpoints(checkpoint.checkpoint_dir(run))[-1])
    run_pretraining(job(10, "jsonl,tensorboard"), prepared, run, resume=True, progress=False)
    again = jsonl_rows(run)
    assert [r["step"] for r in again] == [5, 10] and again[0] == rows[0]
    assert_events_equal_rows(run / "tb", again)  # step 10 once: the first session's is purged


def test_jsonl_only_writes_no_event_files(prepared, tmp_path):
    torch.set_num_threads(1)
    run = run_pretraining(job(5, "jsonl"), prepared, tmp_path / "run", progress=False)
    assert [r["step"] for r in jsonl_rows(run)] == [5] and not (run / "tb").exists()


@pytest.mark.parametrize("logger", ["tensorboard", "wandb", "mlflow"])
def test_a_missing_tracker_package_fails_before_any_work(prepared, tmp_path, monkeypatch, logger):
    monkeypatch.setitem(sys.modules, logger, None)  # 'import logger' raises ImportError
    with pytest.raises(ElectraError, match=f"pip install {logger}$"):
        run_pretraining(job(5, f"jsonl,{logger}"), prepared, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_the_cli_reports_a_missing_package_in_one_line(prepared, tmp_path, monkeypatch, capsys):
    from electra.cli import main

    monkeypatch.setitem(sys.modules, "tensorboard", None)
    code = main(
        [
            "pretrain",
            "--data",
            str(prepared),
            "--out",
            str(tmp_path / "run"),
            "--max-steps",
            "5",
            "--train.loggers",
            "jsonl,tensorboard",
            "--train.device",
            "cpu",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert (
        code == 2 and err.startswith("error: --train.loggers tensorboard") and err.endswith("pip install tensorboard")
    ), err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["jsonl,nope", "jsonl,jsonl"])
def test_logger_names_are_checked_by_the_configs(value):
    with pytest.raises(ElectraError, match="'loggers'"):
        TrainConfig(loggers=value)
    with pytest.raises(ElectraError, match="'loggers'"):
        FinetuneConfig(loggers=value)


def test_loggers_may_change_on_resume():
    from electra.train.resume import CHANGEABLE

    assert "train.loggers" in CHANGEABLE


class Recorder:
    """Stands in for a tracker's module and its run: records what the sink calls."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs)) or self


def test_wandb_and_mlflow_get_the_rows_numbers_at_their_steps(tmp_path, monkeypatch):
    wandb, mlflow = Recorder(), Recorder()
    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=wandb.init))
    monkeypatch.setitem(sys.modules, "mlflow", mlflow)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    sink = open_sinks("jsonl,wandb,mlflow", tmp_path, config={"lr": 1e-3})
    row = {"epoch": 1, "step": 12, "train_loss": 0.5, "dev": {"accuracy": 0.75, "f1": math.nan}, "note": "x"}
    sink.log(row, 12)
    sink.close()
    assert jsonl_rows(tmp_path) == [json.loads(json.dumps(row))]
    ((_, (metrics,), kwargs),) = [call for call in wandb.calls if call[0] == "log"]
    assert kwargs == {"step": 12} and math.isnan(metrics.pop("dev/f1"))
    assert metrics == {"epoch": 1.0, "train_loss": 0.5, "dev/accuracy": 0.75}
    run_id = (tmp_path / "wandb-run-id").read_text().strip()
    assert wandb.calls[0][2]["id"] == run_id and wandb.calls[0][2]["resume"] == "allow"
    assert [c[0] for c in wandb.calls] == ["init", "log", "finish"]
    logged = [c for c in mlflow.calls if c[0] == "log_metrics"]
    assert logged == [("log_metrics", ({"epoch": 1.0, "train_loss": 0.5, "dev/accuracy": 0.75},), {"step": 12})]
    assert mlflow.calls[0][0] == "set_tracking_uri" and mlflow.calls[-1][0] == "end_run"
