"""Pieces several objectives compose: the generator pass, the RTD loss, statistics and metrics."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from electra.config import ModelConfig, ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.masking import Rng, mask_for_generator, uniform, write_samples
from electra.model.networks import Discriminator, Generator, build_pair
from electra.model.sharing import DisentangledTables, disentangled_tables
from electra.model.vocab import VocabOutput, project_loss_sample
from electra.objectives.base import Health, Objective, Selection


class Pair(NamedTuple):
    generator: Generator
    main: nn.Module
    disentangled: DisentangledTables | None


def build_recipe_pair(model: ModelConfig, recipe: ObjectiveConfig, main: type[nn.Module] = Discriminator) -> Pair:
    """The generator and ``main`` network of ``recipe`` (its generator shape and
    ``embedding_sharing``), with what keeps 'gdes' tables in step."""
    shared = recipe.embedding_sharing == "es"
    generator, network = build_pair(model, recipe.generator_fraction, recipe.generator_layers, main=main, shared=shared)
    return Pair(generator, network, disentangled_tables(recipe.embedding_sharing, generator.electra, network.electra))


def generator_outputs(
    generator: Generator,
    inputs: torch.Tensor,
    batch: PretrainBatch,
    selection: Selection,
    targets: torch.Tensor,
    rng: Rng | None,
    cfg: ObjectiveConfig,
) -> VocabOutput:
    """MLM loss, argmax and (with ``rng``) samples at the slots, via the fused vocabulary pass.

    Outputs are (B, P)-shaped; samples are drawn with one uniform per slot from ``rng``.
    """
    hidden = generator.transform(inputs, batch.attention_mask, batch.token_type_ids, selection.index)  # (B, P, E)
    uniforms = None if rng is None else uniform(rng, targets.shape, targets.device).flatten()
    out = project_loss_sample(
        hidden.flatten(0, 1),
        generator.generator_lm_head,
        targets.flatten(),
        selection.valid.flatten(),
        uniforms,
        cfg.temperature,
        cfg.disallow_correct,
    )
    samples = None if out.samples is None else out.samples.view(targets.shape)
    return VocabOutput(out.loss, out.predictions.view(targets.shape), samples)


class Corruption(NamedTuple):
    """ELECTRA's corruption of a batch: the generator's pass at the selected positions and its
    samples written into the input."""

    selection: Selection
    masked: torch.Tensor  # (B, T) bool: the selected positions shown to the generator as [MASK]
    targets: torch.Tensor  # (B, P) original ids at the slots
    generator: VocabOutput  # its MLM loss, argmax and samples at the slots
    corrupted: torch.Tensor  # (B, T) original ids with the samples written in
    replaced: torch.Tensor  # (B, T) 1 where a sample differs from the original


def generator_corruption(objective: Objective, generator: Generator, batch: PretrainBatch, rng: Rng) -> Corruption:
    """Select positions, show 85% of them to ``generator`` as [MASK], sample its replacements
    and write them into the input: the first half of every generator-based objective."""
    ids = batch.input_ids
    selection = objective.select(batch, rng)
    gen_input, masked = mask_for_generator(
        ids, selection.mask, objective.special.mask, objective.cfg.mask_token_prob, rng
    )
    targets = ids.gather(1, selection.index)  # (B, P)
    gen = generator_outputs(generator, gen_input, batch, selection, targets, rng, objective.cfg)
    corrupted, replaced = write_samples(ids, selection.index, selection.valid, gen.samples)
    return Corruption(selection, masked, targets, gen, corrupted, replaced)


def rtd_loss(logits: torch.Tensor, labels: torch.Tensor, scored: torch.Tensor) -> torch.Tensor:
    """Sigmoid BCE averaged over the ``scored`` tokens (every real token, [CLS] and [SEP] included,
    for ELECTRA), in fp32."""
    per_token = F.binary_cross_entropy_with_logits(logits.float(), labels.float(), reduction="none")
    weights = scored.float()
    return (per_token * weights).sum() / weights.sum()


def binary_entropy(p: float) -> float:
    """Loss of a detector that always predicts the base rate ``p``: its always-"original" baseline."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def mlm_stats(
    predictions: torch.Tensor, targets: torch.Tensor, selection: Selection, masked: torch.Tensor, loss: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Sums of a masked LM at the slots; accuracy counts only [MASK]ed slots (kept tokens are trivially copied)."""
    masked_slots = masked.gather(1, selection.index) & selection.valid
    correct = (predictions == targets) & masked_slots
    n = selection.valid.sum().float()
    return {
        "mlm_loss_sum": loss.detach() * n,
        "selected": n,
        "gen_correct": correct.sum().float(),
        "masked": masked_slots.sum().float(),
    }


def rtd_stats(
    logits: torch.Tensor, labels: torch.Tensor, scored: torch.Tensor, loss: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Discriminator sums over the scored tokens: loss, correct, replaced, true and predicted positives."""
    real = scored.bool()
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


