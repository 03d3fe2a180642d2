"""Pretraining objectives: replaced token detection (ELECTRA) and masked LM (the BERT baseline).

Both are small compositions of the same pieces (``masking`` for corruption, ``generator_outputs`` and
``rtd_loss`` below); neither branches on the other. Each returns a ``StepOutput``: the loss to
back-propagate and a dict of *sums and counts* (never ratios), so that statistics add up
correctly over micro-batches, logging windows and processes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from electra.config import ModelConfig, ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.masking import (Rng, bert_corruption, mask_for_generator, prediction_slots, select_positions,
                             slots_per_row, uniform, write_samples)
from electra.model.networks import Discriminator, Generator, build_pair
from electra.model.networks import build_mlm as build_mlm_network
from electra.model.vocab import VocabOutput, project_loss_sample
from electra.tokenizer import SpecialIds


class LossTerm(NamedTuple):
    """One weighted mean in the total loss, with the count it averages over."""

    weight: float
    mean: torch.Tensor
    count: torch.Tensor


@dataclass
class StepOutput:
    """What one forward pass of an objective yields."""

    loss: torch.Tensor
    """Scalar to back-propagate: the sum of ``weight x mean`` over ``terms``."""
    stats: dict[str, torch.Tensor]
    """Detached sums and counts; ``summarize`` turns them into the logged metrics."""
    terms: list[LossTerm]
    """The loss's parts; several processes renormalise them by the global counts."""


class Selection(NamedTuple):
    """The positions chosen for prediction, as a map and as fixed-shape slots (``prediction_slots``)."""

    mask: torch.Tensor  # (B, T) bool
    index: torch.Tensor  # (B, P) positions, the selected ones first
    valid: torch.Tensor  # (B, P) bool: the slot holds a selected position


@dataclass
class RtdForward:
    """Everything one ELECTRA forward pass computes, for losses, validation and the demo.

    Per-slot tensors are (B, P): P slots per row, ``valid`` marking those that hold a selected
    position (the others are filler, computed but never counted).
    """

    selection: Selection
    masked: torch.Tensor  # (B, T) bool: the selected positions shown to the generator as [MASK]
    gen_loss: torch.Tensor  # scalar: the generator's MLM loss over the valid slots
    gen_predictions: torch.Tensor  # (B, P) the generator's argmax at the slots
    targets: torch.Tensor  # (B, P) original ids at the slots
    samples: torch.Tensor  # (B, P) sampled replacements (written only where valid)
    disc_input: torch.Tensor  # (B, T) original ids with the samples written in
    disc_logits: torch.Tensor  # (B, T)
    labels: torch.Tensor  # (B, T) 1 = replaced

    @property
    def selected(self) -> torch.Tensor:
        return self.selection.mask


def generator_outputs(generator: Generator, inputs: torch.Tensor, batch: PretrainBatch, selection: Selection,
                      targets: torch.Tensor, rng: Rng | None, cfg: ObjectiveConfig) -> VocabOutput:
    """MLM loss, argmax and (with ``rng``) samples at the slots, via the fused vocabulary pass.

    Outputs are (B, P)-shaped; samples are drawn with one uniform per slot from ``rng``.
    """
    hidden = generator.transform(inputs, batch.attention_mask, batch.token_type_ids, selection.index)  # (B, P, E)
    uniforms = None if rng is None else uniform(rng, targets.shape, targets.device).flatten()
    out = project_loss_sample(hidden.flatten(0, 1), generator.generator_lm_head, targets.flatten(),
                              selection.valid.flatten(), uniforms, cfg.temperature, cfg.disallow_correct)
    samples = None if out.samples is None else out.samples.view(targets.shape)
    return VocabOutput(out.loss, out.predictions.view(targets.shape), samples)


