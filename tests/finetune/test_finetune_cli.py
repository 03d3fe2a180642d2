"""``electra finetune / evaluate / predict`` end to end on synthetic tasks, and their errors.

The shipped tiny discriminator is fine-tuned for a few dozen steps on tasks that a few words
decide, so every kind must reach near-perfect dev scores: a broken loss, label mapping,
sub-word alignment or span search would not.
"""

import json

import pytest

from electra.cli import main
from electra.commands.demo import shipped_pair_path

MODEL = str(shipped_pair_path())
FAST = ["--lr", "1e-3", "--no-progress"]


def finetune(tmp_path, name, task, data, *extra):
    out = tmp_path / name
    assert (
        main(["finetune", "--model", MODEL, "--task", task, "--data", str(data), "--out", str(out), *FAST, *extra]) == 0
    )
    return out, json.loads((out / "results.json").read_text())


def test_classification_learns_and_reports_medians_over_seeds(tmp_path, tasks, capsys):
    out, results = finetune(tmp_path, "sent", "classification", tasks["sentiment"], "--epochs", "8", "--seeds", "1,2")
    assert results["dev"]["accuracy"] > 0.9 and results["test"]["accuracy"] > 0.9
    assert set(results["dev"]) == {"accuracy", "f1", "mcc"}
    labels = [line.split("\t")[1] for line in (tasks["sentiment"] / "dev.tsv").read_text().splitlines()[1:]]
    train = [line.split("\t")[1] for line in (tasks["sentiment"] / "train.tsv").read_text().splitlines()[1:]]
    majority = max(set(train), key=train.count)
    assert results["baseline"]["predictor"] == f"always '{majority}' (majority class)"
    assert results["baseline"]["dev"]["accuracy"] == pytest.approx(labels.count(majority) / len(labels))
    seeds = [run["seed"] for run in results["per_seed"]]
    assert seeds == [1, 2] and results["best_seed"] in seeds
    dev = [run["dev"]["accuracy"] for run in results["per_seed"]]
    assert results["dev"]["accuracy"] == pytest.approx(sum(dev) / 2)  # the median of two
    assert results["dev_spread"]["accuracy"]["min"] == min(dev)
    config = json.loads((out / "seed-1" / "config.json").read_text())
    assert config["architectures"] == ["ElectraForSequenceClassification"]
    assert config["id2label"] == {"0": "neg", "1": "pos"}
    assert (out / "seed-1" / "tokenizer.json").is_file() and (out / "seed-2" / "results.json").is_file()

    capsys.readouterr()
    assert main(["evaluate", "--model", str(out), "--data", str(tasks["sentiment"] / "test.tsv")]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    best = results["per_seed"][seeds.index(results["best_seed"])]
    assert evaluated["accuracy"] == pytest.approx(best["test"]["accuracy"])

    unlabelled = tmp_path / "new.tsv"
    unlabelled.write_text("sentence\nthe old ship was good\nthe sea was awful and sad\n")
    predictions = tmp_path / "pred.jsonl"
    assert main(["predict", "--model", str(out), "--data", str(unlabelled), "--out", str(predictions)]) == 0
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert [row["label"] for row in rows] == ["pos", "neg"]
    assert sum(rows[0]["probabilities"].values()) == pytest.approx(1.0)


def test_random_init_is_the_same_architecture_without_pretrained_weights(tmp_path, tasks, capsys):
    out, results = finetune(
        tmp_path,
        "rand",
        "classification",
        tasks["sentiment"],
        "--epochs",
        "1",
        "--init",
        "random",
        "--max-train-examples",
        "64",
    )
    before = (out / "results.json").read_bytes()
    argv = [
        "finetune",
        "--model",
        MODEL,
        "--task",
        "classification",
        "--data",
        str(tasks["sentiment"]),
        "--out",
        str(out),
        "--epochs",
        "1",
        "--max-train-examples",
        "16",
        "--no-progress",
    ]
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err
    assert (out / "results.json").read_bytes() == before
    assert main([*argv, "--overwrite"]) == 0 and json.loads((out / "results.json").read_text())["init"] == "pretrained"
    assert results["init"] == "random"
    pretrained = json.loads((shipped_pair_path() / "discriminator" / "config.json").read_text())
    config = json.loads((out / "seed-1" / "config.json").read_text())
    assert config["hidden_size"] == pretrained["hidden_size"]


def test_regression(tmp_path, tasks):
    _, results = finetune(tmp_path, "reg", "regression", tasks["regression"], "--epochs", "10")
    assert results["dev"]["pearson"] > 0.9 and "spearman" in results["dev"]
    assert results["main_metric"] == "pearson" and "test" not in results  # no test file
    assert results["baseline"]["dev"]["pearson"] == 0.0 and "train mean" in results["baseline"]["predictor"]


def test_tagging_scores_entity_spans_and_predicts_words(tmp_path, tasks):
    out, results = finetune(tmp_path, "ner", "tagging", tasks["ner"], "--epochs", "3")
    assert results["main_metric"] == "f1" and results["dev"]["f1"] > 0.9
    assert results["baseline"]["predictor"] == "always 'O'" and results["baseline"]["dev"]["f1"] == 0.0
    predictions = tmp_path / "ner.jsonl"
    assert (
        main(["predict", "--model", str(out), "--data", str(tasks["ner"] / "test.conll"), "--out", str(predictions)])
        == 0
    )
    first = json.loads(predictions.read_text().splitlines()[0])
    assert len(first["tags"]) == len(first["words"])
    _, tokens = finetune(tmp_path, "pos", "tagging", tasks["ner"], "--epochs", "1", "--tagging-scheme", "token")
    assert tokens["main_metric"] == "accuracy" and "f1" not in tokens["dev"]


def test_qa_learns_answers_and_the_no_answer_threshold(tmp_path, tasks):
    out, results = finetune(tmp_path, "qa", "qa", tasks["qa"], "--epochs", "4")
    assert results["dev"]["f1"] > 0.9 and results["dev"]["no_ans_total"] > 0
    assert results["baseline"]["dev"]["f1"] == pytest.approx(results["dev"]["no_ans_total"] / results["dev"]["total"])
    assert results["test"]["has_ans_f1"] > 0.9 and results["test"]["no_ans_f1"] > 0.9
    predictions = tmp_path / "qa.json"
    assert (
        main(["predict", "--model", str(out), "--data", str(tasks["qa"] / "test.json"), "--out", str(predictions)]) == 0
    )
    answers = json.loads(predictions.read_text())["answers"]
    gold = json.loads((tasks["qa"] / "test.json").read_text())["data"][0]["paragraphs"]
    right = sum(
        answers[p["qas"][0]["id"]] == (p["qas"][0]["answers"][0]["text"] if p["qas"][0]["answers"] else "")
        for p in gold
    )
    assert right / len(gold) > 0.9


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "sentiment-analysis"], "unknown task 'sentiment-analysis'"),
        (["--task", "classification", "--text-columns", "review"], "review"),
        (["--task", "classification", "--seeds", "1,x"], "--seeds"),
        (["--task", "classification", "--lr", "-1"], "'lr'"),
        (["--task", "classification", "--model", "/nonexistent/model"], "/nonexistent/model"),
    ],
)
def test_bad_arguments_are_named(tmp_path, tasks, capsys, args, message):
    argv = ["finetune", "--model", MODEL, "--data", str(tasks["sentiment"]), "--out", str(tmp_path / "x"), *args]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_dev_labels_unknown_to_train_are_named_with_file_and_line(tmp_path, capsys):
    """Warned about (file, label, count, line), scored as errors; see test_guards.py for more."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tsv").write_text("sentence\tlabel\na\tpos\nb\tneg\n")
    (data / "dev.tsv").write_text("sentence\tlabel\nc\tpos\nd\tmixed\n")
    assert (
        main(
            [
                "finetune",
                "--model",
                MODEL,
                "--task",
                "classification",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "out"),
                "--no-progress",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "dev.tsv: 1 of 2 labels" in err and "'mixed' 1× from line 3" in err
    assert json.loads((tmp_path / "out" / "results.json").read_text())["dev"]["accuracy"] <= 0.5


def test_evaluate_needs_labels_and_a_finetuned_model(tmp_path, tasks, capsys):
    assert main(["evaluate", "--model", MODEL, "--data", str(tasks["sentiment"] / "dev.tsv")]) == 2
    assert "not a fine-tuned model" in capsys.readouterr().err


@pytest.mark.parametrize("objective, part", [("electra", "discriminator"), ("mlm", "mlm")])
def test_finetunes_from_a_pretraining_run_folder(tmp_path, prepared, tasks, objective, part):
    """Any run written by 'electra pretrain' works: its encoder is loaded, the pretraining head dropped."""
    from safetensors.torch import load_file

    from electra.config import ModelConfig, ObjectiveConfig, TrainConfig
    from electra.pretrain import PretrainJob, run_pretraining

    model = ModelConfig(
        embedding_size=32,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    train = TrainConfig(batch_size=8, max_steps=2, warmup_steps=1, device="cpu", save_every=2)
    run = run_pretraining(
        PretrainJob(objective, model, ObjectiveConfig(generator_fraction=0.5), train),
        prepared,
        tmp_path / "run",
        progress=False,
    )
    # the prepared fixture's vocabulary differs from the synthetic task's words: that is fine, it
    # only has to tokenize them
    out = tmp_path / "ft"
    assert (
        main(
            [
                "finetune",
                "--model",
                str(run),
                "--task",
                "classification",
                "--data",
                str(tasks["sentiment"]),
                "--out",
                str(out),
                "--epochs",
                "1",
                "--max-train-examples",
                "32",
                "--no-progress",
            ]
        )
        == 0
    )
    encoder = {k: v for k, v in load_file(str(run / part / "model.safetensors")).items() if k.startswith("electra.")}
    tuned = load_file(str(out / "seed-1" / "model.safetensors"))
    assert set(encoder) < set(tuned)
    embeddings = "electra.embeddings.word_embeddings.weight"
    # one epoch of 32 examples at a small rate: still close to the pretrained weights, far from a fresh init
    assert (tuned[embeddings] - encoder[embeddings]).abs().max() < 0.05


def test_conll2003_pos_column_is_scored_by_token_accuracy(tmp_path, tasks):
    """Four CoNLL-2003 columns (word POS chunk NER): --tag-column 1 picks the POS tags."""
    data = tmp_path / "conll"
    data.mkdir()
    pos = {
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
    import random

    from tests.helpers import sentence

    rng = random.Random(3)
    for name, size in (("train", 200), ("dev", 40)):
        lines = ["-DOCSTART- -X- -X- O", ""]
        for _ in range(size):
            lines += [f"{w} {pos[w]} I-NP O" for w in sentence(rng, [])] + [""]
        (data / f"{name}.txt").write_text("\n".join(lines))
    out, results = finetune(tmp_path, "pos", "tagging", data, "--epochs", "3", "--tag-column", "1")
    assert results["main_metric"] == "accuracy" and results["dev"]["accuracy"] > 0.9
    config = json.loads((out / "seed-1" / "config.json").read_text())
    assert set(config["label2id"]) == {"DT", "NN", "VBD", "PRP", "JJ", "IN"}


def test_a_cut_training_set_keeps_the_full_label_set(tmp_path):
    """--max-train-examples is for quick trials: labels still come from the whole training file."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tsv").write_text("sentence\tlabel\na\tpos\nb\tpos\nc\tneg\nd\tmixed\n")
    (data / "dev.tsv").write_text("sentence\tlabel\ne\tmixed\nf\tpos\n")
    out, results = finetune(tmp_path, "cut", "classification", data, "--max-train-examples", "2", "--epochs", "1")
    assert json.loads((out / "seed-1" / "config.json").read_text())["num_labels"] == 3
