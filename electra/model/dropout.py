"""Dropout whose random numbers cost a quarter of PyTorch's on CPU.

``F.dropout`` on CPU draws one random number per element through ``bernoulli_``; for
ELECTRA-Small that was ~11% of a training step. Here one 64-bit draw decides four elements: the
bits are read as four 16-bit integers and an element is kept when its integer clears a threshold,
so the drop probability is ``p`` rounded to a multiple of 1/65536 (0.1 becomes 0.1000061) and
kept elements are scaled by exactly ``1 / (1 - that probability)``: the expectation is unchanged.
Bits come from the global torch RNG, like ``F.dropout``'s, so checkpoints restore them alike.

On CUDA ``F.dropout`` is one fused kernel and stays in use; the packed draw is only for CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 1 << 16


def quantized_rate(p: float) -> float:
    """The drop probability actually applied on CPU: ``p`` rounded to a multiple of 1/65536."""
    return round(p * LEVELS) / LEVELS


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> torch.Tensor:
    """Boolean mask of ``shape`` with each element False (dropped) with probability ``quantized_rate(p)``."""
    n = shape.numel()
    words = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64, device=device)
    levels = words.view(torch.int16)[:n]  # uniform over [-32768, 32767]
    return (levels >= -(LEVELS // 2) + round(p * LEVELS)).view(shape)


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout`` semantics; on CPU with the packed draw described in the module docstring."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training=True)
    rate = quantized_rate(p)
    if rate >= 1.0:
        return F.dropout(x, p, training=True)
    return x.mul(keep_mask(x.shape, p, x.device)).mul_(1.0 / (1.0 - rate))


class Dropout(nn.Module):
    """Drop-in for ``nn.Dropout`` (no parameters, same state-dict keys: none)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
