"""Run integrity: a resumed run continues on its own data, with its own configuration, from a
checkpoint whose content is verified. Every refusal is one line and leaves the run untouched."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from electra.cli import main
from electra.config import PrepareConfig
from electra.data.prepare import prepare
from electra.errors import ElectraError
from electra.pretrain import run_pretraining
from electra.train import checkpoint
from electra.train.loop import Trainer
from electra.train.resume import data_fingerprint, differences
from tests.helpers import TINY, Killed, job, metrics

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: content digest and modification time."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def electra(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "electra", *args], env=env, capture_output=True, text=True, timeout=300
    )


def cli_run(prepared: Path, out: Path, steps: int, *extra: str) -> int:
    return main(
        [
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
    )


@pytest.fixture(scope="module")
def cli_base(prepared, tmp_path_factory) -> Path:
    """A finished 20-step CLI run with checkpoints at steps 10 and 20."""
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("cli") / "run"
    assert cli_run(prepared, run, 20, "--save-every", "10") == 0
    return run


@pytest.fixture
def cli_copy(cli_base, tmp_path) -> Path:
    return Path(shutil.copytree(cli_base, tmp_path / "run"))


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


# ---------------------------------------------------------------- resume means the run's configuration


def test_resume_needs_no_flags_and_applies_and_records_budget_and_cadence(cli_copy, capsys):
    assert (
        main(
            [
                "pretrain",
                "--out",
                str(cli_copy),
                "--resume",
                "--max-steps",
                "30",
                "--save-every",
                "5",
                "--train.keep_checkpoints",
                "3",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "resumed from" in capsys.readouterr().err
    run = json.loads((cli_copy / "run.json").read_text())
    assert (run["train"]["max_steps"], run["train"]["save_every"], run["train"]["keep_checkpoints"]) == (30, 5, 3)
    assert run["model"]["hidden_size"] == 32  # the run's, not the preset's 128
    assert [r["step"] for r in metrics(cli_copy)] == [5, 10, 15, 20, 25, 30]
    kept = checkpoint.list_checkpoints(checkpoint.checkpoint_dir(cli_copy))
    assert [p.name for p in kept] == ["step-00000020", "step-00000025", "step-00000030"]
    assert json.loads((cli_copy / "discriminator" / "config.json").read_text())["hidden_size"] == 32


@pytest.mark.parametrize(
    "flags,listed",
    [
        (
            ["--train.lr", "0.05", "--recipe.mask_prob", "0.4"],
            ["train.lr: 0.001 -> 0.05", "recipe.mask_prob: 0.15 -> 0.4"],
        ),
        (
            ["--model.hidden_size", "64", "--model.num_attention_heads", "4"],
            ["model.hidden_size: 32 -> 64", "model.num_attention_heads: 2 -> 4"],
        ),
        (["--preset", "small"], ['preset: "tiny" -> "small"']),
        (["--objective", "mlm"], ['objective: "electra" -> "mlm"']),
    ],
)
def test_resume_refuses_other_options_and_lists_them(cli_copy, capsys, flags, listed):
    before = snapshot(cli_copy)
    assert main(["pretrain", "--out", str(cli_copy), "--resume", "--max-steps", "40", *flags]) == 2
    line = error_line(capsys)
    assert "cannot change on resume" in line and "nothing was written" in line
    for difference in listed:
        assert difference in line
    assert "max_steps" not in line  # a budget may change
    assert snapshot(cli_copy) == before


def test_only_the_budget_cadence_and_execution_settings_may_change():
    run = job("electra", 10).to_dict()
    changed = {
        **run,
        "train": {
            **run["train"],
            "max_steps": 99,
            "max_minutes": 5.0,
            "max_flops": 1e12,
            "save_every": 3,
            "log_every": 2,
            "keep_checkpoints": 9,
            "device": "cuda",
            "fsdp": True,
            "compile": True,
        },
    }
    assert differences(run, changed) == []
    changed["train"].update(lr=0.05, seed=1, grad_accum=2)
    changed["model"] = {**run["model"], "hidden_size": 64}
    assert sorted(differences(run, changed)) == [
        "model.hidden_size: 32 -> 64",
        "train.grad_accum: 1 -> 2",
        "train.lr: 0.002 -> 0.05",
        "train.seed: 7 -> 1",
    ]


def test_resume_where_there_is_no_run_is_an_error(tmp_path, capsys):
    assert main(["pretrain", "--out", str(tmp_path / "none"), "--resume"]) == 2
    line = error_line(capsys)
    assert "no run to resume" in line and "drop --resume" in line
    assert not (tmp_path / "none").exists()


def test_resume_of_a_run_without_a_checkpoint_starts_it_from_step_0(cli_base, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(cli_base / "run.json", run / "run.json")  # a run killed before its first checkpoint
    assert main(["pretrain", "--out", str(run), "--resume", "--max-steps", "5"]) == 0
    assert "holds no checkpoint yet; its run starts from step 0" in capsys.readouterr().err
    assert [r["step"] for r in metrics(run)] == [5]
    assert json.loads((run / "discriminator" / "config.json").read_text())["hidden_size"] == 32


def test_a_runs_run_json_is_a_config_file(cli_base, tmp_path, capsys):
    new = tmp_path / "new"
    assert main(["pretrain", "--config", str(cli_base / "run.json"), "--out", str(new), "--max-steps", "5"]) == 0
    old, made = (json.loads((r / "run.json").read_text()) for r in (cli_base, new))
    assert made["model"] == old["model"] and made["recipe"] == old["recipe"]
    assert made["train"] == {**old["train"], "max_steps": 5}


def test_resume_with_the_runs_run_json_as_config(cli_copy, capsys):
    assert (
        main(
            [
                "pretrain",
                "--config",
                str(cli_copy / "run.json"),
                "--out",
                str(cli_copy),
                "--resume",
                "--max-steps",
                "25",
            ]
        )
        == 0
    )
    assert [r["step"] for r in metrics(cli_copy)][-1] == 25


# ---------------------------------------------------------------- a run knows its data


def test_run_json_and_every_checkpoint_record_the_data_fingerprint(cli_base, prepared):
    expected = data_fingerprint(prepared, json.loads((prepared / "meta.json").read_text()))
    assert json.loads((cli_base / "run.json").read_text())["data_fingerprint"] == expected
    for path in checkpoint.list_checkpoints(checkpoint.checkpoint_dir(cli_base)):
        assert checkpoint.read_manifest(path)["data"] == expected


def retokenized_copy(prepared: Path, folder: Path) -> Path:
    """The prepared folder with a tokenizer of the same size whose ids of two tokens are swapped
    (what re-running a non-reproducible tokenizer training does)."""
    shutil.copytree(prepared, folder)
    body = json.loads((folder / "tokenizer.json").read_text())
    vocab = body["model"]["vocab"]
    a, b = sorted(vocab, key=vocab.get)[100:102]
    vocab[a], vocab[b] = vocab[b], vocab[a]
    (folder / "tokenizer.json").write_text(json.dumps(body))
    return folder


def test_resume_on_a_retrained_tokenizer_is_refused_and_writes_nothing(cli_copy, prepared, tmp_path, capsys):
    other = retokenized_copy(prepared, tmp_path / "data")
    ours = json.loads((cli_copy / "run.json").read_text())["data_fingerprint"]
    theirs = data_fingerprint(other, json.loads((other / "meta.json").read_text()))
    before = snapshot(cli_copy)
    assert main(["pretrain", "--out", str(cli_copy), "--resume", "--data", str(other), "--max-steps", "30"]) == 2
    line = error_line(capsys)
    assert "the tokenizer differs" in line and "shards" in line
    assert ours["tokenizer"][:16] in line and theirs["tokenizer"][:16] in line
    assert snapshot(cli_copy) == before


def test_resume_on_other_shards_is_refused(prepared, tmp_path):
    run = run_pretraining(job("electra", 5, save_every=5), prepared, tmp_path / "run", progress=False)
    other = tmp_path / "data"
    prepare([CORPUS], other, PrepareConfig(tokenizer=str(prepared), max_seq_len=64, seed=99), progress=False)
    before = snapshot(run)
    with pytest.raises(ElectraError, match="the shards differ") as caught:
        run_pretraining(job("electra", 10, save_every=5), other, run, resume=True, progress=False)
    assert "tokenizer differs" not in str(caught.value)
    assert snapshot(run) == before


def test_the_checkpoints_record_of_the_data_is_checked_without_run_json(prepared, tmp_path):
    run = run_pretraining(job("electra", 5, save_every=5), prepared, tmp_path / "run", progress=False)
    (run / "run.json").unlink()
    other = retokenized_copy(prepared, tmp_path / "data")
    with pytest.raises(ElectraError, match="from step-00000005: tokenizer"):
        run_pretraining(job("electra", 10, save_every=5), other, run, resume=True, progress=False)
    assert not (run / "run.json").exists()


def test_resume_on_the_same_corpus_prepared_again_continues(prepared, tmp_path):
    run = run_pretraining(job("electra", 5, save_every=5), prepared, tmp_path / "run", progress=False)
    again = tmp_path / "again"  # prepare is reproducible: same corpus and settings, same fingerprint
    settings = json.loads((prepared / "meta.json").read_text())["config"]
    fields = {f.name for f in dataclasses.fields(PrepareConfig)}
    prepare([CORPUS], again, PrepareConfig(**{k: v for k, v in settings.items() if k in fields}), progress=False)
    run_pretraining(job("electra", 10, save_every=5), again, run, resume=True, progress=False)
    assert [r["step"] for r in metrics(run)] == [5, 10]


def test_resume_on_a_moved_copy_of_the_data_continues(prepared, tmp_path):
    run = run_pretraining(job("electra", 5, save_every=5), prepared, tmp_path / "run", progress=False)
    moved = Path(shutil.copytree(prepared, tmp_path / "moved"))
    run_pretraining(job("electra", 10, save_every=5), moved, run, resume=True, progress=False)
    assert [r["step"] for r in metrics(run)] == [5, 10]
    assert json.loads((run / "run.json").read_text())["data"] == str(moved)


# ---------------------------------------------------------------- checkpoints verify content


@pytest.fixture(scope="module")
def interrupted(prepared, tmp_path_factory) -> tuple[Path, Path]:
    """(an uninterrupted 30-step run, the same run killed right after its step-20 checkpoint)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("interrupted")
    full = run_pretraining(
        job("electra", 30, save_every=10, deterministic=True), prepared, root / "full", progress=False
    )
    save = Trainer.save

    def save_then_die(self):
        save(self)
        if self.step == 20:
            raise Killed

    Trainer.save = save_then_die
    try:
        with pytest.raises(Killed):
            run_pretraining(
                job("electra", 30, save_every=10, deterministic=True), prepared, root / "killed", progress=False
            )
    finally:
        Trainer.save = save
    return full, root / "killed"


