"""Issue 16's fine-tuning rows: nothing is fine-tuned, exported or read other than what was asked.

- a pair's generator is refused as the model to fine-tune, and exported only with ``--part generator``;
- ``export`` and ``finetune`` never write into a folder holding something else (a refusal changes
  nothing), and ``--overwrite`` replaces an earlier output whole;
- ``evaluate`` / ``predict`` take the columns' names, and ``predict`` plain text;
- dev / test labels never seen in training are warned about once, with counts, and scored as errors.
"""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from electra.cli import main
from electra.commands.demo import shipped_pair_path
from electra.finetune import metrics
from electra.model.io import is_pair_generator

PAIR = shipped_pair_path()
FAST = ["--epochs", "1", "--max-train-examples", "32", "--no-progress"]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path -> sha256 (a refusal must leave it equal)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory, tasks) -> Path:
    """A sentiment model fine-tuned for one short epoch (what evaluate / predict / export read)."""
    out = tmp_path_factory.mktemp("guards") / "run"
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
                *FAST,
            ]
        )
        == 0
    )
    return out


# ---------------------------------------------------------------- generators


def test_a_pairs_generator_is_told_from_an_mlm_model(tmp_path):
    assert is_pair_generator(PAIR / "generator") and not is_pair_generator(PAIR / "discriminator")
    beside = tmp_path / "pair" / "gen"  # renamed, but beside its discriminator
    shutil.copytree(PAIR / "generator", beside)
    shutil.copytree(PAIR / "discriminator", tmp_path / "pair" / "discriminator")
    assert is_pair_generator(beside)
    mlm = tmp_path / "mlm-run" / "mlm"  # an MLM run's model: the same class, the whole model
    shutil.copytree(PAIR / "generator", mlm)
    assert not is_pair_generator(mlm)


@pytest.mark.parametrize("model", ["generator", "pair-copy/gen"])
def test_finetune_refuses_a_generator(tmp_path, tasks, capsys, model):
    if model == "pair-copy/gen":
        shutil.copytree(PAIR, tmp_path / "pair-copy")
        (tmp_path / "pair-copy" / "generator").rename(tmp_path / "pair-copy" / "gen")
        source = tmp_path / model
    else:
        source = PAIR / model
    out = tmp_path / "ft"
    assert (
        main(
            [
                "finetune",
                "--model",
                str(source),
                "--task",
                "classification",
                "--data",
                str(tasks["sentiment"]),
                "--out",
                str(out),
                *FAST,
            ]
        )
        == 2
    )
    err = one_line_error(capsys)
    assert "generator of a pretraining pair" in err and "hidden size 32" in err and "discriminator" in err
    assert not out.exists()


