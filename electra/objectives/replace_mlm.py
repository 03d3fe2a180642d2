"""Replace MLM: the paper's ablation where masked positions hold generator samples instead of [MASK]."""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from electra.config import ModelConfig, ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.flops import StepFlops, encoder_forward, generator_head_forward
from electra.masking import Rng
from electra.model.networks import Generator
from electra.objectives.base import LossTerm, Objective, StepOutput
from electra.objectives.pieces import (
    build_recipe_pair,
    generator_corruption,
    generator_outputs,
    mlm_metrics,
    mlm_stats,
    ratio,
)
from electra.tokenizer import SpecialIds


class ReplaceMlmObjective(Objective):
    """A generator fills the selected positions as in ELECTRA; the model (a full-size masked LM
    sharing the generator's embeddings) then predicts the original token at those positions.
    Loss: ``gen_weight`` x generator MLM loss + the model's MLM loss. The paper's Table 5
    "Replace MLM": it removes the [MASK] token's pretrain/fine-tune mismatch but keeps learning
    from 15% of positions."""

    name = "replace-mlm"
    encoder = "mlm"
    folders = ("mlm", "generator")
    model_class: ClassVar[type[Generator]] = Generator
    """The kept network: a masked LM of the full size."""

    def __init__(
        self, generator: Generator, model: Generator, cfg: ObjectiveConfig, special: SpecialIds, max_seq_len: int
    ) -> None:
        super().__init__(cfg, special, max_seq_len)
        self.generator = generator
        self.mlm = model

    @classmethod
    def build(
        cls, model: ModelConfig, recipe: ObjectiveConfig, special: SpecialIds, max_seq_len: int
    ) -> ReplaceMlmObjective:
        pair = build_recipe_pair(model, recipe, main=cls.model_class)
        objective = cls(pair.generator, pair.main, recipe, special, max_seq_len)
        objective.disentangled = pair.disentangled
        return objective

    def networks(self) -> dict[str, nn.Module]:
        return {"mlm": self.mlm, "generator": self.generator}

    def forward(self, batch: PretrainBatch, rng: Rng) -> StepOutput:
        c = generator_corruption(self, self.generator, batch, rng)
        selection, targets, gen = c.selection, c.targets, c.generator
        main = generator_outputs(self.mlm, c.corrupted, batch, selection, targets, None, self.cfg)
        stats = mlm_stats(gen.predictions, targets, selection, c.masked, gen.loss)
        correct = (main.predictions == targets) & selection.valid
        stats.update(
            main_loss_sum=main.loss.detach() * stats["selected"],
            main_correct=correct.sum().float(),
            real_tokens=batch.attention_mask.sum().float(),
        )
        loss = self.cfg.gen_weight * gen.loss + main.loss
        terms = [
            LossTerm(self.cfg.gen_weight, gen.loss, stats["selected"]),
            LossTerm(1.0, main.loss, stats["selected"]),
        ]
        return StepOutput(loss, stats, terms)

    @classmethod
    def step_flops(
        cls, model: ModelConfig, recipe: ObjectiveConfig, seq_len: int, vocab_everywhere: bool = False
    ) -> StepFlops:
        generator = recipe.generator_model(model)
        position = encoder_forward(model, seq_len) + encoder_forward(generator, seq_len)
        head = generator_head_forward(generator) + generator_head_forward(model)
        return StepFlops.training(position, head, vocab_everywhere)

    @staticmethod
    def metrics(stats: dict[str, float]) -> dict[str, float | None]:
        """The generator's ``mlm_loss``/``gen_acc``; the model's ``main_loss`` and ``main_acc``
        (accuracy at every selected position, whatever the generator wrote there)."""
        row = mlm_metrics(stats)
        row.update(
            main_loss=ratio(stats, "main_loss_sum", "selected"), main_acc=ratio(stats, "main_correct", "selected")
        )
        return row

    @staticmethod
    def progress_fields(row: dict) -> dict[str, str]:
        return {"main_acc": f"{row['main_acc']:.3f}"}
