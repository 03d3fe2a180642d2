"""AdamW with the reference's weight-decay exclusions, and the linear warmup/decay schedule."""

from __future__ import annotations

import torch
from torch import nn

from electra.config import TrainConfig


def no_decay(name: str) -> bool:
    """Biases and LayerNorm parameters are not decayed (reference: 'LayerNorm', 'bias')."""
    return name.endswith("bias") or "LayerNorm" in name


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups, each parameter once (shared and tied tensors are deduplicated)."""
    decay, keep = [], []
    for name, param in model.named_parameters():  # named_parameters() already skips duplicates
        if param.requires_grad:
            (keep if no_decay(name) else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW (betas 0.9/0.999, eps 1e-6); the fused kernel where this PyTorch has one."""
    kwargs = dict(lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps)
    groups = param_groups(model, cfg.weight_decay)
    try:
        return torch.optim.AdamW(groups, fused=True, **kwargs)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, foreach=device.type == "cuda", **kwargs)


def linear_schedule(warmup_steps: int, total_steps: int):
    """LR multiplier: linear rise over ``warmup_steps``, then linear decay to 0 at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(cfg.warmup_steps, cfg.max_steps))