def test_finetune_accepts_a_masked_lm_that_is_the_whole_model(tmp_path, tasks):
    """An MLM run's mlm/ (or any lone masked-LM folder) is the encoder to fine-tune."""
    mlm = tmp_path / "mlm-run" / "mlm"
    shutil.copytree(PAIR / "generator", mlm)
    out = tmp_path / "ft"
    assert (
        main(
            [
                "finetune",
                "--model",
                str(mlm.parent),
                "--task",
                "classification",
                "--data",
                str(tasks["sentiment"]),
                "--out",
                str(out),
                "--max-train-examples",
                "8",
                "--epochs",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert json.loads((out / "seed-1" / "config.json").read_text())["hidden_size"] == 32


def test_export_gives_a_generator_only_when_asked(tmp_path, capsys):
    out = tmp_path / "hf"
    assert main(["export", str(PAIR / "generator"), str(out)]) == 2
    assert "--part generator" in one_line_error(capsys) and not out.exists()
    assert main(["export", str(PAIR / "discriminator"), str(out), "--part", "generator"]) == 2
    assert "ElectraForPreTraining" in one_line_error(capsys) and not out.exists()
    mlm_run = tmp_path / "mlm-run"
    shutil.copytree(PAIR / "generator", mlm_run / "mlm")
    assert main(["export", str(mlm_run), str(out), "--part", "generator"]) == 2
    assert "no generator/" in one_line_error(capsys) and not out.exists()
    assert main(["export", str(PAIR / "generator"), str(out), "--part", "generator"]) == 0
    assert json.loads((out / "config.json").read_text())["architectures"] == ["ElectraForMaskedLM"]
    assert main(["export", str(mlm_run), str(tmp_path / "mlm-hf")]) == 0  # an MLM run: its mlm/ model


def test_export_refuses_a_finetuned_model_as_generator(tmp_path, finetuned, capsys):
    assert main(["export", str(finetuned), str(tmp_path / "hf"), "--part", "generator"]) == 2
    assert "ElectraForSequenceClassification" in one_line_error(capsys)


# ---------------------------------------------------------------- output folders


def test_export_never_writes_into_another_folder(tmp_path, finetuned, capsys):
    before = snapshot(finetuned)
    for overwrite in ([], ["--overwrite"]):  # a fine-tuning run is not an earlier export
        assert main(["export", str(PAIR), str(finetuned), *overwrite]) == 2
        assert "holds other files" in one_line_error(capsys)
        assert snapshot(finetuned) == before
    other = tmp_path / "notes"
    other.mkdir()
    (other / "README.md").write_text("mine")
    assert main(["export", str(PAIR), str(other), "--overwrite"]) == 2
    assert "README.md" in one_line_error(capsys) and sorted(p.name for p in other.iterdir()) == ["README.md"]


def test_export_replaces_an_earlier_export_only_with_overwrite(tmp_path, finetuned, capsys):
    out = tmp_path / "hf"
    assert main(["export", str(PAIR), str(out)]) == 0
    before, _ = snapshot(out), capsys.readouterr()
    assert main(["export", str(finetuned), str(out)]) == 2
    assert "--overwrite" in one_line_error(capsys) and snapshot(out) == before
    assert main(["export", str(finetuned), str(out), "--overwrite"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["ElectraForSequenceClassification"]
    assert snapshot(out)["model.safetensors"] != before["model.safetensors"]


def test_export_removes_files_the_new_source_lacks(tmp_path):
    out, source = tmp_path / "hf", tmp_path / "disc"
    assert main(["export", str(PAIR), str(out)]) == 0
    shutil.copytree(PAIR / "discriminator", source)
    (source / "special_tokens_map.json").unlink()
    assert main(["export", str(source), str(out), "--overwrite"]) == 0
    assert not (out / "special_tokens_map.json").exists() and (out / "vocab.txt").is_file()


def test_export_and_finetune_refuse_a_file_as_out(tmp_path, tasks, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    assert main(["export", str(PAIR), str(taken), "--overwrite"]) == 2
    assert "not a folder" in one_line_error(capsys)
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
                str(taken),
                "--overwrite",
                *FAST,
            ]
        )
        == 2
    )
    assert "not a folder" in one_line_error(capsys) and taken.read_text() == "mine"


def test_an_out_below_a_file_is_a_one_line_error(tmp_path, tasks, finetuned, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    assert main(["export", str(PAIR), str(taken / "sub")]) == 2
    assert "taken is a file" in one_line_error(capsys)
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
                str(taken / "sub"),
                *FAST,
            ]
        )
        == 2
    )
    assert "taken is a file" in one_line_error(capsys)
    assert (
        main(
            [
                "predict",
                "--model",
                str(finetuned),
                "--data",
                str(tasks["sentiment"] / "test.tsv"),
                "--out",
                str(taken / "p.jsonl"),
            ]
        )
        == 2
    )
    assert "not a folder" in one_line_error(capsys) and taken.read_text() == "mine"


def test_finetune_never_writes_into_another_folder(tmp_path, tasks, capsys):
    run = tmp_path / "pretraining-run"
    shutil.copytree(PAIR, run)
    before = snapshot(run)
    for overwrite in ([], ["--overwrite"]):
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
                    str(run),
                    *FAST,
                    *overwrite,
                ]
            )
            == 2
        )
        assert "holds other files" in one_line_error(capsys) and snapshot(run) == before


