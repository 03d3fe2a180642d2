"""``electra export``: pretrained and fine-tuned models load in transformers, same outputs, same ids."""

import json

import pytest
import torch

from electra.cli import main
from electra.commands.demo import shipped_pair_path
from electra.finetune.run import load_finetuned
from electra.model.io import load_network
from electra.model.networks import Discriminator, Generator
from electra.tokenizer import load_tokenizer

transformers = pytest.importorskip("transformers")
SENTENCES = ["Call me Ishmael.", "It is a truth universally acknowledged, that a single man"]


def hf_load(auto_cls, folder):
    model, info = getattr(transformers, auto_cls).from_pretrained(str(folder), output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    return model.eval()


def encode(folder):
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    batch = tokenizer(SENTENCES, return_tensors="pt", padding=True)
    ours = [e.ids for e in load_tokenizer(folder).encode_batch(SENTENCES)]
    assert [row[: len(ids)] for row, ids in zip(batch["input_ids"].tolist(), ours)] == ours
    return batch


def assert_same_logits(theirs, ours, folder):
    """``transformers``' model and ours give the same logits on every real token of ``SENTENCES``."""
    batch = encode(folder)
    with torch.no_grad():
        expected = ours(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        got = theirs(**batch).logits
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(got[real], expected[real], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "part, auto_cls, ours_cls",
    [("discriminator", "AutoModelForPreTraining", Discriminator), ("generator", "AutoModelForMaskedLM", Generator)],
)
def test_pretrained_pair_exports(tmp_path, part, auto_cls, ours_cls):
    out = tmp_path / part
    assert main(["export", str(shipped_pair_path()), str(out), "--part", part]) == 0
    theirs = hf_load(auto_cls, out)
    ours = load_network(ours_cls, shipped_pair_path() / part).eval()
    assert_same_logits(theirs, ours, out)


@pytest.mark.parametrize(
    "task, kind, auto_cls",
    [
        ("sentiment", "classification", "AutoModelForSequenceClassification"),
        ("regression", "regression", "AutoModelForSequenceClassification"),
        ("ner", "tagging", "AutoModelForTokenClassification"),
        ("qa", "qa", "AutoModelForQuestionAnswering"),
    ],
)
def test_finetuned_models_export(tmp_path, tasks, task, kind, auto_cls):
    run = tmp_path / "run"
    assert (
        main(
            [
                "finetune",
                "--model",
                str(shipped_pair_path()),
                "--task",
                kind,
                "--data",
                str(tasks[task]),
                "--out",
                str(run),
                "--epochs",
                "1",
                "--max-train-examples",
                "32",
                "--no-progress",
            ]
        )
        == 0
    )
    out = tmp_path / "hf"
    assert main(["export", str(run), str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert "electra_task" not in config
    theirs = hf_load(auto_cls, out)
    ours, _, _ = load_finetuned(run, "cpu")
    ours.eval()
    batch = encode(out)
    with torch.no_grad():
        expected = ours(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        out_hf = theirs(**batch)
    got = torch.stack([out_hf.start_logits, out_hf.end_logits], -1) if kind == "qa" else out_hf.logits
    if got.dim() == 3:
        real = batch["attention_mask"].bool()
        got, expected = got[real], expected[real]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_reference_head_is_not_exported(tmp_path, tasks, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "finetune",
                "--model",
                str(shipped_pair_path()),
                "--task",
                "classification",
                "--data",
                str(tasks["sentiment"]),
                "--out",
                str(run),
                "--epochs",
                "1",
                "--max-train-examples",
                "32",
                "--head",
                "reference",
                "--no-progress",
            ]
        )
        == 0
    )
    assert main(["export", str(run), str(tmp_path / "hf")]) == 2
    assert "--head reference" in capsys.readouterr().err


def test_pipeline_on_the_export_predicts_what_electra_predict_does(tmp_path, tasks):
    run = tmp_path / "run"
    assert (
        main(
            [
                "finetune",
                "--model",
                str(shipped_pair_path()),
                "--task",
                "classification",
                "--data",
                str(tasks["sentiment"]),
                "--out",
                str(run),
                "--epochs",
                "2",
                "--lr",
                "1e-3",
                "--no-progress",
            ]
        )
        == 0
    )
    assert main(["export", str(run), str(tmp_path / "hf")]) == 0
    test_file = tasks["sentiment"] / "test.tsv"
    assert main(["predict", "--model", str(run), "--data", str(test_file), "--out", str(tmp_path / "p.jsonl")]) == 0
    ours = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    sentences = [line.split("\t")[0] for line in test_file.read_text().splitlines()[1:]]
    classify = transformers.pipeline("text-classification", model=str(tmp_path / "hf"), device="cpu")
    theirs = classify(sentences, batch_size=16)
    assert [row["label"] for row in ours] == [row["label"] for row in theirs]
    for mine, hf in zip(ours, theirs):
        assert mine["probabilities"][hf["label"]] == pytest.approx(hf["score"], abs=1e-4)
    # and the exported folder itself works as a --model of electra predict
    assert (
        main(["predict", "--model", str(tmp_path / "hf"), "--data", str(test_file), "--out", str(tmp_path / "q.jsonl")])
        == 0
    )
    again = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert [row["label"] for row in again] == [row["label"] for row in ours]


def test_transformers_task_configs_become_tasks(tmp_path):
    from electra.errors import ElectraError
    from electra.finetune.run import task_from_transformers

    def task(**body):
        return task_from_transformers(body, tmp_path / "config.json")

    tags = task(
        architectures=["ElectraForTokenClassification"], num_labels=3, id2label={"0": "O", "1": "B-PER", "2": "I-PER"}
    )
    assert tags["name"] == "tagging" and tags["state"] == {"labels": ["O", "B-PER", "I-PER"], "scheme": "IOB2"}
    assert task(architectures=["ElectraForSequenceClassification"], num_labels=1)["name"] == "regression"
    assert task(architectures=["ElectraForSequenceClassification"], num_labels=2, id2label={0: "neg", 1: "pos"})[
        "state"
    ] == {"labels": ["neg", "pos"]}
    assert task(architectures=["ElectraForQuestionAnswering"])["state"]["null_threshold"] == 0.0
    with pytest.raises(ElectraError, match="not a fine-tuned model"):
        task(architectures=["ElectraForPreTraining"])


def test_a_gdes_pair_exports_the_discriminators_summed_tables(prepared, tmp_path):
    """``--recipe.embedding_sharing gdes``: the discriminator folder holds ``E_G + E_delta`` in the
    usual layout, so ``transformers`` loads it with the same outputs."""
    from tests.helpers import TINY

    run = tmp_path / "run"
    args = ["pretrain", "--data", str(prepared), "--out", str(run), "--max-steps", "10", "--no-progress"]
    assert main([*args, *TINY, "--recipe.embedding_sharing", "gdes", "--train.batch_size", "8"]) == 0
    out = tmp_path / "exported"
    assert main(["export", str(run), str(out), "--part", "discriminator"]) == 0
    theirs = hf_load("AutoModelForPreTraining", out)
    ours = load_network(Discriminator, run / "discriminator").eval()
    generator = load_network(Generator, run / "generator")
    table = ours.electra.embeddings.word_embeddings.weight
    assert not torch.equal(table, generator.electra.embeddings.word_embeddings.weight)  # its own tables
    torch.testing.assert_close(theirs.electra.embeddings.word_embeddings.weight, table)
    assert_same_logits(theirs, ours, out)
