"""Pure, seeded, model-free corruption: choose positions, corrupt them, write samples, label.

Every function takes an explicit ``torch.Generator`` (on the tensors' device) and touches no
global RNG, which is what makes masking reproducible and resumable. The selection rule is the
reference one (docs/recipe.md, "Objective", step 1); positions are drawn without replacement, the clean form of
the reference's draw with replacement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch


@dataclass
class RowRng:
    """This process's rows of the draws for a whole global batch.

    Every draw is made for ``total_rows`` rows of ``full_width`` columns and this process keeps
    rows ``[first_row, first_row + rows)`` and the columns its (trimmed) batch has. So masking
    and sampling of an example do not depend on how many processes share the batch or on how
    wide its local batch was trimmed: N processes with batch B/N draw exactly what one process
    with batch B draws. All processes consume the generator alike, so its state stays shared.
    """

    generator: torch.Generator
    first_row: int
    total_rows: int
    full_width: int

    def rand(self, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
        full = torch.rand((self.total_rows, max(self.full_width, shape[1])), generator=self.generator, device=device)
        return full[self.first_row : self.first_row + shape[0], : shape[1]]

    def randint(self, high: int, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
        full = torch.randint(
            high, (self.total_rows, max(self.full_width, shape[1])), generator=self.generator, device=device
        )
        return full[self.first_row : self.first_row + shape[0], : shape[1]]


Rng = Union[torch.Generator, RowRng]
"""Where masking randomness comes from: a plain generator (the batch is everything) or ``RowRng``."""


def uniform(rng: Rng, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    """Uniform [0, 1) numbers of ``shape`` (rows, columns)."""
    if isinstance(rng, RowRng):
        return rng.rand(shape, device)
    return torch.rand(shape, generator=rng, device=device)


def integers(rng: Rng, high: int, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    """Integers in [0, high) of ``shape`` (rows, columns)."""
    if isinstance(rng, RowRng):
        return rng.randint(high, shape, device)
    return torch.randint(high, shape, generator=rng, device=device)


def selection_counts(
    attention_mask: torch.Tensor, candidates: torch.Tensor, mask_prob: float, max_predictions: int
) -> torch.Tensor:
    """Per-sequence number of positions to select, (B,).

    ``max(1, min(max_predictions, round(n_real * mask_prob)))`` with ``n_real`` counting every
    non-padding token ([CLS] and [SEP] included), and never more than the candidates available.
    """
    n_real = attention_mask.sum(dim=1)
    wanted = torch.round(n_real.double() * mask_prob).long().clamp(min=1, max=max_predictions)
    return torch.minimum(wanted, candidates.sum(dim=1))


def select_positions(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    special_ids: torch.Tensor,
    mask_prob: float,
    max_predictions: int,
    generator: Rng,
) -> torch.Tensor:
    """Boolean (B, T) selection: distinct real, non-special positions, ``selection_counts`` per row.

    ``special_ids`` holds the ids never selected ([CLS], [SEP], [MASK], [PAD]).
    """
    candidates = attention_mask.bool() & ~torch.isin(input_ids, special_ids)
    counts = selection_counts(attention_mask, candidates, mask_prob, max_predictions)  # (B,)
    scores = uniform(generator, input_ids.shape, input_ids.device)
    scores = scores.masked_fill(~candidates, -1.0)  # candidates always rank first
    order = scores.argsort(dim=1, descending=True)  # (B, T)
    rank_taken = torch.arange(input_ids.shape[1], device=input_ids.device)[None] < counts[:, None]
    return torch.zeros_like(candidates).scatter(1, order, rank_taken)


def slots_per_row(width: int, mask_prob: float, max_predictions: int) -> int:
    """The most positions ``selection_counts`` can give a row of ``width`` tokens (at least 1)."""
    return max(1, min(max_predictions, round(width * mask_prob), width))


def prediction_slots(selected: torch.Tensor, slots: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed-shape view of a selection: ``index`` (B, slots) and ``valid`` (B, slots).

    Row b lists its selected positions in increasing order, then unselected ones as filler
    (``valid`` False). Every row's positions are distinct, so writing through ``index`` never
    collides. The shape depends only on the batch width, not on the data: the step needs no
    host-device synchronisation and ``torch.compile`` sees static shapes; and
    ``x.gather(1, index)[valid]`` equals ``x[selected]``.
    """
    T = selected.shape[1]
    key = torch.arange(T, device=selected.device) + T * (~selected).long()  # selected first, in order
    index = key.argsort(dim=1)[:, :slots]
    return index, selected.gather(1, index)


def mask_for_generator(
    input_ids: torch.Tensor, selected: torch.Tensor, mask_id: int, mask_token_prob: float, generator: Rng
) -> tuple[torch.Tensor, torch.Tensor]:
    """ELECTRA corruption: each selected position becomes [MASK] with ``mask_token_prob``
    (0.85), otherwise keeps its token. No random-token replacement.

    Returns the generator's input and the boolean (B, T) map of [MASK]ed positions.
    """
    coin = uniform(generator, input_ids.shape, input_ids.device)
    masked = selected & (coin < mask_token_prob)
    return input_ids.masked_fill(masked, mask_id), masked


def bert_corruption(
    input_ids: torch.Tensor,
    selected: torch.Tensor,
    mask_id: int,
    vocab_size: int,
    generator: Rng,
    mask_share: float = 0.8,
    random_share: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's 80/10/10: selected positions become [MASK] (80%), a uniformly random token (10%)
    or stay (10%). Returns the corrupted input and the boolean map of [MASK]ed positions.
    """
    coin = uniform(generator, input_ids.shape, input_ids.device)
    masked = selected & (coin < mask_share)
    randomised = selected & (coin >= mask_share) & (coin < mask_share + random_share)
    random_ids = integers(generator, vocab_size, input_ids.shape, input_ids.device)
    corrupted = input_ids.masked_fill(masked, mask_id)
    return torch.where(randomised, random_ids, corrupted), masked


def write_samples(
    input_ids: torch.Tensor, index: torch.Tensor, valid: torch.Tensor, samples: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Write ``samples`` (B, slots) into the selected positions (``prediction_slots``).

    Returns the discriminator's input and its labels (B, T): 1 where the written token differs
    from the original, 0 elsewhere (a sample equal to the original is "original"). Filler slots
    write the original token back.
    """
    written = torch.where(valid, samples, input_ids.gather(1, index))
    disc_input = input_ids.scatter(1, index, written)
    return disc_input, (disc_input != input_ids).long()
