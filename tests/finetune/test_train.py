"""Layer-wise learning rates: every parameter's rate pinned, and the optimizer really uses them."""

import pytest
import torch

from electra.config import FinetuneConfig, ModelConfig
from electra.finetune.train import depth_of, layerwise_lrs, param_groups
from electra.model.heads import SequenceClassifier, SpanExtractor, TokenClassifier
from electra.train.optim import linear_schedule

CFG = ModelConfig(
    vocab_size=50,
    embedding_size=8,
    hidden_size=16,
    num_hidden_layers=3,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=32,
)


def expected_rate(name: str, lr: float, decay: float) -> float:
    """Written out by hand: head lr, top layer lr*d, ..., layer 0 lr*d^3, embeddings lr*d^4."""
    if name.startswith("electra.embeddings"):  # embeddings and embeddings_project
        return lr * decay**4
    for layer, power in ((2, 1), (1, 2), (0, 3)):
        if name.startswith(f"electra.encoder.layer.{layer}."):
            return lr * decay**power
    assert not name.startswith("electra."), name
    return lr


@pytest.mark.parametrize(
    "model",
    [
        SequenceClassifier(CFG, 3),
        SequenceClassifier(CFG, 2, form="reference"),
        TokenClassifier(CFG, 5),
        SpanExtractor(CFG),
    ],
    ids=lambda m: type(m).__name__,
)
def test_every_parameter_gets_its_depths_rate(model):
    rates = layerwise_lrs(model, lr=1e-3, decay=0.5)
    assert set(rates) == {name for name, _ in model.named_parameters()}
    for name, rate in rates.items():
        assert rate == pytest.approx(expected_rate(name, 1e-3, 0.5)), name
    assert rates["electra.embeddings.word_embeddings.weight"] == pytest.approx(1e-3 / 16)
    assert rates["electra.embeddings_project.weight"] == pytest.approx(1e-3 / 16)
    assert rates["electra.encoder.layer.2.output.dense.weight"] == pytest.approx(1e-3 / 2)


def test_depths_are_not_the_reference_off_by_one():
    # the reference puts the head at depth L+2, so its top layer would get lr * d^2
    assert depth_of("electra.encoder.layer.2.attention.self.query.weight", 3) == 3
    assert depth_of("classifier.out_proj.weight", 3) == 4
    assert depth_of("qa_outputs.bias", 3) == 4


def test_optimizer_groups_follow_the_schedule_per_parameter():
    model = SequenceClassifier(CFG, 2)
    groups = param_groups(model, lr=1e-3, decay=0.8, weight_decay=0.01)
    optimizer = torch.optim.AdamW(groups)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(2, 10))
    rates = layerwise_lrs(model, 1e-3, 0.8)
    for _ in range(5):
        optimizer.step()
        schedule.step()
    factor = linear_schedule(2, 10)(5)
    for group in optimizer.param_groups:
        for name in group["names"]:
            assert group["lr"] == pytest.approx(rates[name] * factor)
            assert group["weight_decay"] == (0.0 if name.endswith("bias") or "LayerNorm" in name else 0.01)
    seen = [name for group in groups for name in group["names"]]
    assert sorted(seen) == sorted(name for name, _ in model.named_parameters())


def test_weight_decay_zero_by_default():
    assert FinetuneConfig().weight_decay == 0.0
    groups = param_groups(SequenceClassifier(CFG, 2), 1e-3, 0.8, 0.0)
    assert all(group["weight_decay"] == 0.0 for group in groups)
