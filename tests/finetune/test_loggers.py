"""Fine-tuning's metric sinks: one row per epoch (train loss, dev scores) in each seed's folder,
the same rows as TensorBoard scalars; a missing tracker package fails before any work."""

import json
import sys

import pytest

from electra.cli import main
from electra.commands.demo import shipped_pair_path
from electra.train.sinks import scalars

PAIR = shipped_pair_path()


def test_each_epoch_is_one_row_in_jsonl_and_tensorboard(tasks, tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    out = tmp_path / "run"
    assert (
        main(
            [
                "finetune",
                "--model",
                str(PAIR),
                "--task",
                "classification",
                "--data",
                str(tasks["sentiment"]),
                "--out",
                str(out),
                "--epochs",
                "2",
                "--max-train-examples",
                "32",
                "--no-progress",
                "--loggers",
                "jsonl,tensorboard",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in (out / "seed-1" / "metrics.jsonl").read_text().splitlines()]
    history = json.loads((out / "seed-1" / "results.json").read_text())["history"]
    assert rows == history and [r["epoch"] for r in rows] == [1, 2] and "accuracy" in rows[0]["dev"]
    reader = accumulator.EventAccumulator(str(out / "seed-1" / "tb"))
    reader.Reload()
    assert set(reader.Tags()["scalars"]) == set(scalars(rows[0])) >= {"train_loss", "dev/accuracy"}
    for tag in reader.Tags()["scalars"]:
        assert [(e.step, e.value) for e in reader.Scalars(tag)] == [
            (r["step"], pytest.approx(scalars(r)[tag], rel=1e-6)) for r in rows
        ]
    assert "loggers" not in json.loads((out / "results.json").read_text())["hyperparameters"]


def test_a_missing_tracker_package_fails_before_any_work(tasks, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)
    assert (
        main(
            [
                "finetune",
                "--model",
                str(PAIR),
                "--task",
                "classification",
                "--data",
                str(tasks["sentiment"]),
                "--out",
                str(tmp_path / "run"),
                "--loggers",
                "wandb",
                "--no-progress",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err.strip().endswith("pip install wandb") and not (tmp_path / "run").exists()
