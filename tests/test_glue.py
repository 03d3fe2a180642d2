"""``electra glue`` on tiny synthetic folders in the official GLUE layout, with a tiny random model:
the results' structure, the paper's average rule, skipping finished tasks on rerun, and errors."""

import json
import random
import shutil
import statistics

import pytest
import torch

from electra.cli import main
from electra.commands.demo import shipped_pair_path
from electra.commands.glue import AVERAGE_RULE, GlueJob, plan
from electra.config import ModelConfig
from electra.model.io import read_config, save_network
from electra.model.networks import build_pair

WORDS = [
    "the",
    "ship",
    "sea",
    "man",
    "day",
    "was",
    "it",
    "a",
    "long",
    "old",
    "white",
    "whale",
    "boat",
    "in",
    "on",
    "of",
    "good",
    "bad",
]


def text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))


def write_cola(folder, rng, rows=24):  # headerless train/dev, as CoLA ships them; test has a header
    folder.mkdir(parents=True)
    for split in ("train", "dev"):
        lines = [f"gj04\t{rng.randint(0, 1)}\t\t{text(rng)}" for _ in range(rows)]
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    (folder / "test.tsv").write_text("index\tsentence\n0\tthe ship\n")


def write_sst2(folder, rng, rows=24):
    folder.mkdir(parents=True)
    for split in ("train", "dev"):
        lines = ["sentence\tlabel"] + [f"{text(rng)}\t{rng.randint(0, 1)}" for _ in range(rows)]
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    (folder / "test.tsv").write_text("index\tsentence\n0\tthe whale\n1\ta boat\n")


def write_stsb(folder, rng, rows=24):
    folder.mkdir(parents=True)
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
    for split in ("train", "dev"):
        lines = [header] + [
            f"{i}\tmain-news\tx\t2012\t{i}\tnone\tnone\t{text(rng)}\t{text(rng)}\t{rng.uniform(0, 5):.3f}"
            for i in range(rows)
        ]
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")


def write_table(folder, files, rows=24):
    """``files``: name -> (header, row(i) -> line)."""
    folder.mkdir(parents=True)
    for name, (header, row) in files.items():
        (folder / name).write_text("\n".join([header] + [row(i) for i in range(rows)]) + "\n")