def garble(path: Path, start: int = 0, length: int | None = None) -> None:
    """Overwrite ``length`` bytes (default: all) from ``start`` with other bytes; the size stays."""
    data = bytearray(path.read_bytes())
    end = len(data) if length is None else min(len(data), start + length)
    data[start:end] = bytes((b + 1 + i) % 256 for i, b in enumerate(data[start:end]))
    path.write_bytes(bytes(data))


def resume_equals_uninterrupted(prepared: Path, full: Path, run: Path) -> None:
    run_pretraining(job("electra", 30, save_every=10, deterministic=True), prepared, run, resume=True, progress=False)
    assert metrics(run) == metrics(full)  # deterministic: no timings in the rows
    assert (run / "discriminator" / "model.safetensors").read_bytes() == (
        full / "discriminator" / "model.safetensors"
    ).read_bytes()


def test_a_same_size_corruption_of_any_checkpoint_file_falls_back_and_resumes_exactly(
    interrupted, prepared, tmp_path, capsys
):
    full, killed = interrupted
    newest = checkpoint.checkpoint_dir(killed) / "step-00000020"
    names = sorted(str(p.relative_to(newest)) for p in newest.rglob("*") if p.is_file())
    assert {"manifest.json", "trainer_state.pt", "discriminator/model.safetensors", "generator/config.json"} <= set(
        names
    )
    for name in names:
        run = Path(shutil.copytree(killed, tmp_path / name.replace("/", "_")))
        garble(checkpoint.checkpoint_dir(run) / "step-00000020" / name)
        capsys.readouterr()
        resume_equals_uninterrupted(prepared, full, run)
        err = capsys.readouterr().err
        assert "step-00000020 is damaged" in err and "step-00000010 at step 10" in err, (name, err)


