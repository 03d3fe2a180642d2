"""The BERT baseline: masked language modelling with 80/10/10 corruption."""

from __future__ import annotations

from torch import nn

from electra.config import ModelConfig, ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.flops import StepFlops, encoder_forward, generator_head_forward
from electra.masking import Rng, bert_corruption
from electra.model.networks import Generator, build_mlm
from electra.objectives.base import LossTerm, Objective, StepOutput
from electra.objectives.pieces import generator_outputs, mlm_metrics, mlm_stats
from electra.tokenizer import SpecialIds


class MlmObjective(Objective):
    """80/10/10 corruption of the selected positions ([MASK] / random token / kept), loss on those only."""

    name = "mlm"
    encoder = "mlm"
    folders = ("mlm",)

    def __init__(self, model: Generator, cfg: ObjectiveConfig, special: SpecialIds, max_seq_len: int) -> None:
        super().__init__(cfg, special, max_seq_len)
        self.mlm = model

    @classmethod
    def build(cls, model: ModelConfig, recipe: ObjectiveConfig, special: SpecialIds, max_seq_len: int) -> MlmObjective:
        return cls(build_mlm(model), recipe, special, max_seq_len)

    def networks(self) -> dict[str, nn.Module]:
        return {"mlm": self.mlm}

    def forward(self, batch: PretrainBatch, rng: Rng) -> StepOutput:
        ids, attn = batch.input_ids, batch.attention_mask
        selection = self.select(batch, rng)
        corrupted, masked = bert_corruption(ids, selection.mask, self.special.mask, self.mlm.config.vocab_size, rng)
        targets = ids.gather(1, selection.index)  # (B, P)
        out = generator_outputs(self.mlm, corrupted, batch, selection, targets, None, self.cfg)
        stats = mlm_stats(out.predictions, targets, selection, masked, out.loss)
        stats["real_tokens"] = attn.sum().float()
        return StepOutput(
            self.cfg.gen_weight * out.loss, stats, [LossTerm(self.cfg.gen_weight, out.loss, stats["selected"])]
        )

    @classmethod
    def step_flops(
        cls, model: ModelConfig, recipe: ObjectiveConfig, seq_len: int, vocab_everywhere: bool = False
    ) -> StepFlops:
        return StepFlops.training(encoder_forward(model, seq_len), generator_head_forward(model), vocab_everywhere)

    @staticmethod
    def metrics(stats: dict[str, float]) -> dict[str, float | None]:
        return mlm_metrics(stats)