def test_finetune_overwrite_replaces_the_whole_earlier_run(tmp_path, tasks):
    out = tmp_path / "ft"
    argv = [
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
        "1",
        "--max-train-examples",
        "8",
        "--no-progress",
    ]
    assert main([*argv, "--seeds", "1,2"]) == 0
    assert main([*argv, "--seeds", "3", "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "seed-3"]


def test_a_refused_overwrite_keeps_the_earlier_run(tmp_path, tasks, finetuned, capsys):
    out = tmp_path / "ft"
    shutil.copytree(finetuned, out)
    before = snapshot(out)
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
                "--text-columns",
                "review",
                "--overwrite",
                *FAST,
            ]
        )
        == 2
    )
    assert "review" in one_line_error(capsys) and snapshot(out) == before


# ---------------------------------------------------------------- evaluate and predict


def renamed(src: Path, dst: Path, header: str) -> Path:
    lines = src.read_text().splitlines()
    dst.write_text("\n".join([header, *lines[1:]]) + "\n")
    return dst


def test_evaluate_and_predict_take_the_columns_names(tmp_path, tasks, finetuned, capsys):
    test = tasks["sentiment"] / "test.tsv"
    assert main(["evaluate", "--model", str(finetuned), "--data", str(test)]) == 0
    expected = json.loads(capsys.readouterr().out)
    other = renamed(test, tmp_path / "reviews.tsv", "review\tstars")
    assert main(["evaluate", "--model", str(finetuned), "--data", str(other)]) == 2
    assert "--text-columns" in one_line_error(capsys)
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(finetuned),
                "--data",
                str(other),
                "--text-columns",
                "review",
                "--label-column",
                "stars",
            ]
        )
        == 0
    )
    got = json.loads(capsys.readouterr().out)
    assert got["accuracy"] == expected["accuracy"] and got["examples"] == expected["examples"]

    reference, renamed_out = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["predict", "--model", str(finetuned), "--data", str(test), "--out", str(reference)]) == 0
    assert (
        main(
            [
                "predict",
                "--model",
                str(finetuned),
                "--data",
                str(other),
                "--text-columns",
                "review",
                "--out",
                str(renamed_out),
            ]
        )
        == 0
    )
    assert renamed_out.read_text() == reference.read_text()