def rtd_loss(logits: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Sigmoid BCE averaged over every real token ([CLS] and [SEP] included), in fp32."""
    per_token = F.binary_cross_entropy_with_logits(logits.float(), labels.float(), reduction="none")
    weights = attention_mask.float()
    return (per_token * weights).sum() / weights.sum()


def binary_entropy(p: float) -> float:
    """Loss of a detector that always predicts the base rate ``p``: its always-"original" baseline."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def _mlm_stats(predictions: torch.Tensor, targets: torch.Tensor, selection: Selection, masked: torch.Tensor,
               loss: torch.Tensor) -> dict[str, torch.Tensor]:
    """Generator statistics; accuracy counts only [MASK]ed slots (kept tokens are trivially copied)."""
    masked_slots = masked.gather(1, selection.index) & selection.valid
    correct = (predictions == targets) & masked_slots
    n = selection.valid.sum().float()
    return {
        "mlm_loss_sum": loss.detach() * n,
        "selected": n,
        "gen_correct": correct.sum().float(),
        "masked": masked_slots.sum().float(),
    }


class PositionSelector(nn.Module):
    """What both objectives share: the reference rule for choosing positions to predict."""

    def __init__(self, cfg: ObjectiveConfig, special: SpecialIds, max_seq_len: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.special = special
        self.max_predictions = cfg.max_predictions(max_seq_len)
        self.register_buffer("never_select", torch.tensor([special.cls, special.sep, special.mask, special.pad]),
                             persistent=False)

    def select(self, batch: PretrainBatch, rng: Rng) -> Selection:
        """The positions to predict, as a (B, T) map and as (B, P) slots."""
        mask = select_positions(batch.input_ids, batch.attention_mask, self.never_select, self.cfg.mask_prob,
                                self.max_predictions, rng)
        slots = slots_per_row(mask.shape[1], self.cfg.mask_prob, self.max_predictions)
        return Selection(mask, *prediction_slots(mask, slots))


class ElectraObjective(PositionSelector):
    """Replaced token detection: generator MLM loss + ``disc_weight`` x discriminator BCE."""

    def __init__(self, generator: Generator, discriminator: Discriminator, cfg: ObjectiveConfig,
                 special: SpecialIds, max_seq_len: int) -> None:
        super().__init__(cfg, special, max_seq_len)
        self.generator = generator
        self.discriminator = discriminator

    def networks(self) -> dict[str, nn.Module]:
        """The parts written as standalone model folders."""
        return {"discriminator": self.discriminator, "generator": self.generator}

    def run(self, batch: PretrainBatch, rng: Rng) -> RtdForward:
        """Select, mask, predict, sample, write and detect."""
        ids, attn, types = batch.input_ids, batch.attention_mask, batch.token_type_ids
        selection = self.select(batch, rng)
        gen_input, masked = mask_for_generator(ids, selection.mask, self.special.mask, self.cfg.mask_token_prob, rng)
        targets = ids.gather(1, selection.index)  # (B, P)
        gen = generator_outputs(self.generator, gen_input, batch, selection, targets, rng, self.cfg)
        disc_input, labels = write_samples(ids, selection.index, selection.valid, gen.samples)
        disc_logits = self.discriminator(disc_input, attn, types)  # (B, T)
        return RtdForward(selection, masked, gen.loss, gen.predictions, targets, gen.samples, disc_input,
                          disc_logits, labels)

    def forward(self, batch: PretrainBatch, rng: Rng) -> StepOutput:
        return self.score(self.run(batch, rng), batch.attention_mask)

    def score(self, out: RtdForward, attention_mask: torch.Tensor) -> StepOutput:
        """Losses and statistics of one forward pass."""
        scored = out.selection.mask.long() if self.cfg.disc_selected_only else attention_mask
        disc_loss = rtd_loss(out.disc_logits, out.labels, scored)
        loss = self.cfg.gen_weight * out.gen_loss + self.cfg.disc_weight * disc_loss
        stats = _mlm_stats(out.gen_predictions, out.targets, out.selection, out.masked, out.gen_loss)
        stats.update(rtd_stats(out.disc_logits, out.labels, scored, disc_loss))
        terms = [LossTerm(self.cfg.gen_weight, out.gen_loss, stats["selected"]),
                 LossTerm(self.cfg.disc_weight, disc_loss, stats["real_tokens"])]
        return StepOutput(loss, stats, terms)


def rtd_stats(logits: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor,
              loss: torch.Tensor) -> dict[str, torch.Tensor]:
    """Discriminator sums over real tokens: loss, correct, replaced, true and predicted positives."""
    real = attention_mask.bool()
    predicted = (logits.detach() > 0) & real
    replaced = labels.bool() & real
    n_real = real.sum().float()
    return {
        "disc_loss_sum": loss.detach() * n_real,
        "real_tokens": n_real,
        "disc_correct": ((predicted == replaced) & real).sum().float(),
        "replaced": replaced.sum().float(),
        "predicted_replaced": predicted.sum().float(),
        "true_positives": (predicted & replaced).sum().float(),
    }


class MlmObjective(PositionSelector):
    """The BERT baseline: 80/10/10 corruption of the selected positions, loss on those only."""

    def __init__(self, model: Generator, cfg: ObjectiveConfig, special: SpecialIds, max_seq_len: int) -> None:
        super().__init__(cfg, special, max_seq_len)
        self.mlm = model

    def networks(self) -> dict[str, nn.Module]:
        return {"mlm": self.mlm}

    def forward(self, batch: PretrainBatch, rng: Rng) -> StepOutput:
        ids, attn = batch.input_ids, batch.attention_mask
        selection = self.select(batch, rng)
        corrupted, masked = bert_corruption(ids, selection.mask, self.special.mask, self.mlm.config.vocab_size, rng)
        targets = ids.gather(1, selection.index)  # (B, P)
        out = generator_outputs(self.mlm, corrupted, batch, selection, targets, None, self.cfg)
        loss = out.loss
        stats = _mlm_stats(out.predictions, targets, selection, masked, loss)
        stats["real_tokens"] = attn.sum().float()
        return StepOutput(self.cfg.gen_weight * loss, stats, [LossTerm(self.cfg.gen_weight, loss, stats["selected"])])


def build_electra(model_cfg: ModelConfig, cfg: ObjectiveConfig, special: SpecialIds, max_seq_len: int) -> ElectraObjective:
    generator, discriminator = build_pair(model_cfg, cfg.generator_fraction, cfg.generator_layers)
    return ElectraObjective(generator, discriminator, cfg, special, max_seq_len)


def build_mlm(model_cfg: ModelConfig, cfg: ObjectiveConfig, special: SpecialIds, max_seq_len: int) -> MlmObjective:
    return MlmObjective(build_mlm_network(model_cfg), cfg, special, max_seq_len)


OBJECTIVES = {"electra": build_electra, "mlm": build_mlm}


def summarize(stats: dict[str, float]) -> dict[str, float | None]:
    """Turn summed statistics into the logged metrics (ratios, baseline entropy)."""

    def ratio(num: str, den: str) -> float:
        return stats[num] / stats[den] if stats.get(den) else 0.0

    row = {
        "mlm_loss": ratio("mlm_loss_sum", "selected"),
        "gen_acc": ratio("gen_correct", "masked"),
    }
    if "disc_loss_sum" in stats:
        share = ratio("replaced", "real_tokens")
        row.update(
            disc_loss=ratio("disc_loss_sum", "real_tokens"),
            disc_baseline_loss=binary_entropy(share),
            disc_acc=ratio("disc_correct", "real_tokens"),
            disc_recall=ratio("true_positives", "replaced"),
            disc_precision=ratio("true_positives", "predicted_replaced"),
            replaced_share=share,
        )
        baseline = row["disc_baseline_loss"]
        row["disc_loss_ratio"] = row["disc_loss"] / baseline if baseline > 0 else None  # None: nothing replaced
    return row
