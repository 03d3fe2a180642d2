"""Model shapes, presets, weight sharing and the transformers key layout."""

import dataclasses

import pytest
import torch

from electra.config import ModelConfig, preset
from electra.model.networks import Discriminator, Generator, build_pair, count_parameters
from electra.pretrain import PretrainJob, describe

SMALL_CFG = dict(
    vocab_size=120,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
)


@pytest.mark.parametrize("name,expected", [("small", 14e6), ("base", 110e6), ("large", 335e6)])
def test_preset_discriminator_sizes_match_the_paper(name, expected):
    p = preset(name)
    report = describe(PretrainJob("electra", p.model, p.objective, p.train))
    # The paper's "14M" for Small rounds 13.55M (as google/electra-small-discriminator has).
    assert abs(report["discriminator_parameters"] - expected) / expected < 0.035
    gen = report["generator_model"]
    assert gen["num_hidden_layers"] == p.model.num_hidden_layers
    assert gen["hidden_size"] == round(p.model.hidden_size * p.objective.generator_fraction)


def test_tiny_budget_is_tiny_with_the_local_start_and_a_capped_table():
    tiny, budget = preset("tiny"), preset("tiny-budget")
    assert dataclasses.replace(budget.model, init_scheme="bert") == tiny.model
    assert budget.model.init_scheme == "local"
    assert budget.train == tiny.train
    changed = {
        f.name
        for f in dataclasses.fields(budget.objective)
        if getattr(budget.objective, f.name) != getattr(tiny.objective, f.name)
    }
    assert changed == {"embedding_norm_cap"} and budget.objective.embedding_norm_cap == 0.2


def test_generator_shares_embeddings_with_discriminator():
    generator, discriminator = build_pair(ModelConfig(**SMALL_CFG), 0.25)
    d_emb, g_emb = discriminator.electra.embeddings, generator.electra.embeddings
    assert g_emb is d_emb
    assert generator.generator_lm_head.weight is d_emb.word_embeddings.weight
    # the generator has its own projection from the shared embedding width to its own width
    assert generator.electra.embeddings_project.weight.shape == (8, 16)
    assert discriminator.electra.embeddings_project.weight.shape == (32, 16)


def test_padding_does_not_change_real_token_outputs():
    torch.manual_seed(0)
    model = Discriminator(ModelConfig(**SMALL_CFG)).eval()
    ids = torch.randint(5, 120, (1, 10))
    padded = torch.cat([ids, torch.zeros(1, 6, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 10), torch.zeros(1, 6)], dim=1).long()
    out = model(ids, torch.ones_like(ids), torch.zeros_like(ids))
    out_padded = model(padded, mask, torch.zeros_like(padded))
    torch.testing.assert_close(out, out_padded[:, :10], atol=1e-5, rtol=1e-5)


def test_generator_projects_only_requested_positions():
    torch.manual_seed(0)
    model = Generator(ModelConfig(**SMALL_CFG)).eval()
    ids = torch.randint(5, 120, (2, 9))
    args = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    positions = torch.tensor([[3, 0], [5, 8]])
    full = model(*args)
    picked = model(*args, positions=positions)
    assert picked.shape == (2, 2, 120)
    torch.testing.assert_close(picked[0], full[0, [3, 0]])
    torch.testing.assert_close(picked[1], full[1, [5, 8]])


@pytest.mark.parametrize("embedding_size", [16, 32])
def test_matches_transformers_electra_layout_and_outputs(embedding_size, hf_inputs):
    transformers = pytest.importorskip("transformers")
    cfg = ModelConfig(**{**SMALL_CFG, "embedding_size": embedding_size})
    hf_cfg = transformers.ElectraConfig(**cfg.to_hf_dict("ElectraForPreTraining"))
    ids, mask, types = hf_inputs
    for ours_cls, hf_cls in (
        (Discriminator, transformers.ElectraForPreTraining),
        (Generator, transformers.ElectraForMaskedLM),
    ):
        ours = ours_cls(cfg).eval()
        theirs = hf_cls(hf_cfg).eval()
        hf_keys = {k for k in theirs.state_dict() if not k.endswith("position_ids")}
        assert set(ours.state_dict()) == hf_keys
        theirs.load_state_dict(ours.state_dict(), strict=False)
        with torch.no_grad():
            expected = theirs(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
            got = ours(ids, mask, types)
        real = mask.bool()
        torch.testing.assert_close(got[real], expected[real], atol=1e-5, rtol=1e-5)


def test_count_parameters_counts_shared_tensors_once():
    generator, discriminator = build_pair(ModelConfig(**SMALL_CFG), 0.25)
    both = torch.nn.ModuleList([generator, discriminator])
    assert count_parameters(both) < count_parameters(generator) + count_parameters(discriminator)
