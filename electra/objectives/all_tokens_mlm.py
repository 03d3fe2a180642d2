"""All-Tokens MLM: the paper's ablation that predicts the original token at every position, with a copy mechanism."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from electra.config import ModelConfig, ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.flops import StepFlops, discriminator_head_forward, encoder_forward, generator_head_forward
from electra.masking import Rng
from electra.model.networks import CopyingMlm
from electra.objectives.base import LossTerm, StepOutput
from electra.objectives.pieces import generator_corruption, mlm_metrics, mlm_stats, ratio
from electra.objectives.replace_mlm import ReplaceMlmObjective


def copy_mixture_nll(
    copy_logits: torch.Tensor, vocab_logits: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Per-token -log p(target), p = D·[target = input] + (1 − D)·softmax(vocab_logits)[target],
    D = sigmoid(copy_logits); (B, T), in fp32."""
    log_q = -F.cross_entropy(vocab_logits.float().transpose(1, 2), targets, reduction="none")  # (B, T)
    log_copy, log_generate = F.logsigmoid(copy_logits.float()), F.logsigmoid(-copy_logits.float())
    generate = log_generate + log_q
    return -torch.where(inputs == targets, torch.logaddexp(log_copy, generate), generate)


class AllTokensMlmObjective(ReplaceMlmObjective):
    """Generator samples fill the selected positions as in ELECTRA; the model (a full-size masked
    LM with a copy head) predicts the original token at *every* real position. Its output puts
    weight D (a sigmoid of the copy head) on the input token and 1 − D on its vocabulary softmax.
    Loss: ``gen_weight`` x generator MLM loss + the model's mean -log p over real tokens. The
    paper's Table 5 "All-Tokens MLM".

    The vocabulary projection runs at every position: a (B, T, V) logits tensor, fine for the
    small presets, large for ``base``/``large`` at long sequences."""

    name = "all-tokens-mlm"
    model_class = CopyingMlm
    mlm: CopyingMlm

    def forward(self, batch: PretrainBatch, rng: Rng) -> StepOutput:
        ids, attn = batch.input_ids, batch.attention_mask
        c = generator_corruption(self, self.generator, batch, rng)
        gen = c.generator
        copy_logits, vocab_logits = self.mlm.copy_and_vocab(c.corrupted, attn, batch.token_type_ids)
        real = attn.bool()
        nll = copy_mixture_nll(copy_logits, vocab_logits, c.corrupted, ids)
        main_loss = (nll * real).sum() / real.sum()
        stats = mlm_stats(gen.predictions, c.targets, c.selection, c.masked, gen.loss)
        changed = c.replaced.bool() & real
        fixed = (vocab_logits.detach().argmax(-1) == ids) & changed
        stats.update(
            main_loss_sum=main_loss.detach() * real.sum(),
            real_tokens=real.sum().float(),
            replaced=changed.sum().float(),
            replaced_fixed=fixed.sum().float(),
        )
        loss = self.cfg.gen_weight * gen.loss + main_loss
        terms = [
            LossTerm(self.cfg.gen_weight, gen.loss, stats["selected"]),
            LossTerm(1.0, main_loss, stats["real_tokens"]),
        ]
        return StepOutput(loss, stats, terms)

    @classmethod
    def step_flops(
        cls, model: ModelConfig, recipe: ObjectiveConfig, seq_len: int, vocab_everywhere: bool = False
    ) -> StepFlops:
        generator = recipe.generator_model(model)
        # the model's vocabulary head and copy head run at every position; only the generator's is per slot
        position = (
            encoder_forward(model, seq_len)
            + generator_head_forward(model)
            + discriminator_head_forward(model)
            + encoder_forward(generator, seq_len)
        )
        return StepFlops.training(position, generator_head_forward(generator), vocab_everywhere)

    @staticmethod
    def metrics(stats: dict[str, float]) -> dict[str, float | None]:
        """The generator's ``mlm_loss``/``gen_acc``; the model's ``main_loss`` (mean over real
        tokens) and ``main_acc`` (its vocabulary argmax at the replaced tokens: how often it restores
        the original)."""
        row = mlm_metrics(stats)
        row.update(
            main_loss=ratio(stats, "main_loss_sum", "real_tokens"), main_acc=ratio(stats, "replaced_fixed", "replaced")
        )
        return row
