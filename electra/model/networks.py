"""The two pretraining networks and their heads, in ``transformers``' ELECTRA layouts.

``Discriminator`` has the state-dict keys of ``ElectraForPreTraining`` (``electra.*`` +
``discriminator_predictions.{dense,dense_prediction}``); ``Generator`` those of
``ElectraForMaskedLM`` (``electra.*`` + ``generator_predictions.{dense,LayerNorm}`` +
``generator_lm_head``). The MLM baseline is a ``Generator`` at full discriminator size.

``build_pair`` makes the generator reuse the discriminator's ``Embeddings`` module (token,
position and token-type tables and the embedding LayerNorm: one set of tensors) and ties the
generator's output projection to the shared token table; under ``recipe.embedding_sharing``
'gdes' or 'none' the discriminator gets its own copy (``electra.model.sharing``).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from electra.config import ModelConfig
from electra.model.encoder import ElectraModel, Embeddings, init_weights
from electra.model.init import local_init


class DiscriminatorHead(nn.Module):
    """Replaced-token-detection head: dense -> GELU -> dense to one logit per token."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.dense_prediction = nn.Linear(cfg.hidden_size, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dense_prediction(F.gelu(self.dense(hidden))).squeeze(-1)  # (...,)


class GeneratorHead(nn.Module):
    """MLM transform before the vocabulary projection: dense H -> E, GELU, LayerNorm."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.embedding_size)
        self.LayerNorm = nn.LayerNorm(cfg.embedding_size, eps=cfg.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(F.gelu(self.dense(hidden)))


class Discriminator(nn.Module):
    """Encoder + RTD head. ``forward`` returns one logit per token, (B, T)."""

    def __init__(self, cfg: ModelConfig, embeddings: Embeddings | None = None) -> None:
        super().__init__()
        self.config = cfg
        self.electra = ElectraModel(cfg, embeddings)
        self.discriminator_predictions = DiscriminatorHead(cfg)
        init_weights(self, cfg.initializer_range)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.electra(input_ids, attention_mask, token_type_ids)  # (B, T, H)
        return self.discriminator_predictions(hidden)  # (B, T)


class Generator(nn.Module):
    """Encoder + MLM head whose vocabulary projection is tied to the token embeddings.

    ``forward`` and ``transform`` work only at the positions they are given (the ~15%
    selected for prediction): for ELECTRA-Small's generator that skips ~85% of the largest
    matmul of the step and of its softmax. The positions come as a (B, P) index tensor, so that
    shapes do not depend on the data (no host-device synchronisation).
    """

    def __init__(self, cfg: ModelConfig, embeddings: Embeddings | None = None) -> None:
        super().__init__()
        self.config = cfg
        self.electra = ElectraModel(cfg, embeddings)
        self.generator_predictions = GeneratorHead(cfg)
        self.generator_lm_head = nn.Linear(cfg.embedding_size, cfg.vocab_size)
        init_weights(self, cfg.initializer_range)
        self.generator_lm_head.weight = self.electra.embeddings.word_embeddings.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Vocabulary logits: (B, P, V) at the position indices ``positions`` (B, P), else (B, T, V)."""
        return self.generator_lm_head(self.transform(input_ids, attention_mask, token_type_ids, positions))

    def transform(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The MLM head's input to the vocabulary projection, fp32: (B, P, E) at ``positions``, else (B, T, E).

        Training does not call ``forward``: it hands this to ``electra.model.vocab``, which projects,
        scores and samples in one chunked pass.
        """
        hidden = self.electra(input_ids, attention_mask, token_type_ids)  # (B, T, Hg)
        if positions is not None:
            hidden = hidden.gather(1, positions[..., None].expand(-1, -1, hidden.shape[-1]))  # (B, P, Hg)
        # the head runs in fp32 even under autocast: samples are drawn from its logits (docs/recipe.md,
        # "Objective": sample in fp32); at ~15% of positions this costs little
        with torch.autocast(hidden.device.type, enabled=False):
            return self.generator_predictions(hidden.float())


class CopyingMlm(Generator):
    """A masked LM that also scores, per token, the probability of copying its input token: the
    network of the All-Tokens MLM ablation. Saved as ``ElectraForMaskedLM`` plus the
    ``copy_predictions.*`` tensors (which ``transformers`` ignores); fine-tuning reads its encoder."""

    architecture = "ElectraForMaskedLM"

    def __init__(self, cfg: ModelConfig, embeddings: Embeddings | None = None) -> None:
        super().__init__(cfg, embeddings)
        self.copy_predictions = DiscriminatorHead(cfg)
        init_weights(self.copy_predictions, cfg.initializer_range)

    def copy_and_vocab(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Copy logits (B, T) and vocabulary logits (B, T, V) at every position."""
        hidden = self.electra(input_ids, attention_mask, token_type_ids)  # (B, T, H)
        with torch.autocast(hidden.device.type, enabled=False):
            vocab = self.generator_lm_head(self.generator_predictions(hidden.float()))
        return self.copy_predictions(hidden), vocab


def build_pair(
    disc_cfg: ModelConfig,
    generator_fraction: float,
    generator_layers: int | None = None,
    main: type[nn.Module] = Discriminator,
    shared: bool = True,
) -> tuple[Generator, nn.Module]:
    """A generator (``generator_fraction`` of the main network's width, ``generator_layers``
    deep: default the same depth) and the main network (the discriminator, or a full-size masked
    LM for the MLM ablations) that share one ``Embeddings`` module, initialised by the main
    network's ``init_scheme``. ``shared=False``: the main network gets its own copy of that
    module, with the same starting values (``recipe.embedding_sharing`` 'gdes' and 'none')."""
    network = main(disc_cfg)
    generator = Generator(disc_cfg.scaled(generator_fraction, generator_layers), embeddings=network.electra.embeddings)
    apply_init_scheme(disc_cfg, [network.electra, generator.electra])
    if not shared:
        network.electra.embeddings = copy.deepcopy(generator.electra.embeddings)
        if isinstance(network, Generator):  # a masked LM's output projection stays tied to its own table
            network.generator_lm_head.weight = network.electra.embeddings.word_embeddings.weight
    return generator, network


def build_mlm(cfg: ModelConfig) -> Generator:
    """The MLM baseline's network (a generator at full size), initialised by ``cfg.init_scheme``."""
    model = Generator(cfg)
    apply_init_scheme(cfg, [model.electra])
    return model


def apply_init_scheme(cfg: ModelConfig, encoders: list[ElectraModel]) -> None:
    """Re-initialise freshly built ``encoders`` (sharing the first one's embeddings) by ``cfg.init_scheme``."""
    if cfg.init_scheme == "local":
        local_init(encoders[0].embeddings, encoders, cfg.initializer_range)


def count_parameters(module: nn.Module) -> int:
    """Distinct parameters (a tied or shared tensor counts once)."""
    return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())
