"""The learning-rate schedule spans the run's budget: steps, training time or model FLOPs."""

import json
from pathlib import Path

import pytest
import torch

from electra.config import ModelConfig, ObjectiveConfig, TrainConfig
from electra.pretrain import PretrainJob, run_pretraining
from electra.train import checkpoint
from electra.train.loop import Trainer
from electra.train.optim import (
    describe_schedule,
    linear_schedule,
    lr_factor,
    progress,
    schedule_summary,
    warmup_warning,
)

# ---------------------------------------------------------------- the rule


@pytest.mark.parametrize("warmup,steps", [(10, 100), (0, 50), (60, 50), (5, 5), (500, 20_000)])
def test_with_steps_alone_it_is_the_step_schedule_exactly(warmup, steps):
    cfg = TrainConfig(warmup_steps=warmup, max_steps=steps)
    reference = linear_schedule(warmup, steps)
    assert [lr_factor(cfg, s) for s in range(steps)] == [reference(s) for s in range(steps)]


def test_a_time_budget_warms_up_in_steps_and_decays_to_zero_with_the_time():
    cfg = TrainConfig(warmup_steps=10, max_steps=10**6, max_minutes=10)
    assert lr_factor(cfg, 4, seconds=1.0) == pytest.approx(0.5)  # the ramp counts steps
    assert lr_factor(cfg, 50, seconds=0.0) == pytest.approx(1.0, abs=1e-4)
    assert lr_factor(cfg, 50, seconds=300.0) == pytest.approx(0.5, abs=1e-4)  # half the time: half the rate
    assert lr_factor(cfg, 50, seconds=594.0) == pytest.approx(0.01, abs=1e-4)
    assert lr_factor(cfg, 50, seconds=600.0) == 0.0
    assert progress(cfg, 50, seconds=300.0) == pytest.approx(0.5)


def test_a_flops_budget_decays_with_the_flops():
    cfg = TrainConfig(warmup_steps=0, max_steps=10**6, max_flops=1e12)
    assert lr_factor(cfg, 7, flops=2.5e11) == pytest.approx(0.75, abs=1e-4)
    assert lr_factor(cfg, 7, flops=1e12) == 0.0
    assert progress(cfg, 7, flops=2.5e11) == pytest.approx(0.25)


def test_several_budgets_follow_the_one_furthest_along():
    cfg = TrainConfig(warmup_steps=0, max_steps=100, max_minutes=10, max_flops=1e12)
    assert progress(cfg, 50, seconds=60.0, flops=1e11) == pytest.approx(0.5)  # steps lead
    assert progress(cfg, 10, seconds=540.0, flops=1e11) == pytest.approx(0.9)  # time leads
    assert progress(cfg, 10, seconds=60.0, flops=8e11) == pytest.approx(0.8)  # FLOPs lead
    assert lr_factor(cfg, 10, seconds=540.0, flops=1e11) == pytest.approx(0.1)


def test_a_budget_shorter_than_the_warmup_turns_down_before_the_peak_and_ends_at_zero():
    cfg = TrainConfig(warmup_steps=1000, max_steps=10**6, max_minutes=1)
    factors = [lr_factor(cfg, s, seconds=s * 0.3) for s in range(200)]  # the budget ends at step 200
    peak = max(factors)
    assert peak < 0.2 and factors.index(peak) not in (0, 199)
    assert factors[-1] < 0.01 and lr_factor(cfg, 200, seconds=60.0) == 0.0


def test_a_warmup_that_ends_early_holds_the_peak_until_the_decay_line():
    cfg = TrainConfig(warmup_steps=10, max_steps=100, max_minutes=10)  # the decay line is 1 at progress 0.1
    assert lr_factor(cfg, 10, seconds=6.0) == 1.0
    assert lr_factor(cfg, 10, seconds=300.0) == pytest.approx(0.5 / 0.9)


def test_the_summary_names_every_budget():
    cfg = TrainConfig(warmup_steps=500, max_steps=20_000, max_minutes=20, lr=1e-3)
    line = describe_schedule(schedule_summary(cfg))
    assert "500 steps" in line and "20 minutes" in line and "20,000 steps" in line
    flops = schedule_summary(TrainConfig(max_steps=100, warmup_steps=10, max_flops=1e15), step_flops=1e11)
    assert flops["flops_budget_steps_estimate"] == 10_100
    assert "1e+15 FLOPs (~10,100 steps)" in describe_schedule(flops)
    assert describe_schedule(schedule_summary(TrainConfig(max_steps=100, warmup_steps=10))).endswith("at 100 steps")


# ---------------------------------------------------------------- in a run

MODEL = ModelConfig(
    embedding_size=32,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=64,
)
SECONDS_PER_STEP = 0.5


