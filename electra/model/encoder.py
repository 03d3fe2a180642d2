"""The BERT-style encoder shared by the generator, the discriminator and the MLM baseline.

Read top-down from the leaves: embeddings -> self-attention -> feed-forward -> layer -> encoder.
Module and parameter names follow ``transformers``' ELECTRA classes one-to-one
(``embeddings.LayerNorm``, ``embeddings_project``, ``encoder.layer.N.attention.self.query``, ...),
so that a state dict converts by renaming prefixes only. Post-LayerNorm layers and exact (erf)
GELU, as in BERT and the reference ELECTRA code.

Shapes: B batch, T sequence length, E embedding size, H hidden size, nh heads, hs head size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from electra.config import ModelConfig
from electra.model.dropout import Dropout, dropout


class Embeddings(nn.Module):
    """Token + position + token-type embeddings, LayerNorm, dropout. Shared by both networks."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.embedding_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.embedding_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.embedding_size)
        self.LayerNorm = nn.LayerNorm(cfg.embedding_size, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = (
            self.word_embeddings(input_ids)  # (B, T, E)
            + self.position_embeddings(positions)[None]
            + self.token_type_embeddings(token_type_ids)
        )
        return self.dropout(self.LayerNorm(x))


class SelfAttentionProjections(nn.Module):
    """Query, key and value projections (HF: ``attention.self``)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)


class DenseNormOutput(nn.Module):
    """Dense -> dropout -> residual add -> LayerNorm (HF: ``attention.output`` and ``output``)."""

    def __init__(self, in_size: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(in_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = Dropout(cfg.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(residual + self.dropout(self.dense(x)))


class Attention(nn.Module):
    """Multi-head self-attention with a padding mask.

    Through ``F.scaled_dot_product_attention`` (its fused kernel) whenever no dropout is applied
    to the attention probabilities, and on GPU. With attention dropout on CPU, PyTorch's SDPA
    falls back to its unfused math path anyway; there the same math is written out so that the
    probabilities get the cheaper CPU dropout of ``electra.model.dropout``.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_attention_heads
        self.dropout_p = cfg.attention_probs_dropout_prob
        self.self = SelfAttentionProjections(cfg)
        self.output = DenseNormOutput(cfg.hidden_size, cfg)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        B, T, H = x.shape
        # (B, T, H) -> (B, nh, T, hs)
        q, k, v = (
            proj(x).view(B, T, self.num_heads, -1).transpose(1, 2)
            for proj in (self.self.query, self.self.key, self.self.value)
        )
        p = self.dropout_p if self.training else 0.0
        if p > 0.0 and x.device.type == "cpu":
            context = attention_with_dropout(q, k, v, attn_mask, p)
        else:
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=p)
        context = context.transpose(1, 2).reshape(B, T, H)  # (B, T, H)
        return self.output(context, residual=x)


def attention_with_dropout(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: torch.Tensor | None, p: float
) -> torch.Tensor:
    """softmax(q k^T / sqrt(hs) + mask) with dropout, times v: SDPA's math path, spelled out."""
    scores = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5  # (B, nh, T, T)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    return dropout(probs, p, training=True) @ v


class Intermediate(nn.Module):
    """First half of the feed-forward block: dense to the FFN width, GELU."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    """One post-LN transformer layer: attention, then feed-forward, each with residual + LayerNorm."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attention = Attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = DenseNormOutput(cfg.intermediate_size, cfg)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.attention(x, attn_mask)
        return self.output(self.intermediate(x), residual=x)


class LayerStack(nn.Module):
    """The stack of layers (HF: ``encoder``)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(Layer(cfg) for _ in range(cfg.num_hidden_layers))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, attn_mask)
        return x


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor | None:
    """(B, T) 1/0 mask -> (B, 1, 1, T) boolean SDPA mask, or None when nothing is padded.

    Returning None lets SDPA pick its fastest kernel; the check reads the mask, so it is made
    only on CPU tensors outside ``torch.compile``. On GPU the mask is always passed: asking
    would make the host wait for the device.
    """
    on_host = attention_mask.device.type == "cpu" and not torch.compiler.is_compiling()
    if on_host and bool(attention_mask.all()):
        return None
    return attention_mask[:, None, None, :].bool()


class ElectraModel(nn.Module):
    """Embeddings (possibly shared), optional projection E -> H, and the layer stack."""

    def __init__(self, cfg: ModelConfig, embeddings: Embeddings | None = None) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = embeddings if embeddings is not None else Embeddings(cfg)
        if cfg.embedding_size != cfg.hidden_size:
            self.embeddings_project = nn.Linear(cfg.embedding_size, cfg.hidden_size)
        self.encoder = LayerStack(cfg)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        """Return the last hidden states, (B, T, H)."""
        x = self.embeddings(input_ids, token_type_ids)  # (B, T, E)
        if hasattr(self, "embeddings_project"):
            x = self.embeddings_project(x)  # (B, T, H)
        return self.encoder(x, padding_mask(attention_mask))


def init_weights(module: nn.Module, std: float) -> None:
    """BERT initialisation: normal(0, std) weights, zero biases, LayerNorm at identity."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
