"""What every pretraining objective is: the ``Objective`` interface and the pieces all of them share.

An objective owns its networks, turns a batch into a loss (``forward``), turns summed statistics
into logged metrics (``metrics``), knows its training FLOPs (``step_flops``) and may watch its own
health (``health``). The trainer, FLOPs accounting, ``compare``, ``bench`` and the CLI know
objectives only through this interface and the registry in ``electra.objectives``.

Statistics are *sums and counts* (never ratios), so that they add up correctly over
micro-batches, logging windows and processes.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
from torch import nn

from electra.config import ModelConfig, ObjectiveConfig
from electra.data.loader import PretrainBatch
from electra.flops import StepFlops
from electra.masking import Rng, prediction_slots, select_positions, slots_per_row
from electra.model.sharing import DisentangledTables, cap_row_norms_
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
    """Detached sums and counts; the objective's ``metrics`` turns them into the logged metrics."""
    terms: list[LossTerm]
    """The loss's parts; several processes renormalise them by the global counts."""


class Selection(NamedTuple):
    """The positions chosen for prediction, as a map and as fixed-shape slots (``prediction_slots``)."""

    mask: torch.Tensor  # (B, T) bool
    index: torch.Tensor  # (B, P) positions, the selected ones first
    valid: torch.Tensor  # (B, P) bool: the slot holds a selected position


class Health(NamedTuple):
    """A state worth a warning (``state``, e.g. 'plateau') and the message that explains it."""

    state: str
    message: str


class PositionSelector(nn.Module):
    """The rule every objective here chooses positions to predict by (the reference's): the
    ``mask_prob`` share of each row, at most ``max_predictions``, never a special token."""

    def __init__(self, cfg: ObjectiveConfig, special: SpecialIds, max_seq_len: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.special = special
        self.max_predictions = cfg.max_predictions(max_seq_len)
        self.register_buffer(
            "never_select", torch.tensor([special.cls, special.sep, special.mask, special.pad]), persistent=False
        )

    def select(self, batch: PretrainBatch, rng: Rng) -> Selection:
        """The positions to predict, as a (B, T) map and as (B, P) slots."""
        mask = select_positions(
            batch.input_ids, batch.attention_mask, self.never_select, self.cfg.mask_prob, self.max_predictions, rng
        )
        slots = slots_per_row(mask.shape[1], self.cfg.mask_prob, self.max_predictions)
        return Selection(mask, *prediction_slots(mask, slots))


class Objective(PositionSelector, metaclass=abc.ABCMeta):
    """A pretraining objective. Subclasses set ``name`` and ``encoder`` and implement ``build``,
    ``networks``, ``forward``, ``step_flops`` and ``metrics``; ``health`` and ``progress_fields``
    are optional.
    """

    name: ClassVar[str]
    """The name ``--objective`` and ``compare --arms`` take."""
    encoder: ClassVar[str]
    """Which of ``networks()`` is the encoder to keep: fine-tuned, exported, the ``--init`` target."""
    folders: ClassVar[tuple[str, ...]]
    """The names ``networks()`` uses: the model folders a run writes."""

    @classmethod
    @abc.abstractmethod
    def build(cls, model: ModelConfig, recipe: ObjectiveConfig, special: SpecialIds, max_seq_len: int) -> Objective:
        """A fresh objective whose encoder has the shape ``model``."""

    @abc.abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """The networks written as standalone model folders, by folder name."""

    @abc.abstractmethod
    def forward(self, batch: PretrainBatch, rng: Rng) -> StepOutput:
        """Loss and statistics of one micro-batch; every random draw comes from ``rng``."""

    @classmethod
    @abc.abstractmethod
    def step_flops(
        cls, model: ModelConfig, recipe: ObjectiveConfig, seq_len: int, vocab_everywhere: bool = False
    ) -> StepFlops:
        """Training FLOPs (forward + backward) of one step whose encoder has the shape ``model``.
        ``vocab_everywhere``: as if the vocabulary projection ran at every position (the
        ``transformers`` composition ``bench`` compares against)."""

    @staticmethod
    @abc.abstractmethod
    def metrics(stats: dict[str, float]) -> dict[str, float | None]:
        """Summed statistics -> the metrics row (ratios, baselines)."""

    disentangled: DisentangledTables | None = None
    """Set by objectives built with ``recipe.embedding_sharing`` 'gdes': their pair's tables to keep in step."""

    def before_step(self) -> None:
        """Called before every optimizer step (after the gradients are in)."""
        if self.disentangled is not None:
            self.disentangled.before_step()

    def after_step(self) -> None:
        """Called after every optimizer step: the disentangled tables take on the generator's
        change (``recipe.embedding_sharing`` 'gdes'), then ``recipe.embedding_norm_cap`` applies
        to every network's token table (the generator's first, so that its capped change is
        the one passed on)."""
        cap = self.cfg.embedding_norm_cap
        if self.disentangled is not None:
            self.disentangled.after_step(cap)
        if cap is not None:
            tables = {id(t): t for t in (n.electra.embeddings.word_embeddings.weight for n in self.networks().values())}
            if self.disentangled is not None:
                tables.pop(id(self.disentangled.source.word_embeddings.weight))  # capped by after_step above
            for table in tables.values():
                cap_row_norms_(table, cap)

    @staticmethod
    def health(row: dict) -> Health | None:
        """A warning-worthy state of a metrics row (the trainer reports each state once), else None."""
        return None

    @staticmethod
    def progress_fields(row: dict) -> dict[str, str]:
        """Short extra fields for the progress bar."""
        return {}
