"""The FLOPs accounting against PyTorch's own FLOP counter on a real training step."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from electra.commands.bench import BERT_SPECIALS, BenchConfig, synthetic_batch
from electra.config import ModelConfig, ObjectiveConfig
from electra.flops import slot_share
from electra.objectives import OBJECTIVES

# attention dropout > 0 makes attention run as explicit matmuls, which the counter sees
# (it has no formula for the CPU flash kernel); E != H exercises the embedding projection
MODEL = ModelConfig(
    vocab_size=1500,
    embedding_size=32,
    hidden_size=64,
    num_hidden_layers=3,
    num_attention_heads=4,
    intermediate_size=128,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=64,
)


def in_place_addmm_flops(self_shape, a_shape, b_shape, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


GENERATOR_SHAPES = {
    "paper": ObjectiveConfig(),
    "full width, 1 layer": ObjectiveConfig(generator_fraction=1.0, generator_layers=1),
}


@pytest.mark.parametrize(
    "objective,generator",
    [("electra", "paper"), ("electra", "full width, 1 layer")]
    + [(name, "paper") for name in OBJECTIVES if name != "electra"],
)
@pytest.mark.parametrize("seq_len", [32, 48])
@pytest.mark.parametrize("padded", [False, True])
def test_step_flops_match_the_torch_flop_counter(objective, generator, seq_len, padded):
    recipe = GENERATOR_SHAPES[generator]
    torch.manual_seed(0)
    model = OBJECTIVES[objective].build(MODEL, recipe, BERT_SPECIALS, seq_len)
    batch = synthetic_batch(BenchConfig(preset="tiny", batch_size=5, seq_len=seq_len), torch.Generator().manual_seed(1))
    batch.input_ids.clamp_(max=MODEL.vocab_size - 1)
    if padded:  # a short row selects fewer positions, but its slots are computed all the same
        batch.attention_mask[2, 9:] = 0
        batch.input_ids[2, 9:] = BERT_SPECIALS.pad
    # the fused vocabulary pass accumulates the weight gradient with in-place addmm_, for which
    # the counter has no formula of its own: it is the same product as addmm
    counter = FlopCounterMode(display=False, custom_mapping={torch.ops.aten.addmm_: in_place_addmm_flops})
    with counter:
        out = model(batch, torch.Generator().manual_seed(2))
        out.loss.backward()
    slots = 5 * seq_len * slot_share(recipe, seq_len)
    expected = OBJECTIVES[objective].step_flops(MODEL, recipe, seq_len).total(positions=5 * seq_len, slots=slots)
    assert counter.get_total_flops() == pytest.approx(expected, rel=1e-9)
    assert (float(out.stats["selected"]) < slots) == padded


def test_vocabulary_everywhere_costs_more_and_only_per_position():
    recipe = ObjectiveConfig()
    ours = OBJECTIVES["electra"].step_flops(MODEL, recipe, 128)
    everywhere = OBJECTIVES["electra"].step_flops(MODEL, recipe, 128, vocab_everywhere=True)
    share = slot_share(recipe, 128)
    assert everywhere.per_selected == 0
    assert everywhere.per_token(share) > ours.per_token(share)
    # the difference is the generator head at the positions that were not selected
    generator = MODEL.scaled(recipe.generator_fraction)
    head = 3 * (2 * generator.hidden_size * MODEL.embedding_size + 2 * MODEL.embedding_size * MODEL.vocab_size)
    assert everywhere.per_token(share) - ours.per_token(share) == pytest.approx(head * (1 - share))
