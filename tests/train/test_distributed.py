"""torchrun on CPU (gloo): two processes with half batches train like one process with the whole;
gradient accumulation reduces once per step; a time budget stops every process at the same step.

Run as a script under torchrun, this file is the worker of the gradient-accumulation test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

NO_DROPOUT = [
    "--model.embedding_size",
    "32",
    "--model.hidden_size",
    "32",
    "--model.num_hidden_layers",
    "2",
    "--model.num_attention_heads",
    "2",
    "--model.intermediate_size",
    "64",
    "--model.hidden_dropout_prob",
    "0",
    "--model.attention_probs_dropout_prob",
    "0",
    "--train.batch_size",
    "16",
    "--train.log_every",
    "5",
    "--train.warmup_steps",
    "5",
    "--train.lr",
    "2e-3",
    "--train.device",
    "cpu",
    "--no-progress",
    "--save-every",
    "10",
]


def pretrain(prepared: Path, out: Path, steps: int, processes: int, *extra: str) -> str:
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        if processes > 1
        else [sys.executable]
    )
    cmd = [
        *launcher,
        "-m",
        "electra",
        "pretrain",
        "--data",
        str(prepared),
        "--out",
        str(out),
        "--max-steps",
        str(steps),
        *NO_DROPOUT,
        *extra,
    ]
    if processes > 1:  # torch.distributed.run takes a script or module; -m is its own option
        cmd = [*launcher, "--module", "electra", *cmd[len(launcher) + 2 :]]
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


def test_tiny_budgets_start_and_cap_train_alike_in_two_processes(prepared, tmp_path):
    """The options ``--preset tiny-budget`` adds: the ``local`` start and a token-row cap that binds."""
    options = ("--model.init_scheme", "local", "--recipe.embedding_norm_cap", "0.1")
    pretrain(prepared, tmp_path / "one", 10, 1, *options)
    pretrain(prepared, tmp_path / "two", 10, 2, *options)
    one, two = rows(tmp_path / "one"), rows(tmp_path / "two")
    assert [r["step"] for r in one] == [r["step"] for r in two] == [5, 10]
    for a, b in zip(one, two):
        for key in KEYS:
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], key)
    from safetensors.torch import load_file

    for run in ("one", "two"):
        table = load_file(str(tmp_path / run / "discriminator" / "model.safetensors"))
        rows_norm = table["electra.embeddings.word_embeddings.weight"].norm(dim=1)
        assert rows_norm.max() <= 0.1 + 1e-5 and rows_norm.max() > 0.099  # capped, and the cap binds
        assert json.loads((tmp_path / run / "discriminator" / "config.json").read_text())["init_scheme"] == "local"


@pytest.mark.parametrize("placement", [(), ("--train.fsdp", "true")], ids=["ddp", "fsdp"])
def test_a_frozen_token_table_from_vectors_trains_alike_in_two_processes(prepared_vectors, tmp_path, placement):
    """``--preset tiny-vectors``'s table options: every process places the same vectors, none
    updates the table, and the rest trains as in one process."""
    from safetensors.torch import load_file

    options = ("--recipe.token_vectors", "true", "--recipe.freeze_token_table", "true")
    pretrain(prepared_vectors, tmp_path / "one", 10, 1, *options)
    pretrain(prepared_vectors, tmp_path / "two", 10, 2, *options, *placement)
    for a, b in zip(rows(tmp_path / "one"), rows(tmp_path / "two")):
        for key in KEYS:
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], key)
    saved = {run: load_file(str(tmp_path / run / "discriminator" / "model.safetensors")) for run in ("one", "two")}
    table = "electra.embeddings.word_embeddings.weight"
    assert torch.equal(saved["one"][table], saved["two"][table])  # never updated: the placed start on both
    key = "electra.encoder.layer.1.output.dense.weight"
    torch.testing.assert_close(saved["two"][key], saved["one"][key], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("placement", [(), ("--train.fsdp", "true")], ids=["ddp", "fsdp"])
def test_gdes_trains_alike_in_two_processes(prepared, tmp_path, placement):
    """``--recipe.embedding_sharing gdes``: every process adds the generator's (possibly sharded)
    change to the discriminator's tables; the saved tables match one process's."""
    from safetensors.torch import load_file

    options = ("--recipe.embedding_sharing", "gdes")
    pretrain(prepared, tmp_path / "one", 10, 1, *options)
    pretrain(prepared, tmp_path / "two", 10, 2, *options, *placement)
    for a, b in zip(rows(tmp_path / "one"), rows(tmp_path / "two")):
        for key in KEYS:
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a["step"], key)
    key = "electra.embeddings.word_embeddings.weight"
    saved = {
        (run, part): load_file(str(tmp_path / run / part / "model.safetensors"))[key]
        for run in ("one", "two")
        for part in ("discriminator", "generator")
    }
    for part in ("discriminator", "generator"):
        torch.testing.assert_close(saved["two", part], saved["one", part], atol=1e-5, rtol=1e-4)
    delta = saved["one", "discriminator"] - saved["one", "generator"]
    assert delta.abs().max() > 1e-4  # the discriminator's own part has grown


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


def test_a_time_budget_stops_every_process_at_the_same_step_annealed(prepared, tmp_path):
    run = tmp_path / "run"
    err = pretrain(prepared, run, 100_000, 2, "--max-minutes", "0.1", "--train.grad_accum", "2")
    assert "linear decay to 0 at whichever is spent first of 0.1 minutes" in err
    last = rows(run)[-1]  # a process that stopped alone would have hung the others (and this test)
    assert 0 < last["step"] < 100_000 and last["progress"] == pytest.approx(1.0)
    assert last["lr"] < 0.5 * 2e-3  # the decay followed the time, not the 100,000 steps
    assert (run / "discriminator" / "model.safetensors").is_file()


def test_gradient_accumulation_reduces_once_per_step_with_the_same_gradients(prepared, tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        __file__,
        str(prepared),
        str(tmp_path),
    ]
    done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in (0, 1):
        result = json.loads((tmp_path / f"result-{rank}.json").read_text())
        for placement in ("ddp", "fsdp"):
            same = result[placement]
            assert same["parameters"] > 0 and same["largest_difference"] <= 1e-6 * same["largest_gradient"], same
        reductions = result["ddp"]["reductions"]
        assert reductions["skipped"] > 0 and reductions["every"] == 2 * reductions["skipped"], reductions


def _grad_accum_worker(prepared: Path, out: Path) -> None:
    """Under torchrun: one optimizer step of two micro-batches, once as the trainer takes it (the
    first micro-batch's reduction skipped) and once reducing both; writes, per placement, the
    largest difference between the two gradients and (DDP) how many bucket reductions ran."""
    from contextlib import nullcontext

    import torch
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    from electra.config import ModelConfig, ObjectiveConfig, TrainConfig
    from electra.data.loader import BatchStream, PretrainData
    from electra.pretrain import PretrainJob, build, data_job
    from electra.tokenizer import SpecialIds
    from electra.train import distributed
    from electra.train.loop import Trainer

    torch.set_num_threads(1)
    procs = distributed.from_environment()
    device = distributed.setup(procs, torch.device("cpu"))
    data = PretrainData(prepared)
    model = ModelConfig(
        embedding_size=32,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=64,
    )
    result = {}
    for placement in ("ddp", "fsdp"):
        grads, reductions = {}, {}
        for mode in ("skipped", "every"):
            train = TrainConfig(
                batch_size=16,
                grad_accum=2,
                warmup_steps=0,
                max_steps=10,
                device="cpu",
                seed=3,
                fsdp=placement == "fsdp",
            )
            job = data_job(PretrainJob("electra", model, ObjectiveConfig(generator_fraction=0.5), train), data.meta)
            objective = build(job, SpecialIds(**data.meta["special_ids"]), int(data.meta["max_seq_len"]))
            stream = BatchStream(data, 8, seed=1, rank=procs.rank, world_size=procs.world_size)
            trainer = Trainer(
                objective, stream, job.train, out, device, progress=False, procs=procs, full_width=data.max_seq_len
            )
            if mode == "every":
                trainer.placement.no_sync = nullcontext
            count = [0]
            if placement == "ddp":

                def counting(state, bucket, count=count):
                    count[0] += 1
                    return allreduce_hook(None, bucket)

                trainer.model.register_comm_hook(None, counting)
            step = trainer._step_unless_non_finite

            def capture(loss, lr, step=step, trainer=trainer, mode=mode, grads=grads):
                local = {
                    n: p.grad.to_local() if hasattr(p.grad, "to_local") else p.grad
                    for n, p in trainer.objective.named_parameters()
                    if p.grad is not None
                }
                grads[mode] = {n: g.detach().clone() for n, g in local.items() if g.numel()}  # a shard may be empty
                step(loss, lr)

            trainer._step_unless_non_finite = capture
            trainer.train_step()
            trainer.stream.close()
            reductions[mode] = count[0]
        a, b = grads["skipped"], grads["every"]
        assert a.keys() == b.keys()
        result[placement] = {
            "parameters": len(a),
            "largest_difference": max(float((a[n] - b[n]).abs().max()) for n in a),
            "largest_gradient": max(float(a[n].abs().max()) for n in a),
            "reductions": reductions,
        }
    (out / f"result-{procs.rank}.json").write_text(json.dumps(result))
    distributed.shutdown(procs)


if __name__ == "__main__":
    _grad_accum_worker(Path(sys.argv[1]), Path(sys.argv[2]))
