"""torchrun on CPU (gloo): two processes with half batches train like one process with the whole."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NO_DROPOUT = ["--model.embedding_size", "32", "--model.hidden_size", "32", "--model.num_hidden_layers", "2",
              "--model.num_attention_heads", "2", "--model.intermediate_size", "64",
              "--model.hidden_dropout_prob", "0", "--model.attention_probs_dropout_prob", "0",
              "--train.batch_size", "16", "--train.log_every", "5", "--train.warmup_steps", "5",
              "--train.lr", "2e-3", "--train.device", "cpu", "--no-progress", "--save-every", "10"]


def pretrain(prepared: Path, out: Path, steps: int, processes: int, *extra: str) -> str:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
                if processes > 1 else [sys.executable])
    cmd = [*launcher, "-m", "electra", "pretrain", "--data", str(prepared), "--out", str(out),
           "--max-steps", str(steps), *NO_DROPOUT, *extra]
    if processes > 1:  # torch.distributed.run takes a script or module; -m is its own option
        cmd = [*launcher, "--module", "electra", *cmd[len(launcher) + 2:]]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


KEYS = ("loss", "mlm_loss", "disc_loss", "gen_acc", "disc_acc", "replaced_share")


def test_two_processes_match_one_process_with_the_global_batch(prepared, tmp_path):
    pretrain(prepared, tmp_path / "one", 20, 1)
    assert "DDP (replicated), gloo" in pretrain(prepared, tmp_path / "two", 20, 2)
    one, two = rows(tmp_path / "one"), rows(tmp_path / "two")
    assert [r["step"] for r in one] == [r["step"] for r in two] == [5, 10, 15, 20]
    for a, b in zip(one, two):
        for key in KEYS:
            # same examples, masks and samples on both sides; only float summation order differs
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], key)
    assert one[-1]["loss"] < one[0]["loss"]


def test_a_two_process_checkpoint_resumes_in_one_process(prepared, tmp_path):
    run = tmp_path / "run"
    pretrain(prepared, run, 20, 2)
    for done in ("checkpoints/step-00000020", "discriminator", "generator"):  # as if it died after step 10
        shutil.rmtree(run / done)
    pretrain(prepared, run, 20, 1, "--resume")
    pretrain(prepared, tmp_path / "straight", 20, 1)
    resumed, straight = rows(tmp_path / "run"), rows(tmp_path / "straight")
    assert [r["step"] for r in resumed] == [5, 10, 15, 20]
    for a, b in zip(straight, resumed):
        for key in KEYS:
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], key)
    assert (tmp_path / "run" / "discriminator" / "model.safetensors").is_file()


def test_fully_sharded_matches_one_process_and_resumes_in_one(prepared, tmp_path):
    run = tmp_path / "fsdp"
    assert "FSDP (sharded)" in pretrain(prepared, run, 20, 2, "--train.fsdp", "true")
    pretrain(prepared, tmp_path / "one", 20, 1)
    sharded, one = rows(run), rows(tmp_path / "one")
    for a, b in zip(one, sharded):
        for key in KEYS:
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], key)
    for done in ("checkpoints/step-00000020", "discriminator", "generator"):
        shutil.rmtree(run / done)
    pretrain(prepared, run, 20, 1, "--resume")  # the gathered checkpoint loads without sharding
    for a, b in zip(one, rows(run)):
        for key in KEYS:
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], key)
