"""The ELECTRA and MLM objectives: losses, stop-gradient, statistics."""

import math

import torch

from electra.config import ModelConfig, ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.objectives import ElectraObjective, MlmObjective
from electra.objectives.pieces import binary_entropy, rtd_loss
from electra.tokenizer import SpecialIds

SPECIAL = SpecialIds(pad=0, unk=1, cls=2, sep=3, mask=4)
CFG = ModelConfig(
    vocab_size=100,
    embedding_size=16,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=32,
)


def batch(seed: int = 0) -> PretrainBatch:
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 100, (8, 32), generator=gen)
    ids[:, 0], ids[:, -1] = SPECIAL.cls, SPECIAL.sep
    attn = torch.ones_like(ids)
    attn[4:, 20:] = 0
    ids[attn == 0] = SPECIAL.pad
    return PretrainBatch(input_ids=ids, attention_mask=attn, token_type_ids=torch.zeros_like(ids))


def test_discriminator_loss_gives_no_gradient_to_generator_only_parameters():
    torch.manual_seed(0)
    objective = ElectraObjective.build(CFG, ObjectiveConfig(), SPECIAL, 32)
    b = batch()
    out = objective.run(b, torch.Generator().manual_seed(1))
    rtd_loss(out.disc_logits, out.labels, b.attention_mask).backward()
    shared = {id(p) for p in objective.discriminator.parameters()}
    generator_only = [(n, p) for n, p in objective.generator.named_parameters() if id(p) not in shared]
    assert generator_only, "the generator must have parameters of its own"
    for name, param in generator_only:
        assert param.grad is None or torch.count_nonzero(param.grad) == 0, name
    # ... while the shared embeddings do get the discriminator's gradient
    assert torch.count_nonzero(objective.discriminator.electra.embeddings.word_embeddings.weight.grad) > 0


def test_total_loss_is_mlm_plus_weighted_discriminator_loss():
    torch.manual_seed(0)
    objective = ElectraObjective.build(CFG, ObjectiveConfig(disc_weight=50.0), SPECIAL, 32)
    out = objective(batch(), torch.Generator().manual_seed(3))
    mlm = out.stats["mlm_loss_sum"] / out.stats["selected"]
    disc = out.stats["disc_loss_sum"] / out.stats["real_tokens"]
    torch.testing.assert_close(out.loss.detach(), mlm + 50.0 * disc)


def test_rtd_loss_averages_over_real_tokens_only():
    logits = torch.tensor([[2.0, -1.0, 5.0]])
    labels = torch.tensor([[1, 0, 1]])
    mask = torch.tensor([[1, 1, 0]])
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert abs(float(rtd_loss(logits, labels, mask)) - expected) < 1e-6


def test_disallow_correct_replaces_every_selected_position():
    torch.manual_seed(0)
    objective = ElectraObjective.build(CFG, ObjectiveConfig(disallow_correct=True), SPECIAL, 32)
    b = batch()
    out = objective.run(b, torch.Generator().manual_seed(4))
    assert torch.equal(out.labels.bool(), out.selected)


def test_statistics_and_baseline():
    torch.manual_seed(0)
    objective = ElectraObjective.build(CFG, ObjectiveConfig(), SPECIAL, 32)
    out = objective(batch(), torch.Generator().manual_seed(5))
    row = ElectraObjective.metrics({k: float(v) for k, v in out.stats.items()})
    share = row["replaced_share"]
    assert 0.0 < share < 0.2
    assert abs(row["disc_baseline_loss"] - binary_entropy(share)) < 1e-12
    assert 0.0 <= row["gen_acc"] <= 1.0 and 0.0 <= row["disc_recall"] <= 1.0


def test_binary_entropy_is_the_loss_of_the_constant_predictor():
    p = 0.14
    labels = torch.tensor([1.0] * 14 + [0.0] * 86)[None]
    logit = torch.full_like(labels, math.log(p / (1 - p)))
    assert abs(float(rtd_loss(logit, labels, torch.ones_like(labels))) - binary_entropy(p)) < 1e-6


def test_mlm_objective_trains_one_full_size_network():
    torch.manual_seed(0)
    objective = MlmObjective.build(CFG, ObjectiveConfig(), SPECIAL, 32)
    assert list(objective.networks()) == ["mlm"]
    assert objective.mlm.config.hidden_size == CFG.hidden_size
    out = objective(batch(), torch.Generator().manual_seed(6))
    out.loss.backward()
    assert "disc_loss_sum" not in out.stats
    assert abs(float(out.loss.detach()) - math.log(100)) < 1.0  # near-uniform predictions at init


