"""Faults a long run meets: SIGKILL, SIGTERM, non-finite steps. Each must lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from electra.data.loader import BatchStream, PretrainData
from electra.errors import ElectraError
from electra.objectives import ElectraObjective
from electra.pretrain import build, data_job, run_pretraining
from electra.tokenizer import SpecialIds
from electra.train import checkpoint
from electra.train.loop import Trainer
from tests.helpers import TINY, job


def pretrain_process(prepared: Path, out: Path, steps: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "electra",
        "pretrain",
        "--data",
        str(prepared),
        "--out",
        str(out),
        "--max-steps",
        str(steps),
        "--deterministic",
        *TINY,
        *extra,
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def newest_step(run: Path) -> int:
    found = checkpoint.list_checkpoints(checkpoint.checkpoint_dir(run))
    return int(found[-1].name.removeprefix(checkpoint.PREFIX)) if found else 0


LOCAL_WIDE_GENERATOR = (
    "--model.init_scheme",
    "local",
    "--recipe.generator_fraction",
    "1",
    "--recipe.generator_layers",
    "1",
    "--recipe.embedding_norm_cap",
    "0.25",  # binds: rows reach ~0.33 by step 120 without it
)


GDES = ("--recipe.embedding_sharing", "gdes")  # the discriminator's tables: the generator's + its own delta


VECTORS_FROZEN = ("--recipe.token_vectors", "true", "--recipe.freeze_token_table", "true")  # needs the vectors


@pytest.mark.parametrize(
    "options",
    [(), LOCAL_WIDE_GENERATOR, GDES, VECTORS_FROZEN],
    ids=["preset", "local-start-wide-generator-norm-cap", "gdes", "token-vectors-frozen"],
)
def test_sigkill_then_resume_reproduces_the_uninterrupted_run(request, tmp_path, options):
    prepared = request.getfixturevalue("prepared_vectors" if options == VECTORS_FROZEN else "prepared")
    steps = 120
    full = pretrain_process(prepared, tmp_path / "full", steps, "--save-every", "10", *options)
    assert full.wait(timeout=300) == 0, full.communicate()[1]

    killed = pretrain_process(prepared, tmp_path / "killed", steps, "--save-every", "10", *options)
    wait_for(lambda: newest_step(tmp_path / "killed") >= 30, killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    assert newest_step(tmp_path / "killed") < steps, "the run finished before it could be killed"

    # no option retyped: --resume takes the run's configuration (and data) from its run.json
    resumed = subprocess.Popen(
        [sys.executable, "-m", "electra", "pretrain", "--out", str(tmp_path / "killed"), "--resume", "--no-progress"],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert resumed.wait(timeout=300) == 0, resumed.communicate()[1]
    a = (tmp_path / "full" / "metrics.jsonl").read_text()
    b = (tmp_path / "killed" / "metrics.jsonl").read_text()
    assert len(a.splitlines()) == steps // 5
    assert a == b  # --deterministic: timings live in timings.jsonl, the metrics are bit-identical
    assert (tmp_path / "full" / "discriminator" / "model.safetensors").read_bytes() == (
        tmp_path / "killed" / "discriminator" / "model.safetensors"
    ).read_bytes()


def test_sigterm_writes_a_complete_checkpoint_and_exits_0(prepared, tmp_path):
    run = tmp_path / "run"
    proc = pretrain_process(prepared, run, 100_000, "--save-every", "100000")
    wait_for(lambda: (run / "metrics.jsonl").is_file() and (run / "metrics.jsonl").stat().st_size > 0, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "SIGTERM" in err and "--resume" in err
    found = checkpoint.list_checkpoints(checkpoint.checkpoint_dir(run))
    assert len(found) == 1 and checkpoint.verify(found[0]) is None
    assert newest_step(run) >= 5
    assert not (run / "discriminator").exists()  # an unfinished run has no final models


def trainer_for(prepared: Path, tmp_path: Path, **train) -> Trainer:
    torch.manual_seed(0)
    data = PretrainData(prepared)
    the_job = data_job(job("electra", 40, **train), data.meta)
    objective = build(the_job, SpecialIds(**data.meta["special_ids"]), int(data.meta["max_seq_len"]))
    (tmp_path / "run").mkdir()
    return Trainer(
        objective, BatchStream(data, 16, seed=1), the_job.train, tmp_path / "run", torch.device("cpu"), progress=False
    )


def poison(monkeypatch, steps: set[int], trainer: Trainer) -> None:
    """Make the loss NaN on the given (1-based) steps."""
    forward = ElectraObjective.forward

    def maybe_nan(self, batch, rng):
        out = forward(self, batch, rng)
        if trainer.step + 1 in steps:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(ElectraObjective, "forward", maybe_nan)


def test_a_non_finite_step_is_skipped_and_counted(prepared, tmp_path, monkeypatch):
    trainer = trainer_for(prepared, tmp_path)
    poison(monkeypatch, {3}, trainer)
    for _ in range(2):
        trainer.train_step()
        trainer.step += 1
    before = {n: p.detach().clone() for n, p in trainer.objective.named_parameters()}
    moments = [s["exp_avg"].clone() for s in trainer.optimizer.state.values()]
    trainer.train_step()  # step 3: NaN loss
    trainer.step += 1
    for name, p in trainer.objective.named_parameters():
        assert torch.equal(p, before[name]), name
    assert all(torch.equal(s["exp_avg"], m) for s, m in zip(trainer.optimizer.state.values(), moments))
    trainer.train_step()  # step 4 is fine again and moves the weights
    trainer.step += 1
    assert any(not torch.equal(p, before[n]) for n, p in trainer.objective.named_parameters())
    row = trainer._log(1.0)
    assert row["skipped_steps"] == 1
    assert torch.isfinite(torch.tensor(row["loss"])) and row["disc_loss"] > 0


def test_too_many_bad_steps_stop_training_and_keep_the_last_good_checkpoint(prepared, tmp_path, monkeypatch):
    trainer = trainer_for(prepared, tmp_path, save_every=2, max_bad_steps=3)
    poison(monkeypatch, set(range(5, 100)), trainer)
    with pytest.raises(ElectraError, match="non-finite loss or gradient"):
        trainer.fit()
    assert trainer.step == 7  # the third bad step in a row
    root = checkpoint.checkpoint_dir(tmp_path / "run")
    assert [p.name for p in checkpoint.list_checkpoints(root)] == ["step-00000004", "step-00000006"]
    for path in checkpoint.list_checkpoints(root):
        assert checkpoint.verify(path) is None
    # steps 5 and 6 were skipped: the step-6 checkpoint holds step 4's weights
    weights = [
        (root / name / "discriminator" / "model.safetensors").read_bytes()
        for name in ("step-00000004", "step-00000006")
    ]
    assert weights[0] == weights[1]


def test_a_non_finite_model_is_never_saved(prepared, tmp_path):
    trainer = trainer_for(prepared, tmp_path)
    with torch.no_grad():
        next(trainer.objective.parameters())[0] = float("inf")
    with pytest.raises(ElectraError, match="not finite"):
        trainer.save()
    assert newest_step(tmp_path / "run") == 0


def test_the_same_seed_gives_the_same_metrics_file(prepared, tmp_path):
    torch.set_num_threads(1)
    runs = [
        run_pretraining(job("electra", 10, deterministic=True), prepared, tmp_path / f"r{i}", progress=False)
        for i in range(2)
    ]
    first, second = ((r / "metrics.jsonl").read_text() for r in runs)
    assert first == second and "tokens_per_s" not in first
    assert (runs[0] / "timings.jsonl").is_file()