def ratio(stats: dict[str, float], num: str, den: str) -> float:
    return stats[num] / stats[den] if stats.get(den) else 0.0


def mlm_metrics(stats: dict[str, float]) -> dict[str, float | None]:
    """``mlm_loss`` (mean over the slots) and ``gen_acc`` (accuracy on [MASK]ed slots)."""
    return {"mlm_loss": ratio(stats, "mlm_loss_sum", "selected"), "gen_acc": ratio(stats, "gen_correct", "masked")}


def rtd_metrics(stats: dict[str, float]) -> dict[str, float | None]:
    """The generator's metrics, the discriminator's loss, accuracy, recall and precision, and the
    loss's always-'original' baseline and ratio to it (None when nothing was replaced)."""
    share = ratio(stats, "replaced", "real_tokens")
    row = mlm_metrics(stats)
    row.update(
        disc_loss=ratio(stats, "disc_loss_sum", "real_tokens"),
        disc_baseline_loss=binary_entropy(share),
        disc_acc=ratio(stats, "disc_correct", "real_tokens"),
        disc_recall=ratio(stats, "true_positives", "replaced"),
        disc_precision=ratio(stats, "true_positives", "predicted_replaced"),
        replaced_share=share,
    )
    baseline = row["disc_baseline_loss"]
    row["disc_loss_ratio"] = row["disc_loss"] / baseline if baseline > 0 else None
    return row


PLATEAU_TOLERANCE = 0.98
"""A discriminator whose loss is above this fraction of its baseline is 'at the baseline'."""

COLLAPSE_TOLERANCE = 0.998
"""Above this fraction, with no token called 'replaced', the discriminator has collapsed onto the
constant answer: in our runs (docs/small-budgets.md) such a model never recovered."""


def discriminator_state(row: dict) -> str:
    """'learning', 'plateau' (at its baseline; more steps usually end it) or 'collapsed' (the
    constant answer, calling no token replaced; seen when the learning rate is too high for the batch)."""
    ratio = row["disc_loss_ratio"]
    if ratio < PLATEAU_TOLERANCE:
        return "learning"
    return "collapsed" if ratio >= COLLAPSE_TOLERANCE and row["disc_recall"] == 0 else "plateau"


def discriminator_health(row: dict) -> Health | None:
    """A discriminator at its always-'original' baseline, with what to tell the user; else None."""
    if row.get("disc_loss_ratio") is None:
        return None
    state = discriminator_state(row)
    if state == "learning":
        return None
    ratio = row["disc_loss_ratio"]
    where = (
        f"at step {row['step']} the discriminator loss {row['disc_loss']:.4f} is "
        f"{ratio:.3f} x its always-'original' baseline {row['disc_baseline_loss']:.4f}"
    )
    if state == "collapsed":
        return Health(
            state,
            f"{where} and it calls no token 'replaced': it has collapsed onto the constant answer. "
            f"Runs in this state did not recover; restart with a lower --train.lr or a larger "
            f"--train.batch_size (see docs/small-budgets.md)",
        )
    return Health(
        state,
        f"{where} (recall on replaced tokens {row['disc_recall']:.1%}): it has not learned to detect replacements yet",
    )


def discriminator_progress(row: dict) -> dict[str, str]:
    """The discriminator's loss against its baseline and its recall, for the progress bar."""
    return {"disc": f"{row['disc_loss']:.3f}/{row['disc_baseline_loss']:.3f}", "recall": f"{row['disc_recall']:.2f}"}
