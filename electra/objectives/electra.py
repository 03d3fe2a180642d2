"""ELECTRA: replaced token detection over every token (the paper's objective)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from electra.config import ModelConfig, ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.flops import StepFlops, discriminator_head_forward, encoder_forward, generator_head_forward
from electra.masking import Rng
from electra.model.networks import Discriminator, Generator
from electra.objectives.base import Health, LossTerm, Objective, Selection, StepOutput
from electra.objectives.pieces import (
    build_recipe_pair,
    discriminator_health,
    discriminator_progress,
    generator_corruption,
    mlm_stats,
    rtd_loss,
    rtd_metrics,
    rtd_stats,
)
from electra.tokenizer import SpecialIds


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


class ElectraObjective(Objective):
    """Replaced token detection: generator MLM loss + ``disc_weight`` x discriminator BCE over every real token."""

    name = "electra"
    encoder = "discriminator"
    folders = ("discriminator", "generator")

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        cfg: ObjectiveConfig,
        special: SpecialIds,
        max_seq_len: int,
    ) -> None:
        super().__init__(cfg, special, max_seq_len)
        self.generator = generator
        self.discriminator = discriminator

    @classmethod
    def build(
        cls, model: ModelConfig, recipe: ObjectiveConfig, special: SpecialIds, max_seq_len: int
    ) -> ElectraObjective:
        pair = build_recipe_pair(model, recipe)
        objective = cls(pair.generator, pair.main, recipe, special, max_seq_len)
        objective.disentangled = pair.disentangled
        return objective

    def networks(self) -> dict[str, nn.Module]:
        return {"discriminator": self.discriminator, "generator": self.generator}

    def run(self, batch: PretrainBatch, rng: Rng) -> RtdForward:
        """Select, mask, predict, sample, write and detect."""
        c = generator_corruption(self, self.generator, batch, rng)
        disc_logits = self.discriminator(c.corrupted, batch.attention_mask, batch.token_type_ids)  # (B, T)
        gen = c.generator
        return RtdForward(
            c.selection,
            c.masked,
            gen.loss,
            gen.predictions,
            c.targets,
            gen.samples,
            c.corrupted,
            disc_logits,
            c.replaced,
        )

    def forward(self, batch: PretrainBatch, rng: Rng) -> StepOutput:
        return self.score(self.run(batch, rng), batch.attention_mask)

    def scored(self, out: RtdForward, attention_mask: torch.Tensor) -> torch.Tensor:
        """The tokens the discriminator's loss averages over: every real one."""
        return attention_mask

    def score(self, out: RtdForward, attention_mask: torch.Tensor) -> StepOutput:
        """Losses and statistics of one forward pass."""
        scored = self.scored(out, attention_mask)
        disc_loss = rtd_loss(out.disc_logits, out.labels, scored)
        loss = self.cfg.gen_weight * out.gen_loss + self.cfg.disc_weight * disc_loss
        stats = mlm_stats(out.gen_predictions, out.targets, out.selection, out.masked, out.gen_loss)
        stats.update(rtd_stats(out.disc_logits, out.labels, scored, disc_loss))
        terms = [
            LossTerm(self.cfg.gen_weight, out.gen_loss, stats["selected"]),
            LossTerm(self.cfg.disc_weight, disc_loss, stats["real_tokens"]),
        ]
        return StepOutput(loss, stats, terms)

    @classmethod
    def step_flops(
        cls, model: ModelConfig, recipe: ObjectiveConfig, seq_len: int, vocab_everywhere: bool = False
    ) -> StepFlops:
        generator = recipe.generator_model(model)
        position = (
            encoder_forward(model, seq_len) + discriminator_head_forward(model) + encoder_forward(generator, seq_len)
        )
        return StepFlops.training(position, generator_head_forward(generator), vocab_everywhere)

    @staticmethod
    def metrics(stats: dict[str, float]) -> dict[str, float | None]:
        return rtd_metrics(stats)

    @staticmethod
    def health(row: dict) -> Health | None:
        return discriminator_health(row)

    @staticmethod
    def progress_fields(row: dict) -> dict[str, str]:
        return discriminator_progress(row)
