"""Masking statistics and invariants over many seeded draws."""

import torch

from electra.masking import (
    bert_corruption,
    mask_for_generator,
    prediction_slots,
    select_positions,
    selection_counts,
    slots_per_row,
    write_samples,
)
from electra.sampling import sample_tokens

PAD, CLS, SEP, MASK = 0, 2, 3, 4
SPECIAL = torch.tensor([CLS, SEP, MASK, PAD])
VOCAB = 500


def random_batch(gen: torch.Generator, batch: int = 64, length: int = 128):
    """Sequences of random real length: [CLS] A [SEP] B [SEP] [PAD]..."""
    ids = torch.randint(10, VOCAB, (batch, length), generator=gen)
    lengths = torch.randint(5, length + 1, (batch,), generator=gen)
    attn = (torch.arange(length)[None] < lengths[:, None]).long()
    ids[:, 0] = CLS
    ids[torch.arange(batch), lengths - 1] = SEP
    ids[torch.arange(batch), lengths // 2] = SEP
    ids[attn == 0] = PAD
    return ids, attn


def test_selection_counts_follow_reference_formula():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        ids, attn = random_batch(gen)
        selected = select_positions(ids, attn, SPECIAL, 0.15, 19, gen)
        n_real = attn.sum(1)
        n_candidates = (attn.bool() & ~torch.isin(ids, SPECIAL)).sum(1)
        for row in range(ids.shape[0]):
            expected = max(1, min(19, round(float(n_real[row]) * 0.15)))
            assert int(selected[row].sum()) == min(expected, int(n_candidates[row]))


def test_max_predictions_formula_matches_reference():
    from electra.config import ObjectiveConfig

    assert ObjectiveConfig(mask_prob=0.15).max_predictions(128) == 19
    assert ObjectiveConfig(mask_prob=0.15).max_predictions(512) == 79
    assert ObjectiveConfig(mask_prob=0.25).max_predictions(512) == 130


def test_never_selects_special_or_padding_positions():
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        ids, attn = random_batch(gen)
        selected = select_positions(ids, attn, SPECIAL, 0.3, 60, gen)
        assert not (selected & (attn == 0)).any()
        assert not (selected & torch.isin(ids, SPECIAL)).any()


def test_selection_is_spread_over_positions():
    gen = torch.Generator().manual_seed(2)
    ids = torch.randint(10, VOCAB, (4000, 32), generator=gen)
    attn = torch.ones_like(ids)
    hits = select_positions(ids, attn, SPECIAL, 0.15, 100, gen).float().mean(0)
    assert hits.min() > 0.12 and hits.max() < 0.18  # uniform over positions: 5/32 each


def test_eighty_five_fifteen_split_and_no_random_tokens():
    gen = torch.Generator().manual_seed(3)
    masked_total = selected_total = 0
    for _ in range(30):
        ids, attn = random_batch(gen)
        selected = select_positions(ids, attn, SPECIAL, 0.15, 19, gen)
        gen_input, masked = mask_for_generator(ids, selected, MASK, 0.85, gen)
        assert not (masked & ~selected).any()
        assert (gen_input[masked] == MASK).all()
        assert torch.equal(gen_input[~masked], ids[~masked])  # kept: original token, never random
        masked_total += int(masked.sum())
        selected_total += int(selected.sum())
    assert abs(masked_total / selected_total - 0.85) < 0.015


def test_bert_corruption_is_eighty_ten_ten():
    gen = torch.Generator().manual_seed(4)
    ids = torch.randint(10, VOCAB, (2000, 64), generator=gen)
    selected = select_positions(ids, torch.ones_like(ids), SPECIAL, 0.15, 100, gen)
    corrupted, masked = bert_corruption(ids, selected, MASK, VOCAB, gen)
    n = int(selected.sum())
    changed = selected & ~masked & (corrupted != ids)
    kept = selected & (corrupted == ids)
    assert abs(int(masked.sum()) / n - 0.8) < 0.02
    assert abs(int(changed.sum()) / n - 0.1) < 0.02  # a random draw equal to the original counts as kept
    assert abs(int(kept.sum()) / n - 0.1) < 0.02
    assert torch.equal(corrupted[~selected], ids[~selected])


def test_labels_mark_exactly_the_changed_positions():
    ids = torch.tensor([[CLS, 11, 12, 13, 14, SEP], [CLS, 21, 22, 23, 24, SEP]])
    selected = torch.tensor([[False, True, False, True, True, False], [False, False, True, False, False, False]])
    index, valid = prediction_slots(selected, 3)
    assert index[0].tolist() == [1, 3, 4] and valid[0].all()
    assert index[1, 0] == 2 and valid[1].tolist() == [True, False, False]
    samples = torch.tensor([[99, 13, 77], [55, 66, 66]])  # 13 equals the original; row 2 has filler slots
    disc_input, labels = write_samples(ids, index, valid, samples)
    assert disc_input.tolist() == [[CLS, 99, 12, 13, 77, SEP], [CLS, 21, 55, 23, 24, SEP]]
    assert labels.tolist() == [[0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0]]


def test_slots_hold_every_selected_position_in_order():
    ids, attn = random_batch(torch.Generator().manual_seed(11))
    values = torch.randn(ids.shape)
    for seed in range(5):
        selected = select_positions(ids, attn, SPECIAL, 0.15, 19, torch.Generator().manual_seed(seed))
        width = slots_per_row(ids.shape[1], 0.15, 19)
        index, valid = prediction_slots(selected, width)
        assert index.shape == (ids.shape[0], width)
        assert torch.equal(values.gather(1, index)[valid], values[selected])
        assert (index.sort(dim=1).values.diff(dim=1) > 0).all()  # distinct positions per row


def test_sampling_follows_softmax_and_respects_disallow():
    gen = torch.Generator().manual_seed(5)
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]])).repeat(20000, 1).requires_grad_()
    draws = sample_tokens(logits, gen)
    freq = torch.bincount(draws, minlength=3).float() / draws.numel()
    assert torch.allclose(freq, torch.tensor([0.7, 0.2, 0.1]), atol=0.015)
    assert not draws.requires_grad
    forbidden = torch.zeros(20000, dtype=torch.long)
    assert (sample_tokens(logits, gen, forbidden=forbidden) != 0).all()


def test_masking_is_reproducible_from_the_generator_alone():
    ids, attn = random_batch(torch.Generator().manual_seed(6))
    first = select_positions(ids, attn, SPECIAL, 0.15, 19, torch.Generator().manual_seed(7))
    second = select_positions(ids, attn, SPECIAL, 0.15, 19, torch.Generator().manual_seed(7))
    third = select_positions(ids, attn, SPECIAL, 0.15, 19, torch.Generator().manual_seed(8))
    assert torch.equal(first, second) and not torch.equal(first, third)


def test_counts_never_exceed_candidates():
    attn = torch.ones(1, 6, dtype=torch.long)
    candidates = torch.tensor([[False, True, False, False, False, False]])
    assert selection_counts(attn, candidates, 0.9, 10).tolist() == [1]