def test_predict_reads_plain_text(tmp_path, tasks, finetuned, capsys):
    rows = (tasks["sentiment"] / "test.tsv").read_text().splitlines()[1:]
    texts = [row.split("\t")[0] for row in rows]
    plain = tmp_path / "sentences.txt"
    plain.write_text("\n".join(texts[:5]) + "\n\n" + "\n".join(texts[5:]) + "\n")  # a blank line is skipped
    table = tmp_path / "sentences.tsv"
    table.write_text("sentence\n" + "\n".join(texts) + "\n")
    assert main(["predict", "--model", str(finetuned), "--data", str(plain), "--out", str(tmp_path / "p.jsonl")]) == 0
    assert main(["predict", "--model", str(finetuned), "--data", str(table), "--out", str(tmp_path / "t.jsonl")]) == 0
    got = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    want = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert len(got) == len(texts) and [g["label"] for g in got] == [w["label"] for w in want]
    assert [g["probabilities"]["pos"] for g in got] == pytest.approx(
        [w["probabilities"]["pos"] for w in want], abs=1e-5
    )
    # a .txt with a header line is still a TSV table (as finetune reads it)
    (tmp_path / "table.txt").write_text(table.read_text())
    assert (
        main(
            [
                "predict",
                "--model",
                str(finetuned),
                "--data",
                str(tmp_path / "table.txt"),
                "--out",
                str(tmp_path / "x.jsonl"),
            ]
        )
        == 0
    )
    assert (tmp_path / "x.jsonl").read_text() == (tmp_path / "t.jsonl").read_text()
    capsys.readouterr()


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_out_is_a_file_made_with_its_folder_never_a_folder(tmp_path, tasks, finetuned, capsys, command):
    data = str(tasks["sentiment"] / "test.tsv")
    folder = tmp_path / "results"
    folder.mkdir()
    assert main([command, "--model", str(finetuned), "--data", data, "--out", str(folder)]) == 2
    assert "is a folder" in one_line_error(capsys) and not any(tmp_path.rglob("*.tmp"))
    deep = tmp_path / "new" / "out.json"
    assert main([command, "--model", str(finetuned), "--data", data, "--out", str(deep)]) == 0
    assert deep.read_text().strip()


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_help_names_what_model_and_columns_take(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in ("seed-N", "fine-tuning run", "electra export", "--text-columns", "--label-column"):
        assert phrase in text


# ---------------------------------------------------------------- labels unseen in training

POS = {
    "the": "DT",
    "a": "DT",
    "ship": "NN",
    "sea": "NN",
    "man": "NN",
    "day": "NN",
    "whale": "NN",
    "boat": "NN",
    "was": "VBD",
    "it": "PRP",
    "long": "JJ",
    "old": "JJ",
    "white": "JJ",
    "in": "IN",
    "on": "IN",
    "of": "IN",
}


def write_pos(folder: Path) -> Path:
    """POS data whose dev holds two tags never seen in training ('cd$' twice, 'SYM' once)."""
    import random

    from tests.helpers import sentence

    rng = random.Random(5)
    folder.mkdir()
    for name, size in (("train", 120), ("dev", 30)):
        sentences = [[(w, POS[w]) for w in sentence(rng, [])] for _ in range(size)]
        if name == "dev":
            sentences[3].append(("42", "cd$"))
            sentences[7][2:2] = [("7", "cd$"), ("%", "SYM")]
        (folder / f"{name}.conll").write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in sentences))
    return folder


