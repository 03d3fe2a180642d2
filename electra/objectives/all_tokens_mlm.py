"""All-Tokens MLM: the paper's ablation that predicts the original token at every position, with a copy mechanism."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from electra.config import ModelConfig, ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.flops import StepFlops, discriminator_head_forward, encoder_forward, generator_head_forward
from electra.masking import Rng, mask_for_generator, write_samples
from electra.model.networks import CopyingMlm, Generator, build_pair
from electra.objectives.base import LossTerm, Objective, StepOutput
from electra.objectives.pieces import generator_outputs, mlm_metrics, mlm_stats, ratio
from electra.tokenizer import SpecialIds


def copy_mixture_nll(
    copy_logits: torch.Tensor, vocab_logits: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Per-token -log p(target), p = D·[target = input] + (1 − D)·softmax(vocab_logits)[target],
    D = sigmoid(copy_logits); (B, T), in fp32."""
    log_q = -F.cross_entropy(vocab_logits.float().transpose(1, 2), targets, reduction="none")  # (B, T)
    log_copy, log_generate = F.logsigmoid(copy_logits.float()), F.logsigmoid(-copy_logits.float())
    generate = log_generate + log_q
    return -torch.where(inputs == targets, torch.logaddexp(log_copy, generate), generate)


class AllTokensMlmObjective(Objective):
    """Generator samples fill the selected positions as in ELECTRA; the model (a full-size masked
    LM with a copy head) predicts the original token at *every* real position. Its output puts
    weight D (a sigmoid of the copy head) on the input token and 1 − D on its vocabulary softmax.
    Loss: ``gen_weight`` x generator MLM loss + the model's mean -log p over real tokens. The
    paper's Table 5 "All-Tokens MLM".

    The vocabulary projection runs at every position: a (B, T, V) logits tensor, fine for the
    small presets, large for ``base``/``large`` at long sequences."""

    name = "all-tokens-mlm"
    encoder = "mlm"
    folders = ("mlm", "generator")

    def __init__(
        self, generator: Generator, model: CopyingMlm, cfg: ObjectiveConfig, special: SpecialIds, max_seq_len: int
    ) -> None:
        super().__init__(cfg, special, max_seq_len)
        self.generator = generator
        self.mlm = model

    @classmethod
    def build(
        cls, model: ModelConfig, recipe: ObjectiveConfig, special: SpecialIds, max_seq_len: int
    ) -> AllTokensMlmObjective:
        generator, main = build_pair(model, recipe.generator_fraction, recipe.generator_layers, main=CopyingMlm)
        return cls(generator, main, recipe, special, max_seq_len)

    def networks(self) -> dict[str, nn.Module]:
        return {"mlm": self.mlm, "generator": self.generator}

    def forward(self, batch: PretrainBatch, rng: Rng) -> StepOutput:
        ids, attn = batch.input_ids, batch.attention_mask
        selection = self.select(batch, rng)
        gen_input, masked = mask_for_generator(ids, selection.mask, self.special.mask, self.cfg.mask_token_prob, rng)
        targets = ids.gather(1, selection.index)  # (B, P)
        gen = generator_outputs(self.generator, gen_input, batch, selection, targets, rng, self.cfg)
        replaced_input, replaced = write_samples(ids, selection.index, selection.valid, gen.samples)
        copy_logits, vocab_logits = self.mlm.copy_and_vocab(replaced_input, attn, batch.token_type_ids)
        real = attn.bool()
        nll = copy_mixture_nll(copy_logits, vocab_logits, replaced_input, ids)
        main_loss = (nll * real).sum() / real.sum()
        stats = mlm_stats(gen.predictions, targets, selection, masked, gen.loss)
        changed = replaced.bool() & real
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

    @staticmethod
    def progress_fields(row: dict) -> dict[str, str]:
        return {"main_acc": f"{row['main_acc']:.3f}"}