def job(**train) -> PretrainJob:
    cfg = dict(
        batch_size=16,
        lr=2e-3,
        warmup_steps=4,
        max_steps=1000,
        max_minutes=0.25,
        log_every=5,
        save_every=10,
        device="cpu",
        seed=7,
        deterministic=True,
    )
    cfg.update(train)
    return PretrainJob("electra", MODEL, ObjectiveConfig(generator_fraction=0.5), TrainConfig(**cfg))


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def step_clock(monkeypatch):
    """Training time is SECONDS_PER_STEP per step (plus an offset the test may change): a time
    budget then ends at a known step and a run repeats exactly."""
    offset = {"seconds": 0.0}
    monkeypatch.setattr(Trainer, "clock", lambda self: offset["seconds"] + SECONDS_PER_STEP * self.step)
    return offset


class Killed(Exception):
    """Stands in for the process dying right after a checkpoint."""


def test_a_time_budget_ends_the_run_annealed(prepared, tmp_path, step_clock, capsys):
    torch.set_num_threads(1)
    run = run_pretraining(job(), prepared, tmp_path / "run", progress=False)
    assert "then linear decay to 0 at whichever is spent first of 0.25 minutes, 1,000 steps" in capsys.readouterr().err
    assert json.loads((run / "schedule.json").read_text())["decay_to_zero_at"] == {"steps": 1000, "minutes": 0.25}
    rows = metrics(run)
    assert rows[-1]["step"] == 30  # 15 s at 0.5 s per step
    assert rows[-1]["progress"] == pytest.approx(1.0)
    cfg = job().train
    for row in rows:  # the rate of each logged step is that of the time spent before it
        assert row["lr"] == pytest.approx(
            cfg.lr * lr_factor(cfg, row["step"] - 1, SECONDS_PER_STEP * (row["step"] - 1))
        )
    assert rows[-1]["lr"] < 0.05 * cfg.lr  # annealed, not at the peak as a 1,000-step schedule would be


def test_a_resumed_time_budgeted_run_continues_the_schedule_from_the_recorded_time(
    prepared, tmp_path, step_clock, monkeypatch
):
    torch.set_num_threads(1)
    full = run_pretraining(job(), prepared, tmp_path / "full", progress=False)

    save = Trainer.save

    def save_then_die(self):
        save(self)
        if self.step == 10:
            raise Killed

    monkeypatch.setattr(Trainer, "save", save_then_die)
    part = tmp_path / "part"
    with pytest.raises(Killed):
        run_pretraining(job(), prepared, part, progress=False)
    monkeypatch.setattr(Trainer, "save", save)
    state = torch.load(checkpoint.checkpoint_dir(part) / "step-00000010" / "trainer_state.pt", weights_only=False)
    assert state["elapsed"] == pytest.approx(10 * SECONDS_PER_STEP)
    step_clock["seconds"] = 1e6  # another process, another clock: only the recorded time counts
    run_pretraining(job(), prepared, part, resume=True, progress=False)
    resumed = metrics(part)
    cfg = job().train
    row = next(r for r in resumed if r["step"] == 15)
    assert row["lr"] == pytest.approx(cfg.lr * lr_factor(cfg, 14, state["elapsed"] + 4 * SECONDS_PER_STEP))
    assert [(r["step"], r["lr"], r["loss"]) for r in resumed] == [
        (r["step"], r["lr"], r["loss"]) for r in metrics(full)
    ]
    assert (part / "discriminator" / "model.safetensors").read_bytes() == (
        full / "discriminator" / "model.safetensors"
    ).read_bytes()


def test_a_flops_budget_ends_the_run_annealed(prepared, tmp_path, capsys):
    torch.set_num_threads(1)
    probe = run_pretraining(job(max_minutes=None, max_steps=5), prepared, tmp_path / "probe", progress=False)
    per_step = metrics(probe)[-1]["flops"] / 5
    capsys.readouterr()
    run = run_pretraining(job(max_minutes=None, max_flops=20 * per_step), prepared, tmp_path / "run", progress=False)
    assert "FLOPs (~" in capsys.readouterr().err
    rows = metrics(run)
    assert 15 <= rows[-1]["step"] <= 25 and rows[-1]["flops"] >= 20 * per_step
    assert rows[-1]["progress"] == pytest.approx(1.0)
    assert rows[-1]["lr"] < 0.2 * job().train.lr


def test_the_warmup_warning_claims_only_what_the_budgets_make_true():
    assert warmup_warning(TrainConfig(warmup_steps=10, max_steps=100)) is None
    steps_only = warmup_warning(TrainConfig(warmup_steps=500, max_steps=20))
    assert "never reaches its peak" in steps_only and "never decays" in steps_only
    for budget in (dict(max_minutes=5.0), dict(max_flops=1e12)):  # a budget that ends the run sooner turns it down
        said = warmup_warning(TrainConfig(warmup_steps=500, max_steps=20, **budget))
        assert "never reaches its peak" in said and "decays" not in said
    assert warmup_warning(TrainConfig(warmup_steps=500, max_steps=20_000, max_minutes=1.0)) is None