def test_garbage_in_the_middle_of_the_trainer_state_is_detected(interrupted, prepared, tmp_path, capsys):
    full, killed = interrupted
    run = Path(shutil.copytree(killed, tmp_path / "run"))
    state = checkpoint.checkpoint_dir(run) / "step-00000020" / "trainer_state.pt"
    garble(state, start=state.stat().st_size // 2, length=4096)
    resume_equals_uninterrupted(prepared, full, run)
    assert "content differs from the manifest's sha256" in capsys.readouterr().err


def sizes_only(run: Path) -> None:
    """Rewrite every manifest the way checkpoints were written before checksums: sizes only."""
    for path in checkpoint.list_checkpoints(checkpoint.checkpoint_dir(run)):
        manifest = json.loads((path / "manifest.json").read_text())
        files = {name: entry["size"] for name, entry in manifest["files"].items()}
        (path / "manifest.json").write_text(json.dumps({"step": manifest["step"], "files": files}))


def test_a_checkpoint_with_an_old_sizes_only_manifest_still_loads(interrupted, prepared, tmp_path, capsys):
    full, killed = interrupted
    run = Path(shutil.copytree(killed, tmp_path / "run"))
    sizes_only(run)
    resume_equals_uninterrupted(prepared, full, run)
    err = capsys.readouterr().err
    assert "damaged" not in err and "step-00000020 at step 20" in err


def test_an_unloadable_trainer_state_under_an_old_manifest_falls_back(interrupted, prepared, tmp_path, capsys):
    full, killed = interrupted
    run = Path(shutil.copytree(killed, tmp_path / "run"))
    sizes_only(run)  # the size matches: only loading can tell
    garble(checkpoint.checkpoint_dir(run) / "step-00000020" / "trainer_state.pt")
    resume_equals_uninterrupted(prepared, full, run)
    err = capsys.readouterr().err
    assert "step-00000020 is damaged (trainer_state.pt: cannot be unpickled" in err
    assert "step-00000010 at step 10" in err and "Traceback" not in err


def test_a_garbage_trainer_state_is_reported_without_a_traceback(cli_copy):
    garble(checkpoint.checkpoint_dir(cli_copy) / "step-00000020" / "trainer_state.pt")
    done = electra("pretrain", "--out", str(cli_copy), "--resume", "--max-steps", "25", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "step-00000020 is damaged" in done.stderr and "step-00000010 at step 10" in done.stderr


# ---------------------------------------------------------------- no silent substitution


def test_a_given_vocab_size_other_than_the_datas_is_an_error(prepared, tmp_path, capsys):
    vocab = json.loads((prepared / "meta.json").read_text())["vocab_size"]
    assert main(["pretrain", "--data", str(prepared), "--out", str(tmp_path / "run"), "--model.vocab_size", "100"]) == 2
    line = error_line(capsys)
    assert "--model.vocab_size 100" in line and f"{vocab} ids" in line
    assert not (tmp_path / "run").exists()


def test_dry_run_counts_parameters_at_the_datas_vocabulary(prepared, capsys):
    vocab = json.loads((prepared / "meta.json").read_text())["vocab_size"]
    assert main(["pretrain", "--dry-run", "--json"]) == 0
    bert = json.loads(capsys.readouterr().out)
    assert main(["pretrain", "--dry-run", "--json", "--data", str(prepared)]) == 0
    ours = json.loads(capsys.readouterr().out)
    assert main(["pretrain", "--dry-run", "--json", "--data", str(prepared), "--model.vocab_size", str(vocab)]) == 0
    assert json.loads(capsys.readouterr().out) == ours  # the data's own size, given, is accepted
    assert ours["model"]["vocab_size"] == vocab and bert["model"]["vocab_size"] == 30522
    # only the embedding table depends on the vocabulary: one row of embedding_size per id
    rows = (30522 - vocab) * bert["model"]["embedding_size"]
    assert bert["discriminator_parameters"] - ours["discriminator_parameters"] == rows


# ---------------------------------------------------------------- further cases of the same kind


def test_prepare_again_into_the_data_folder_then_resume(tmp_path, capsys):
    """The issue's first row as a user meets it: prepare the same corpus into the same folder
    again and resume (same data: continues); prepare other settings over it with --overwrite
    and resume (other data: refused, the run untouched)."""
    data, run = tmp_path / "data", tmp_path / "run"
    flags = ["--vocab-size", "2000", "--max-seq-len", "64"]
    assert main(["prepare", str(CORPUS), "--out", str(data), *flags]) == 0
    assert cli_run(data, run, 5, "--save-every", "5") == 0
    assert main(["prepare", str(CORPUS), "--out", str(data), *flags]) == 0
    assert main(["pretrain", "--out", str(run), "--resume", "--max-steps", "10"]) == 0
    assert [r["step"] for r in metrics(run)] == [5, 10]
    assert (
        main(["prepare", str(CORPUS), "--out", str(data), "--vocab-size", "1500", "--max-seq-len", "64", "--overwrite"])
        == 0
    )
    capsys.readouterr()
    before = snapshot(run)
    assert main(["pretrain", "--out", str(run), "--resume", "--max-steps", "15"]) == 2
    assert "is not the data the run" in error_line(capsys)
    assert snapshot(run) == before


def test_resume_with_another_runs_config_lists_the_differences(cli_copy, tmp_path, capsys):
    other = json.loads((cli_copy / "run.json").read_text())
    other["train"]["lr"], other["model"]["hidden_size"] = 0.002, 64
    (tmp_path / "other.json").write_text(json.dumps(other))
    before = snapshot(cli_copy)
    assert main(["pretrain", "--out", str(cli_copy), "--resume", "--config", str(tmp_path / "other.json")]) == 2
    line = error_line(capsys)
    assert "train.lr: 0.001 -> 0.002" in line and "model.hidden_size: 32 -> 64" in line
    assert snapshot(cli_copy) == before


@pytest.mark.parametrize("damage", ["truncated weights", "garbage manifest", "no manifest"])
def test_a_damaged_newest_checkpoint_of_any_size_falls_back(cli_copy, capsys, damage):
    newest = checkpoint.checkpoint_dir(cli_copy) / "step-00000020"
    if damage == "truncated weights":
        os.truncate(newest / "discriminator" / "model.safetensors", 100)
    elif damage == "garbage manifest":
        (newest / "manifest.json").write_text("not json")
    else:
        (newest / "manifest.json").unlink()
    assert main(["pretrain", "--out", str(cli_copy), "--resume", "--max-steps", "25"]) == 0
    err = capsys.readouterr().err
    assert "step-00000020 is damaged" in err and "step-00000010 at step 10" in err
    assert [r["step"] for r in metrics(cli_copy)][-1] == 25


def test_every_checkpoint_damaged_is_an_error_that_overwrites_nothing(cli_copy, capsys):
    for path in checkpoint.list_checkpoints(checkpoint.checkpoint_dir(cli_copy)):
        garble(path / "trainer_state.pt")
    before = snapshot(cli_copy)
    assert main(["pretrain", "--out", str(cli_copy), "--resume", "--max-steps", "25"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert sum("is damaged" in line for line in err) == 2
    assert err[-1].startswith("error: ") and "no checkpoint could be loaded" in err[-1]
    assert snapshot(cli_copy) == before


@pytest.mark.parametrize(
    "kind,marks",
    [
        ("prepared data", None),
        ("a fine-tuning run", ["results.json"]),
        ("a model", ["config.json", "model.safetensors"]),
    ],
)
def test_pretrain_never_writes_into_another_kind_of_folder(prepared, tmp_path, capsys, kind, marks):
    out = prepared  # --out the data folder itself
    if marks is not None:
        out = tmp_path / "out"
        (out / "seed-1").mkdir(parents=True)
        for name in marks:
            (out / name).write_text("{}")
    before = snapshot(out)
    assert cli_run(prepared, out, 2) == 2
    line = error_line(capsys)
    assert f"holds {kind}" in line and "not a pretraining run" in line
    assert snapshot(out) == before


def test_a_finished_run_is_never_started_over_without_resume(cli_copy, prepared, capsys):
    before = snapshot(cli_copy)
    assert cli_run(prepared, cli_copy, 5) == 2
    assert "already holds checkpoints" in error_line(capsys)
    assert snapshot(cli_copy) == before
    shutil.rmtree(checkpoint.checkpoint_dir(cli_copy))  # its final models stay
    before = snapshot(cli_copy)
    assert cli_run(prepared, cli_copy, 5) == 2
    assert "final models of a run (discriminator/, generator/)" in error_line(capsys)
    assert snapshot(cli_copy) == before


@pytest.mark.parametrize("out", ["file", "file/run"])
def test_an_out_that_cannot_be_a_folder_is_a_one_line_error(prepared, tmp_path, capsys, out):
    (tmp_path / "file").write_text("x")
    assert cli_run(prepared, tmp_path / out, 2) == 2
    assert "file" in error_line(capsys)
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize("part", ["generator", "checkpoints/step-00000020/generator"])
def test_init_from_a_pairs_generator_is_refused(cli_base, prepared, tmp_path, capsys, part):
    assert cli_run(prepared, tmp_path / "new", 2, "--init", str(cli_base / part)) == 2
    line = error_line(capsys)
    assert "the generator of a pretraining pair" in line and "not a model to start pretraining from" in line
    assert not (tmp_path / "new").exists()


def test_a_step_budget_below_the_runs_step_is_refused(cli_copy, capsys):
    before = snapshot(cli_copy)
    assert main(["pretrain", "--out", str(cli_copy), "--resume", "--max-steps", "10"]) == 2
    line = error_line(capsys)
    assert line.startswith("error: --max-steps 10") and "has reached step 20" in line
    assert snapshot(cli_copy) == before  # run.json still records the run's own budget


def test_a_resume_without_run_json_or_options_says_where_the_shape_is(cli_copy, prepared, capsys):
    (cli_copy / "run.json").unlink()
    before = snapshot(cli_copy)
    assert main(["pretrain", "--out", str(cli_copy), "--data", str(prepared), "--resume", "--max-steps", "25"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: checkpoint") and "does not fit this model" in last
    assert "run.json is gone: give them again" in last and "discriminator/config.json" in last
    assert snapshot(cli_copy) == before