def test_the_norm_cap_keeps_every_token_row_within_it_after_each_step(prepared, tmp_path):
    import dataclasses

    from electra.data.loader import PretrainData
    from electra.pretrain import build, fitted_job
    from tests.helpers import job

    capped = job("electra", 5)
    capped = dataclasses.replace(capped, recipe=dataclasses.replace(capped.recipe, embedding_norm_cap=0.1))
    meta = PretrainData(prepared).meta
    objective = build(fitted_job(capped, meta, None, False), SPECIAL, 64)
    table = objective.discriminator.electra.embeddings.word_embeddings.weight
    with torch.no_grad():
        table.mul_(20)  # rows of norm ~2-4, far over the cap
    assert table.norm(dim=1).max() > 1
    objective.after_step()
    norms = table.norm(dim=1)
    assert norms.max() <= 0.1 + 1e-6 and norms[1:].min() > 0.09  # long rows scaled back (row 0: padding, zero)
    assert objective.generator.electra.embeddings.word_embeddings.weight is table  # one shared table, capped once
    short = torch.full_like(table, 0.001)
    with torch.no_grad():
        table.copy_(short)
    objective.after_step()
    assert torch.equal(table, short)  # rows under the cap are untouched


def tables(network) -> list[torch.Tensor]:
    e = network.electra.embeddings
    return [e.word_embeddings.weight, e.position_embeddings.weight, e.token_type_embeddings.weight]


def test_gdes_keeps_each_loss_on_its_own_tables_and_the_discriminator_on_their_sum():
    """``embedding_sharing='gdes'``: the RTD loss reaches only the discriminator's tables, the MLM
    loss only the generator's, and after each step the discriminator's tables are the generator's
    plus what the RTD updates alone added (E_delta)."""
    torch.manual_seed(0)
    recipe = ObjectiveConfig(embedding_sharing="gdes")
    objective = ElectraObjective.build(CFG, recipe, SPECIAL, 32)
    gen, disc = tables(objective.generator), tables(objective.discriminator)
    assert all(g is not d and torch.equal(g, d) for g, d in zip(gen, disc))  # own tables, same start
    assert objective.generator.generator_lm_head.weight is gen[0]

    b = batch()
    out = objective.run(b, torch.Generator().manual_seed(1))
    rtd_loss(out.disc_logits, out.labels, b.attention_mask).backward(retain_graph=True)
    assert all(g.grad is None for g in gen) and torch.count_nonzero(disc[0].grad) > 0
    objective.zero_grad(set_to_none=True)
    out.gen_loss.backward()
    assert all(d.grad is None for d in disc) and torch.count_nonzero(gen[0].grad) > 0

    optimizer = torch.optim.AdamW(objective.parameters(), lr=1e-2, weight_decay=0.0)
    delta = [torch.zeros_like(d) for d in disc]  # E_delta, followed by hand
    for step in range(3):
        objective.zero_grad(set_to_none=True)
        objective(batch(step), torch.Generator().manual_seed(step)).loss.backward()
        before = [d.detach().clone() for d in disc]
        objective.before_step()
        optimizer.step()
        delta = [acc + d.detach() - b for acc, d, b in zip(delta, disc, before)]  # the RTD update alone
        objective.after_step()
        for g, d, e in zip(gen, disc, delta):
            torch.testing.assert_close(d.detach(), g.detach() + e)
    assert torch.count_nonzero(delta[0]) > 0 and not torch.equal(gen[0], disc[0])


def test_unshared_tables_start_alike_and_stay_independent():
    torch.manual_seed(0)
    objective = ElectraObjective.build(CFG, ObjectiveConfig(embedding_sharing="none"), SPECIAL, 32)
    assert objective.disentangled is None
    gen, disc = tables(objective.generator), tables(objective.discriminator)
    assert all(g is not d and torch.equal(g, d) for g, d in zip(gen, disc))
    with torch.no_grad():
        gen[0].add_(1.0)
    objective.before_step()
    objective.after_step()
    assert not torch.equal(gen[0], disc[0])


def test_gdes_with_a_norm_cap_caps_both_tables_and_passes_the_generators_capped_change_on():
    torch.manual_seed(0)
    recipe = ObjectiveConfig(embedding_sharing="gdes", embedding_norm_cap=0.1)
    objective = ElectraObjective.build(CFG, recipe, SPECIAL, 32)
    gen, disc = tables(objective.generator)[0], tables(objective.discriminator)[0]
    with torch.no_grad():
        disc.add_(0.001)  # an E_delta from earlier steps
    objective.before_step()
    start = gen.detach().clone()
    with torch.no_grad():
        gen.mul_(50)  # the generator's step: rows far over the cap
    objective.after_step()
    assert gen.norm(dim=1).max() <= 0.1 + 1e-6 and disc.norm(dim=1).max() <= 0.1 + 1e-6
    # the generator's change as capped was passed on (passing the uncapped one and then capping
    # the sum would leave the discriminator's rows pointing elsewhere)
    expected = start + 0.001 + (gen - start)
    expected = expected * (0.1 / expected.norm(dim=1, keepdim=True)).clamp(max=1.0)
    torch.testing.assert_close(disc, expected)


def test_an_mlm_main_network_with_its_own_tables_keeps_its_output_projection_tied_to_them():
    from electra.objectives import ReplaceMlmObjective

    objective = ReplaceMlmObjective.build(CFG, ObjectiveConfig(embedding_sharing="gdes"), SPECIAL, 32)
    table = objective.mlm.electra.embeddings.word_embeddings.weight
    assert objective.mlm.generator_lm_head.weight is table
    assert table is not objective.generator.electra.embeddings.word_embeddings.weight
    assert objective.disentangled is not None and objective.disentangled.target is objective.mlm.electra.embeddings