def write_other_five(root, rng):
    """MRPC, QQP, MNLI, QNLI and RTE with the download's headers (and MNLI's file names)."""

    def pair():
        return f"{text(rng)}\t{text(rng)}"

    def bit():
        return rng.randint(0, 1)

    def mnli(labels):  # annotator labels, then the gold one (all agree here)
        head = "index\tpromptID\tpairID\tgenre\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2"
        gold = lambda: rng.choice(["entailment", "neutral", "contradiction"])  # noqa: E731
        return (
            head + "".join(f"\t{name}" for name in labels),
            lambda i: f"{i}\t1\t1\tgov\t(x)\t(y)\t{pair()}" + f"\t{gold()}" * len(labels),
        )

    mrpc = ("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", lambda i: f"{bit()}\t{i}\t{i + 1}\t{pair()}")
    write_table(
        root / "MRPC",
        {
            "train.tsv": mrpc,
            "dev.tsv": mrpc,
            "test.tsv": ("index\t#1 ID\t#2 ID\t#1 String\t#2 String", lambda i: f"{i}\t{i}\t{i + 1}\t{pair()}"),
        },
    )
    qqp = ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate", lambda i: f"{i}\t{i}\t{i + 1}\t{pair()}\t{bit()}")
    write_table(root / "QQP", {"train.tsv": qqp, "dev.tsv": qqp})
    dev = mnli(("label1", "label2", "gold_label"))
    write_table(
        root / "MNLI",
        {
            "train.tsv": mnli(("label1", "gold_label")),
            "dev_matched.tsv": dev,
            "dev_mismatched.tsv": dev,
            "test_matched.tsv": mnli(()),
        },
    )
    for folder, texts in (("QNLI", "question\tsentence"), ("RTE", "sentence1\tsentence2")):
        rows = (f"index\t{texts}\tlabel", lambda i: f"{i}\t{pair()}\t{rng.choice(['entailment', 'not_entailment'])}")
        test = (f"index\t{texts}", lambda i: f"{i}\t{pair()}")
        write_table(root / folder, {"train.tsv": rows, "dev.tsv": rows, "test.tsv": test})


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("glue")
    rng = random.Random(3)
    write_cola(root / "CoLA", rng)
    write_sst2(root / "SST-2", rng)
    write_stsb(root / "STS-B", rng)
    (root / "WNLI").mkdir()
    (root / "diagnostic").mkdir()  # the download's extra folder: not a task
    return root


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A 1-layer, 16-wide random discriminator with the shipped tokenizer."""
    shipped = shipped_pair_path() / "discriminator"
    torch.manual_seed(0)
    _, discriminator = build_pair(
        ModelConfig(
            vocab_size=read_config(shipped)["vocab_size"],
            embedding_size=16,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
        ),
        0.5,
    )
    folder = tmp_path_factory.mktemp("model") / "discriminator"
    save_network(discriminator, folder, shipped)
    return folder


def glue(model, data, out, *extra):
    return main(
        [
            "glue",
            "--model",
            str(model),
            "--data",
            str(data),
            "--out",
            str(out),
            "--seeds",
            "1,2",
            "--no-progress",
            "--device",
            "cpu",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def ran(model, glue_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "glue"
    assert glue(model, glue_dir, out) == 0
    return out


def test_results_hold_the_papers_scores_and_average(ran):
    results = json.loads((ran / "results.json").read_text())
    assert list(results["tasks"]) == ["cola", "sst2", "stsb"] == results["average_tasks"]  # the paper's order
    assert results["seeds"] == [1, 2] and results["complete"] is False
    assert results["average_rule"] == AVERAGE_RULE
    for task, metric, epochs in (("cola", "mcc", 3), ("sst2", "accuracy", 3), ("stsb", "spearman", 10)):
        entry = results["tasks"][task]
        run = json.loads((ran / task / "results.json").read_text())  # the task's own finetune run
        per_seed = [seed["dev"][metric] for seed in run["per_seed"]]
        assert entry["metric"] == metric and entry["per_seed"] == per_seed and entry["seeds"] == [1, 2]
        assert entry["median"] == pytest.approx(statistics.median(per_seed))
        assert (entry["min"], entry["max"]) == (min(per_seed), max(per_seed))
        assert (entry["epochs"], entry["batch_size"], entry["lr"], entry["layer_decay"]) == (epochs, 32, 3e-4, 0.8)
        assert (ran / task / "seed-1" / "model.safetensors").is_file()
    assert results["tasks"]["stsb"]["leaderboard_metric"] == "pearson"
    medians = [results["tasks"][t]["median"] for t in ("cola", "sst2", "stsb")]
    assert results["average"] == pytest.approx(sum(medians) / 3)
    assert "wnli" in results["not_run"] and "no MRPC folder" in results["not_run"]["mrpc"]
    assert set(results["not_run"]) == {"wnli", "mrpc", "qqp", "mnli", "qnli", "rte"}

    report = (ran / "report.md").read_text()
    assert "| Model | CoLA | SST | MRPC | STS | QQP | MNLI | QNLI | RTE | Avg. |" in report
    cola = results["tasks"]["cola"]
    assert f"{100 * cola['median']:.1f}" in report and "(3 of 8 tasks)" in report
    assert "Matthews correlation for CoLA, Spearman correlation for STS-B and accuracy" in report


def test_rerun_skips_finished_tasks_and_refuses_other_settings(ran, model, glue_dir, capsys):
    before = {path: path.stat().st_mtime_ns for path in ran.rglob("*") if path.is_file() and path.parent != ran}
    capsys.readouterr()
    assert glue(model, glue_dir, ran) == 0
    assert capsys.readouterr().err.count("finished earlier") == 3
    assert {path: path.stat().st_mtime_ns for path in before} == before
    assert glue(model, glue_dir, ran, "--tasks", "CoLA") == 0  # one OUT, one table: the others stay in it
    assert capsys.readouterr().err.count("finished earlier") == 1
    assert list(json.loads((ran / "results.json").read_text())["tasks"]) == ["cola", "sst2", "stsb"]

    assert glue(model, glue_dir, ran, "--epochs", "1") == 2
    err = capsys.readouterr().err
    assert "finished with other settings" in err and "epochs" in err
    assert (
        main(
            [
                "glue",
                "--model",
                str(model),
                "--data",
                str(glue_dir),
                "--out",
                str(ran),
                "--seeds",
                "1",
                "--device",
                "cpu",
            ]
        )
        == 2
    )
    assert "seeds" in capsys.readouterr().err
    assert {path: path.stat().st_mtime_ns for path in before} == before

    # a task finished before a setting existed (here --reinit-layers) ran with its default: reused
    path = ran / "cola" / "results.json"
    older = json.loads(path.read_text())
    del older["hyperparameters"]["reinit_layers"]
    path.write_text(json.dumps(older))
    assert glue(model, glue_dir, ran) == 0
    assert capsys.readouterr().err.count("finished earlier") == 3
    assert glue(model, glue_dir, ran, "--reinit-layers", "1") == 2
    assert "reinit_layers 0 there, 1 now" in capsys.readouterr().err


@pytest.mark.parametrize(
    "setup, extra, message",
    [
        ("empty", (), "no GLUE task folder"),
        ("glue", ("--tasks", "cola,rte"), "no folder for RTE"),
        ("glue", ("--tasks", "wnli"), "WNLI is not run"),
        ("glue", ("--tasks", "squad"), "unknown task"),
        ("nodev", (), "no dev file"),
        ("missing", (), "no such folder"),
    ],
)
def test_errors_are_named_before_any_work(setup, extra, message, model, glue_dir, tmp_path, capsys):
    data = {"glue": glue_dir, "empty": tmp_path / "empty", "nodev": tmp_path / "nodev", "missing": tmp_path / "absent"}[
        setup
    ]
    if setup == "empty":
        (data / "WNLI").mkdir(parents=True)
    if setup == "nodev":
        write_sst2(data / "SST-2", random.Random(0))
        (data / "SST-2" / "dev.tsv").unlink()
    out = tmp_path / "out"
    assert glue(model, data, out, *extra) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_out_holding_other_files_is_refused(model, glue_dir, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert glue(model, glue_dir, out) == 2
    assert "not a GLUE run" in capsys.readouterr().err


def test_folder_names_match_the_download_in_any_case_and_mnli_uses_dev_matched(tmp_path):
    for name in ("mnli", "Sst2", "qnli"):
        (tmp_path / name).mkdir()
    (tmp_path / "mnli" / "train.tsv").write_text("x\n")
    (tmp_path / "mnli" / "dev_matched.tsv").write_text("x\n")
    (tmp_path / "mnli" / "dev_mismatched.tsv").write_text("x\n")
    for name in ("Sst2", "qnli"):
        (tmp_path / name / "train.tsv").write_text("x\n")
        (tmp_path / name / "dev.tsv").write_text("x\n")
    chosen = plan(GlueJob(model=tmp_path, data=tmp_path, out=tmp_path / "out", tasks=("SST-2", "MNLI")))
    assert chosen.tasks == {"sst2": tmp_path / "Sst2", "mnli": tmp_path / "mnli"}
    assert chosen.notes == {}
    everything = plan(GlueJob(model=tmp_path, data=tmp_path, out=tmp_path / "out"))
    assert list(everything.tasks) == ["sst2", "qnli", "mnli"]  # smallest first
    assert "cola" in everything.notes


def test_all_eight_tasks_make_a_complete_table(model, glue_dir, tmp_path):
    data = tmp_path / "glue"
    shutil.copytree(glue_dir, data)
    write_other_five(data, random.Random(5))
    out = tmp_path / "out"
    assert glue(model, data, out, "--seeds", "1") == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results["tasks"]) == ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte"]
    assert results["complete"] is True and list(results["not_run"]) == ["wnli"]
    assert results["tasks"]["mrpc"]["metric"] == "accuracy" and results["tasks"]["mrpc"]["leaderboard_metric"] == "f1"
    assert results["tasks"]["rte"]["epochs"] == 10 and results["tasks"]["mnli"]["epochs"] == 3
    assert results["average"] == pytest.approx(statistics.fmean(e["median"] for e in results["tasks"].values()))
    assert "tasks)" not in (out / "report.md").read_text()  # a complete table's Avg. carries no task count
