"""electra compare end to end at a toy budget: both objectives pretrained on equal FLOPs,
fine-tuned at each budget fraction, reported; the report's numbers come back on a rerun."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil

import pytest

from electra import cli
from electra.commands.compare import CompareJob, arm_job, pretraining_state, pretraining_table, recipe_note, verdict
from electra.config import FinetuneConfig
from electra.data.loader import load_meta
from electra.errors import ElectraError
from electra.finetune.run import FinetuneJob, finetune
from tests.helpers import write_sentiment

BUDGET = 3e11


@pytest.fixture(scope="module")
def compared(prepared, tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    task = write_sentiment(root / "task", random.Random(0), sizes=(120, 40, 40))
    out = root / "out"
    code = cli.main(
        [
            "compare",
            "--data",
            str(prepared),
            "--task-data",
            str(task),
            "--task",
            "classification",
            "--preset",
            "tiny",
            "--budget",
            str(BUDGET),
            "--seeds",
            "1,2",
            "--out",
            str(out),
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    assert code == 0
    return out, task


def test_equal_budgets_snapshots_and_report(compared):
    out, _ = compared
    results = json.loads((out / "results.json").read_text())
    assert set(results["arms"]) == {"electra", "mlm"}
    for arm in ("electra", "mlm"):
        fractions = {k: v for k, v in results["arms"][arm].items() if k != "pretraining"}
        assert list(fractions) == ["0.25", "0.5", "1"]
        flops = [fractions[k]["flops"] for k in ("0.25", "0.5", "1")]
        assert flops[0] >= 0.25 * BUDGET and flops[0] < flops[1] < flops[2]
        assert BUDGET <= flops[2] < 1.2 * BUDGET  # stopped once the budget was spent
        for v in fractions.values():
            assert len(v["per_seed"]) == 2 and v["min"] <= v["median"] <= v["max"]
    # the recipe the arms ran with, as the preset set it
    keys = ("init_scheme", "generator_fraction", "generator_layers", "embedding_norm_cap", "embedding_sharing")
    assert [results[k] for k in keys] == ["bert", 0.25, None, None, "es"]
    # equal compute, not equal steps: the ELECTRA step also runs a generator
    assert results["arms"]["electra"]["1"]["step"] < results["arms"]["mlm"]["1"]["step"]
    report = (out / "report.md").read_text()
    assert "| classification | electra | 1 |" in report and "random init" in report
    assert "At the full budget, best first: " in report and "random initialisation" in report
    for png in ("score_vs_flops.png", "pretraining.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG" and f"]({png})" in report


def test_report_numbers_are_reproduced_from_the_saved_snapshots(compared, tmp_path):
    out, task = compared
    results = json.loads((out / "results.json").read_text())
    entry = results["arms"]["electra"]["0.5"]
    rerun = finetune(
        FinetuneJob(
            model=out / "pretrain" / "electra" / "snapshots" / "0.5" / "discriminator",
            task="classification",
            data=task,
            out=tmp_path / "rerun",
            seeds=[1, 2],
            settings=FinetuneConfig(epochs=1, device="cpu"),
        ),
        progress=False,
    )
    assert [run["test"]["accuracy"] for run in rerun["per_seed"]] == entry["per_seed"]


def test_rerun_skips_finished_work_and_bad_options_are_named(compared, prepared, capsys):
    out, task = compared
    before = (out / "results.json").read_text()
    args = [
        "compare",
        "--data",
        str(prepared),
        "--task-data",
        str(task),
        "--task",
        "classification",
        "--preset",
        "tiny",
        "--budget",
        str(BUDGET),
        "--seeds",
        "1,2",
        "--out",
        str(out),
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert cli.main(args) == 0
    assert "pretraining already done" in capsys.readouterr().err
    assert (out / "results.json").read_text() == before
    assert cli.main([*args, "--arms", "electra,bert"]) == 2
    assert "bert" in capsys.readouterr().err


def test_a_rerun_with_other_finetuning_settings_finetunes_again(compared, prepared, tmp_path, capsys):
    out, task = compared
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    before = json.loads((out / "results.json").read_text())
    args = ["compare", "--data", str(prepared), "--task-data", str(task), "--task", "classification"]
    args += ["--budget", str(BUDGET), "--seeds", "1,2", "--epochs", "1", "--device", "cpu", "--no-progress"]
    assert cli.main([*args, "--out", str(copy), "--fractions", "1", "--reinit-layers", "1"]) == 0
    err = capsys.readouterr().err
    assert "electra/1 was fine-tuned with other seeds or settings" in err
    assert "fine-tuning random" not in err  # no pretrained layers to reset: the earlier run stands
    after = json.loads((copy / "results.json").read_text())
    assert after["random_init"]["per_seed"] == before["random_init"]["per_seed"]
    for arm in ("electra", "mlm"):
        again = json.loads((copy / "finetune" / arm / "1" / "results.json").read_text())
        assert again["hyperparameters"]["reinit_layers"] == 1
    report = (copy / "report.md").read_text()
    assert "fine-tuning options `--epochs 1.0 --reinit-layers 1`" in report and " --reinit-layers 1 --out" in report


def _score(median: float) -> dict:
    return {"median": median, "min": median - 0.01, "max": median + 0.01}


def _results(electra: float, mlm: float, random_init: float, ratio: float, recall: float) -> dict:
    return {
        "arms": {
            "electra": {"1": _score(electra), "pretraining": {"disc_loss_ratio": ratio, "disc_recall": recall}},
            "mlm": {"1": _score(mlm), "pretraining": {"mlm_loss": 5.6}},
        },
        "random_init": _score(random_init),
    }


def test_verdict_names_a_discriminator_barely_off_its_plateau_and_pretraining_that_did_not_pay():
    lines = "\n".join(verdict(_results(0.70, 0.73, 0.75, ratio=0.911, recall=0.038)))
    assert "had only begun to leave its plateau" in lines and "0.911" in lines and "3.8%" in lines
    assert "never left the plateau" not in lines
    assert "No pretrained model beats random initialisation" in lines


def test_verdict_names_the_plateau_and_stays_quiet_for_a_working_discriminator():
    stuck = "\n".join(verdict(_results(0.70, 0.73, 0.75, ratio=0.995, recall=0.0)))
    assert "never left the plateau" in stuck and "had only begun" not in stuck
    working = "\n".join(verdict(_results(0.82, 0.78, 0.75, ratio=0.6, recall=0.5)))
    assert "plateau" not in working and "No pretrained model" not in working
    assert "best first: electra 0.8200, mlm 0.7800" in working


def test_verdict_opens_with_a_warning_when_no_model_beats_the_trivial_predictor():
    results = _results(0.3009, 0.2994, 0.2994, ratio=0.43, recall=0.65)
    results["trivial"] = {"predictor": "always no answer", "score": 0.3009}
    lines = verdict(results)
    assert lines[0].startswith("- **No model beats the trivial predictor** (always no answer: 0.3009)")
    results["arms"]["mlm"]["1"] = _score(0.3100)
    assert "trivial predictor" not in "\n".join(verdict(results))
    results["trivial"]["score"] = None
    assert "trivial predictor" not in "\n".join(verdict(results))


def test_pretraining_table_shows_the_kept_networks_own_prediction_where_it_differs():
    arms = {
        "replace-mlm": {
            "pretraining": {
                "step": 3706,
                "flops": 1.2e14,
                "mlm_loss": 6.05,
                "gen_acc": 0.054,
                "main_loss": 5.50,
                "main_acc": 0.142,
            }
        },
        "electra": {
            "pretraining": {
                "step": 4152,
                "flops": 1.2e14,
                "mlm_loss": 5.91,
                "gen_acc": 0.065,
                "disc_loss_ratio": 0.614,
                "disc_recall": 0.464,
            }
        },
        "mlm": {"pretraining": {"step": 4540, "flops": 1.2e14, "mlm_loss": 4.66, "gen_acc": 0.255}},
    }
    rows = {line.split("|")[1].strip(): line for line in pretraining_table(arms) if line.startswith("| ")}
    assert "| 6.050 | 0.054 | 5.500 / 0.142 | – | – |" in rows["replace-mlm"]
    assert "| 5.910 | 0.065 | – | 0.614 | 0.464 |" in rows["electra"]
    assert "| 4.660 | 0.255 | – | – | – |" in rows["mlm"]


def test_pretraining_state_keeps_the_kept_networks_own_numbers(tmp_path):
    rows = [{"step": 10, "main_loss": 7.0, "main_acc": 0.01}, {"step": 20, "main_loss": 5.5, "main_acc": 0.142}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    state = pretraining_state(tmp_path)
    assert state == {"step": 20, "main_loss": 5.5, "main_acc": 0.142}


def test_dtype_reaches_both_arms_and_a_bad_one_is_named(prepared, tmp_path):
    job = CompareJob(data=prepared, task_data=tmp_path, task="classification", out=tmp_path, dtype="bf16")
    meta = load_meta(prepared)
    assert {arm_job(job, arm, meta).train.dtype for arm in ("electra", "mlm")} == {"bf16"}
    assert arm_job(dataclasses.replace(job, dtype="fp32"), "electra", meta).train.dtype == "fp32"
    with pytest.raises(ElectraError, match="--dtype"):
        CompareJob(data=prepared, task_data=tmp_path, task="classification", out=tmp_path, dtype="fp16")


def test_init_scheme_and_generator_shape_reach_the_arms(prepared, tmp_path):
    job = CompareJob(
        data=prepared,
        task_data=tmp_path,
        task="classification",
        out=tmp_path,
        init_scheme="local",
        generator_fraction=1.0,
        generator_layers=2,
        embedding_norm_cap=0.2,
    )
    meta = load_meta(prepared)
    electra, mlm = arm_job(job, "electra", meta), arm_job(job, "mlm", meta)
    assert electra.model.init_scheme == mlm.model.init_scheme == "local"
    assert (electra.recipe.generator_fraction, electra.recipe.generator_layers) == (1.0, 2)
    assert electra.recipe.embedding_norm_cap == mlm.recipe.embedding_norm_cap == 0.2
    plain = arm_job(
        dataclasses.replace(job, init_scheme="bert", generator_fraction=None, generator_layers=None), "electra", meta
    )
    assert plain.model.init_scheme == "bert" and plain.recipe.generator_fraction == 0.25
    assert plain.recipe.generator_layers is None and plain.recipe.embedding_norm_cap == 0.2
    with pytest.raises(ElectraError, match="--init-scheme"):
        CompareJob(data=prepared, task_data=tmp_path, task="classification", out=tmp_path, init_scheme="xavier")


def test_a_presets_recipe_reaches_the_arms_unless_overridden(prepared, tmp_path):
    job = CompareJob(data=prepared, task_data=tmp_path, task="classification", out=tmp_path, preset="tiny-budget")
    meta = load_meta(prepared)
    electra, mlm = arm_job(job, "electra", meta), arm_job(job, "mlm", meta)
    assert electra.model.init_scheme == mlm.model.init_scheme == "local"
    assert (electra.recipe.generator_fraction, electra.recipe.generator_layers) == (0.25, None)
    assert electra.recipe.embedding_norm_cap == mlm.recipe.embedding_norm_cap == 0.2
    assert "local start, generator width 0.25, full depth, token rows capped at norm 0.2" in recipe_note(job)
    wide_job = dataclasses.replace(job, init_scheme="bert", generator_fraction=1.0, generator_layers=2)
    wide = arm_job(wide_job, "electra", meta)
    assert wide.model.init_scheme == "bert" and wide.recipe.embedding_norm_cap == 0.2
    assert (wide.recipe.generator_fraction, wide.recipe.generator_layers) == (1.0, 2)
    assert electra.recipe.embedding_sharing == "es"
    gdes = dataclasses.replace(job, embedding_sharing="gdes")
    assert arm_job(gdes, "electra", meta).recipe.embedding_sharing == "gdes"
    assert "full depth, embedding sharing gdes, token rows" in recipe_note(gdes)
    with pytest.raises(ElectraError, match="--embedding-sharing"):
        dataclasses.replace(job, embedding_sharing="tied")
    uncapped = dataclasses.replace(job, embedding_norm_cap=0.0, arms=("mlm",))
    assert arm_job(uncapped, "mlm", meta).recipe.embedding_norm_cap is None
    assert recipe_note(uncapped) == ", local start"  # an MLM-only compare has no generator; 0: no cap