def test_tagging_dev_tags_unseen_in_training_are_warned_and_scored_as_errors(tmp_path, capsys):
    data = write_pos(tmp_path / "pos")
    out = tmp_path / "ft"
    assert (
        main(
            [
                "finetune",
                "--model",
                str(PAIR),
                "--task",
                "tagging",
                "--data",
                str(data),
                "--out",
                str(out),
                "--epochs",
                "3",
                "--lr",
                "1e-3",
                "--no-progress",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "dev.conll: 3 of" in warnings[0]
    assert "'cd$' 2×" in warnings[0] and "'SYM' 1×" in warnings[0] and "scored as errors" in warnings[0]
    assert "cd$" not in json.loads((out / "seed-1" / "config.json").read_text())["label2id"]

    # the reported accuracy counts the unseen tokens as wrong: it equals one recomputed by hand
    assert (
        main(["predict", "--model", str(out), "--data", str(data / "dev.conll"), "--out", str(tmp_path / "pred.jsonl")])
        == 0
    )
    predicted = [json.loads(line)["tags"] for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    gold = [
        [line.split("\t")[1] for line in block.splitlines()] for block in (data / "dev.conll").read_text().split("\n\n")
    ]
    pairs = [(g, p) for gs, ps in zip(gold, predicted) for g, p in zip(gs, ps)]
    assert sum(g == p for g, p in pairs if g in ("cd$", "SYM")) == 0
    by_hand = sum(g == p for g, p in pairs) / len(pairs)
    assert by_hand < 1.0
    capsys.readouterr()
    assert main(["evaluate", "--model", str(out), "--data", str(data / "dev.conll")]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["accuracy"] == pytest.approx(by_hand)
    assert captured.err.count("warning:") == 1 and "'cd$' 2×" in captured.err


@pytest.mark.parametrize("scheme, tags", [("IOB2", ("B-PER", "I-PER")), ("IOBES", ("S-PER", "S-PER"))])
def test_unseen_tags_in_a_span_tag_set_are_wrong_tokens_and_missed_entities(scheme, tags):
    """An unseen entity type is a missed entity; an unseen non-span tag ('cd$') is no entity at all
    (seqeval's strict IOBES mode used to raise on it)."""
    first, second = tags
    gold = [[first, "cd$", "O", first.replace("PER", "ORG")], [second, "O"]]
    pred = [[first, "O", "O", "O"], [second, "O"]]
    scores = metrics.tagging_metrics(gold, pred, scheme)
    assert scores["accuracy"] == pytest.approx(4 / 6)
    assert scores["precision"] == 1.0 and scores["recall"] == pytest.approx(2 / 3)


def test_classification_dev_labels_unseen_in_training_count_as_errors(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    train = "".join(f"{'good day' if i % 2 else 'bad day'}\t{'pos' if i % 2 else 'neg'}\n" for i in range(16))
    (data / "train.tsv").write_text("sentence\tlabel\n" + train)
    (data / "dev.tsv").write_text("sentence\tlabel\ngood day\tpos\nbad day\tneg\nso so\tmixed\nmeh\tmixed\n")
    out = tmp_path / "ft"
    assert (
        main(
            [
                "finetune",
                "--model",
                str(PAIR),
                "--task",
                "classification",
                "--data",
                str(data),
                "--out",
                str(out),
                "--epochs",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "2 of 4 labels" in err and "'mixed' 2× from line 4" in err
    results = json.loads((out / "results.json").read_text())
    assert results["dev"]["accuracy"] <= 0.5  # the two 'mixed' rows can never be right
    assert results["baseline"]["dev"]["accuracy"] == 0.25  # always 'neg' (majority; ties: first seen)


def test_unseen_gold_class_is_an_error_in_every_classification_metric():
    known = metrics.classification_metrics([0, 1, 1, 0], [0, 1, 1, 0], 2)
    unseen = metrics.classification_metrics([0, 1, 1, metrics.UNSEEN], [0, 1, 1, 0], 2)
    assert known == {"accuracy": 1.0, "f1": 1.0, "mcc": 1.0}
    assert unseen["accuracy"] == 0.75 and unseen["f1"] == 1.0 and unseen["mcc"] < 1.0  # class 1's F1 untouched
    assert metrics.classification_metrics([1, 1, metrics.UNSEEN], [1, 1, 1], 2)["f1"] == pytest.approx(0.8)
    multi = metrics.classification_metrics([0, 1, 2, metrics.UNSEEN], [0, 1, 2, 2], 3)
    assert multi["accuracy"] == 0.75 and multi["f1"] == pytest.approx((1 + 1 + 2 / 3) / 3)
    with pytest.raises(Exception, match="outside the class range"):
        metrics.classification_metrics([0, 1], [0, metrics.UNSEEN], 2)  # never a prediction


def test_a_dev_file_without_one_known_label_is_refused(tmp_path, capsys):
    """Not a rare class: the wrong file or the wrong label column."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tsv").write_text("sentence\tlabel\ngood\tpos\nbad\tneg\n")
    (data / "dev.tsv").write_text("sentence\tlabel\nso so\tmixed\nmeh\tugh\n")
    assert (
        main(
            [
                "finetune",
                "--model",
                str(PAIR),
                "--task",
                "classification",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "ft"),
                "--no-progress",
            ]
        )
        == 2
    )
    err = one_line_error(capsys)
    assert "dev.tsv: none of its labels" in err and "'mixed' 1× from line 2" in err and not (tmp_path / "ft").exists()


def test_a_fixed_label_set_still_refuses_other_labels(tmp_path, capsys):
    """GLUE tasks know their classes: a label outside them means the file is not that task's."""
    data = tmp_path / "sst"
    data.mkdir()
    (data / "train.tsv").write_text("sentence\tlabel\ngood\t1\nbad\t0\n")
    (data / "dev.tsv").write_text("sentence\tlabel\ngood\t1\nfine\t2\n")
    assert (
        main(
            [
                "finetune",
                "--model",
                str(PAIR),
                "--task",
                "sst2",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "ft"),
                "--no-progress",
            ]
        )
        == 2
    )
    assert "dev.tsv:3: label '2' does not occur" in one_line_error(capsys)
