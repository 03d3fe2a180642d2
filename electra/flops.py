"""Model FLOPs of a pretraining step: the one accounting used by budgets, logs and ``electra bench``.

Only matrix products are counted (as in the usual ``6 x parameters x tokens`` rule and in
``torch.utils.flop_counter``): a product of an (m, k) and a (k, n) matrix costs ``2 m k n``;
bias adds, LayerNorm, GELU, softmax, dropout and sampling are left out. Training costs three
times the forward pass (the backward pass forms the gradient of each product's input and of its
weight, one product each).

Per position of a sequence of length ``T`` (padding included: the work is done there too), an
encoder of embedding size ``E``, hidden size ``H``, FFN size ``F`` and ``L`` layers costs, forward:

    2·E·H                       embedding projection (only when E != H)
    L · (8·H² + 4·T·H + 4·H·F)  Q, K, V and output projections, scores and weighted sum, FFN

The heads add, forward:

    discriminator     2·H² + 2·H           at every position
    generator / MLM   2·H·E + 2·E·V        where the vocabulary is projected: at the prediction
                                           slots only (``vocab_everywhere=False``, this project:
                                           ``P = min(max_predictions, round(T·mask_prob))`` per
                                           row, which is the number selected in a full row), or
                                           at every position (the usual ``transformers``
                                           composition)

so a step over ``N`` positions with ``S`` prediction slots costs
``3 · (per_position · N + per_selected · S)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from electra.config import ModelConfig, ObjectiveConfig
from electra.masking import slots_per_row


def encoder_forward(cfg: ModelConfig, seq_len: int) -> float:
    """Forward FLOPs of the encoder body per position (embedding projection + layers)."""
    H, inner = cfg.hidden_size, cfg.intermediate_size
    projection = 2 * cfg.embedding_size * H if cfg.embedding_size != H else 0
    per_layer = 8 * H * H + 4 * seq_len * H + 4 * H * inner
    return projection + cfg.num_hidden_layers * per_layer


def discriminator_head_forward(cfg: ModelConfig) -> float:
    """Dense H -> H, then H -> 1 logit."""
    return 2 * cfg.hidden_size * cfg.hidden_size + 2 * cfg.hidden_size


def generator_head_forward(cfg: ModelConfig) -> float:
    """Dense H -> E, then the tied vocabulary projection E -> V."""
    return 2 * cfg.hidden_size * cfg.embedding_size + 2 * cfg.embedding_size * cfg.vocab_size


@dataclass(frozen=True)
class StepFlops:
    """Training (forward + backward) FLOPs of one objective, split by where the work happens."""

    per_position: float
    """FLOPs for every position of every sequence (padding included)."""
    per_selected: float
    """Extra FLOPs for every prediction slot (vocabulary projection and its head)."""

    def total(self, positions: float, slots: float) -> float:
        return self.per_position * positions + self.per_selected * slots

    @classmethod
    def training(cls, position: float, head: float, vocab_everywhere: bool = False) -> StepFlops:
        """Forward + backward (3x forward) of a step whose forward costs ``position`` per position
        and ``head`` per prediction slot; ``vocab_everywhere``: the head at every position."""
        if vocab_everywhere:
            return cls(3.0 * (position + head), 0.0)
        return cls(3.0 * position, 3.0 * head)

    def per_token(self, slot_share: float) -> float:
        """Average FLOPs per position when there are ``slot_share`` prediction slots per position."""
        return self.per_position + self.per_selected * slot_share


def slot_share(recipe: ObjectiveConfig, seq_len: int) -> float:
    """Prediction slots per position in a batch of width ``seq_len`` (= the share selected in a full row)."""
    return slots_per_row(seq_len, recipe.mask_prob, recipe.max_predictions(seq_len)) / seq_len
