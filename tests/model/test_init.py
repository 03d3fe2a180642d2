"""The "local" initialisation: neighbour-reading first-layer heads, without data."""

import dataclasses
import math

import pytest
import torch

from electra.config import ModelConfig
from electra.model import init
from electra.model.networks import build_pair


def tiny(**kw) -> ModelConfig:
    base = dict(
        vocab_size=300,
        embedding_size=128,
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=256,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=128,
    )
    base.update(kw)
    return ModelConfig(**base)


def local_pair(cfg: ModelConfig, fraction: float = 0.25):
    torch.manual_seed(0)
    return build_pair(dataclasses.replace(cfg, init_scheme="local"), fraction)


def attention_probs(net, ids: torch.Tensor) -> torch.Tensor:
    x = net.embeddings(ids, torch.zeros_like(ids))
    if hasattr(net, "embeddings_project"):
        x = net.embeddings_project(x)
    attention = net.encoder.layer[0].attention
    B, T, _ = x.shape
    q, k = (
        p(x).view(B, T, attention.num_heads, -1).transpose(1, 2) for p in (attention.self.query, attention.self.key)
    )
    return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), -1)  # (B, nh, T, T)


def test_position_table_holds_sinusoids_only_in_its_first_columns():
    table = init.position_table(128, 64, 8, std=0.02)
    assert torch.all(table[:, 16:] == 0)
    assert torch.allclose(table[:, 0] ** 2 + table[:, 1] ** 2, table[0, 0] ** 2 * torch.ones(128))
    assert table.norm(dim=1).mean() == pytest.approx(0.02 * math.sqrt(64), rel=1e-4)


def test_rotation_moves_a_position_by_delta():
    k = 6
    table = init.position_table(20, 2 * k, k, std=1.0)
    assert torch.allclose(init.rotation(k, 3) @ table[5], table[8], atol=1e-5)
    assert torch.allclose(init.rotation(k, -1) @ table[5], table[4], atol=1e-5)


@torch.no_grad()
def test_first_layer_heads_read_their_neighbours():
    generator, discriminator = local_pair(tiny())
    ids = torch.randint(5, 300, (4, 128), generator=torch.Generator().manual_seed(1))
    probs = attention_probs(discriminator.electra, ids)[0]  # (nh, T, T), first row
    t = torch.arange(1, 127)
    assert (probs[0].argmax(-1)[t] == t - 1).float().mean() > 0.9  # head 0: previous token
    assert (probs[1].argmax(-1)[t] == t + 1).float().mean() > 0.9  # head 1: next token
    mass = init.neighbour_mass(discriminator.electra, ids)
    assert mass == pytest.approx(init.NEIGHBOUR_MASS, abs=0.1)
    # the 32-wide, one-head generator reads both neighbours with fewer frequencies
    assert init.neighbour_mass(generator.electra, ids) > 0.3


@torch.no_grad()
def test_content_tables_leave_the_position_columns_free_and_bert_init_does_not():
    _, discriminator = local_pair(tiny())
    emb = discriminator.electra.embeddings
    cols = 2 * init.FREQUENCIES
    assert torch.all(emb.word_embeddings.weight[:, :cols] == 0)
    assert torch.all(emb.token_type_embeddings.weight[:, :cols] == 0)
    assert emb.word_embeddings.weight[:, cols:].std() == pytest.approx(0.02, rel=0.1)
    torch.manual_seed(0)
    _, plain = build_pair(tiny(), 0.25)
    ids = torch.randint(5, 300, (4, 64), generator=torch.Generator().manual_seed(1))
    assert init.neighbour_mass(plain.electra, ids) < 0.1  # BERT init: near-uniform attention


def test_the_scheme_is_deterministic():
    a = local_pair(tiny())[1].state_dict()
    b = local_pair(tiny())[1].state_dict()
    assert all(torch.equal(a[name], b[name]) for name in a)


def test_generator_depth_and_width_follow_the_recipe():
    from electra.config import ObjectiveConfig
    from electra.objectives import ElectraObjective
    from electra.tokenizer import SpecialIds

    cfg = tiny(num_hidden_layers=4)
    recipe = ObjectiveConfig(generator_fraction=1.0, generator_layers=2)
    objective = ElectraObjective.build(cfg, recipe, SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4), 128)
    assert len(objective.generator.electra.encoder.layer) == 2
    assert objective.generator.config.hidden_size == 128
    assert len(objective.discriminator.electra.encoder.layer) == 4
    assert recipe.generator_model(cfg) == objective.generator.config
    with pytest.raises(Exception, match="generator_layers"):
        ObjectiveConfig(generator_layers=0)


def test_a_task_model_of_a_local_config_starts_local():
    """What ``finetune --init random`` does with a folder whose config.json says 'local'."""
    from electra.model.heads import SequenceClassifier
    from electra.model.networks import apply_init_scheme

    ids = torch.randint(5, 300, (2, 128), generator=torch.Generator().manual_seed(1))
    for scheme, low, high in (("local", 0.5, 0.7), ("bert", 0.0, 0.1)):
        torch.manual_seed(3)
        model = SequenceClassifier(tiny(init_scheme=scheme), num_labels=2)
        apply_init_scheme(model.config, [model.electra])
        assert low <= init.neighbour_mass(model.electra, ids) <= high


def test_a_narrow_model_keeps_most_of_its_width_for_words():
    _, discriminator = local_pair(tiny(embedding_size=32, hidden_size=32, intermediate_size=64), fraction=0.5)
    words = discriminator.electra.embeddings.word_embeddings.weight
    position_columns = int((words[1:] == 0).all(dim=0).sum())
    assert 0 < position_columns <= 32 * 3 // 8
