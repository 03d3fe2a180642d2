"""Task heads have the exact key layout and outputs of transformers' ELECTRA task classes."""

import pytest
import torch

from electra.config import ModelConfig
from electra.model.heads import SequenceClassifier, SpanExtractor, TokenClassifier

SMALL_CFG = dict(
    vocab_size=120,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
)


@pytest.mark.parametrize("embedding_size", [16, 32])
@pytest.mark.parametrize("kind", ["sequence", "regression", "token", "qa"])
def test_heads_match_transformers(kind, embedding_size, hf_inputs):
    transformers = pytest.importorskip("transformers")
    cfg = ModelConfig(**{**SMALL_CFG, "embedding_size": embedding_size})
    ours, hf_cls, labels = {
        "sequence": (SequenceClassifier(cfg, 3), transformers.ElectraForSequenceClassification, 3),
        "regression": (SequenceClassifier(cfg, 1), transformers.ElectraForSequenceClassification, 1),
        "token": (TokenClassifier(cfg, 5), transformers.ElectraForTokenClassification, 5),
        "qa": (SpanExtractor(cfg), transformers.ElectraForQuestionAnswering, 2),
    }[kind]
    theirs = hf_cls(transformers.ElectraConfig(**cfg.to_hf_dict(ours.architecture), num_labels=labels)).eval()
    ours.eval()
    hf_keys = {k for k in theirs.state_dict() if not k.endswith("position_ids")}
    assert set(ours.state_dict()) == hf_keys
    theirs.load_state_dict(ours.state_dict(), strict=False)
    ids, mask, types = hf_inputs
    with torch.no_grad():
        out = theirs(input_ids=ids, attention_mask=mask, token_type_ids=types)
        got = ours(ids, mask, types)
    expected = torch.stack([out.start_logits, out.end_logits], -1) if kind == "qa" else out.logits
    if got.dim() == 3:  # per token: padding positions are not compared
        got, expected = got[mask.bool()], expected[mask.bool()]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_reference_head_is_dropout_and_one_linear_layer():
    model = SequenceClassifier(ModelConfig(**SMALL_CFG), 2, form="reference")
    head_keys = {k for k in model.state_dict() if k.startswith("classifier.")}
    assert head_keys == {"classifier.out_proj.weight", "classifier.out_proj.bias"}


@pytest.mark.parametrize("embedding_size", [16, 32])
def test_encoder_matches_transformers_electra_model(embedding_size, hf_inputs):
    transformers = pytest.importorskip("transformers")
    cfg = ModelConfig(**{**SMALL_CFG, "embedding_size": embedding_size})
    ours = SequenceClassifier(cfg, 2).eval()
    theirs = transformers.ElectraModel(transformers.ElectraConfig(**cfg.to_hf_dict("ElectraModel"))).eval()
    encoder = {k[len("electra.") :]: v for k, v in ours.state_dict().items() if k.startswith("electra.")}
    assert set(encoder) == {k for k in theirs.state_dict() if not k.endswith("position_ids")}
    theirs.load_state_dict(encoder, strict=False)
    ids, mask, types = hf_inputs
    with torch.no_grad():
        expected = theirs(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        got = ours.electra(ids, mask, types)
    torch.testing.assert_close(got[mask.bool()], expected[mask.bool()], atol=1e-5, rtol=1e-5)
