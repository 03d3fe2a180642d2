"""AdamW with the reference's weight-decay exclusions, and the linear warmup/decay schedule.

The pretraining schedule spans the run's budget, whichever it is: a linear warm-up over
``warmup_steps`` optimizer steps, then a linear decay that reaches 0 when the budget is spent.
*Progress* is the share of the budget spent; with several budgets (``max_steps`` always, plus
``max_minutes`` and/or ``max_flops``) it is the largest of their shares, i.e. that of the budget
that will end the run first at the current pace. With ``max_steps`` alone this is the
reference's step schedule, exactly.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import torch
from torch import nn

from electra.config import TrainConfig
from electra.data.loader import BatchStream, PretrainData


def no_decay(name: str) -> bool:
    """Biases and LayerNorm parameters are not decayed (reference: 'LayerNorm', 'bias')."""
    return name.endswith("bias") or "LayerNorm" in name


def param_groups(model: nn.Module, weight_decay: float, lr_of: Callable[[str], float] | None = None) -> list[dict]:
    """AdamW groups, one per (learning rate, decayed or not), each parameter once (shared and tied
    tensors are deduplicated); biases and LayerNorm get no weight decay. ``lr_of(name)`` gives each
    parameter its own rate (fine-tuning's layer-wise decay); without it there are two groups, the
    decayed one first, at the optimizer's rate (pretraining)."""
    groups: dict[tuple[float | None, bool], dict] = {}
    if lr_of is None:
        for decayed in (True, False):
            groups[None, decayed] = {"params": [], "names": [], "weight_decay": weight_decay if decayed else 0.0}
    for name, param in model.named_parameters():  # named_parameters() already skips duplicates
        if not param.requires_grad:
            continue
        decayed = not no_decay(name)
        rate = None if lr_of is None else lr_of(name)
        group = groups.setdefault(
            (rate, decayed), {"params": [], "names": [], "lr": rate, "weight_decay": weight_decay if decayed else 0.0}
        )
        group["params"].append(param)
        group["names"].append(name)
    return list(groups.values())


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


def budget_shares(cfg: TrainConfig, step: int, seconds: float, flops: float) -> dict[str, float]:
    """Share of each budget of ``cfg`` spent after ``step`` steps, ``seconds`` of training and
    ``flops`` model FLOPs."""
    shares = {"steps": step / cfg.max_steps}
    if cfg.max_minutes is not None:
        shares["minutes"] = seconds / (60 * cfg.max_minutes)
    if cfg.max_flops is not None:
        shares["flops"] = flops / cfg.max_flops
    return shares


def progress(cfg: TrainConfig, step: int, seconds: float = 0.0, flops: float = 0.0) -> float:
    """How far the schedule is, in [0, 1]: the largest share spent of any budget."""
    return min(1.0, max(budget_shares(cfg, step, seconds, flops).values()))


def lr_factor(cfg: TrainConfig, step: int, seconds: float = 0.0, flops: float = 0.0) -> float:
    """Multiplier of the peak rate for the optimizer step that follows ``step`` steps, ``seconds``
    of training and ``flops`` model FLOPs (what the run had spent when the step began).

    The smallest of three lines: 1 (the peak), the warm-up ramp ``(step + 1) / warmup_steps``
    (counted in steps whatever the budget: its length does not depend on the machine's speed)
    and the decay line, which falls linearly with progress from 1 at ``warmup_steps /
    max_steps`` to 0 when the budget is spent. With ``max_steps`` alone this is
    ``linear_schedule(warmup_steps, max_steps)``; with a time or FLOPs budget the decay ends
    with the budget, and a budget too short for the warm-up turns the ramp down before its
    peak, so that every run ends annealed.
    """
    total = cfg.max_steps
    left = min(
        total * (1.0 - share) if name != "steps" else total - step  # steps: exact integers
        for name, share in budget_shares(cfg, step, seconds, flops).items()
    )
    decay = max(0.0, left) / max(1, total - cfg.warmup_steps)
    ramp = (step + 1) / cfg.warmup_steps if step < cfg.warmup_steps else 1.0
    return min(1.0, ramp, decay)


def warmup_warning(cfg: TrainConfig) -> str | None:
    """A warning when ``max_steps`` ends the run inside its warm-up (the rate never reaches its
    peak), else None. With ``max_steps`` alone the rate then never decays either; a time or FLOPs
    budget that ends the run sooner turns it down (:func:`lr_factor`), but whether it will is only
    known as the run goes, so the warning claims no more than the step count shows."""
    if cfg.warmup_steps < cfg.max_steps:
        return None
    said = (
        f"train.warmup_steps ({cfg.warmup_steps}) >= train.max_steps ({cfg.max_steps}): the run ends inside "
        f"its warm-up, so the learning rate never reaches its peak {cfg.lr:g}"
    )
    if cfg.max_minutes is None and cfg.max_flops is None:
        said += " and never decays"
    return said


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The rate of the next ``optimizer.step()`` (every group: pretraining uses one rate)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def mean_step_flops(
    data: PretrainData, batch_size: int, seed: int, flops_of: Callable[[int, int], float], batches: int = 64
) -> float:
    """Average model FLOPs of an optimizer step over the first ``batches`` batches of the run's own
    data order (batches are trimmed to their longest row, so this is below the full-width cost)."""
    stream = BatchStream(data, batch_size, seed=seed)
    return statistics.mean(flops_of(*next(stream).input_ids.shape) for _ in range(batches))


def steps_for_flops(budget: float, step_flops: float) -> int:
    """Optimizer steps a FLOPs budget is expected to take at ``step_flops`` per step, 1% over (so
    that a ``max_steps`` set from it does not end the run before the FLOPs do)."""
    return max(1, math.ceil(1.01 * budget / step_flops))


def schedule_summary(cfg: TrainConfig, step_flops: float | None = None) -> dict:
    """What the learning rate will follow (printed at the start of a run and written to
    ``schedule.json``). ``step_flops``: the expected FLOPs per step, to estimate the length of a
    FLOPs budget in steps."""
    budgets: dict[str, float] = {"steps": cfg.max_steps}
    if cfg.max_minutes is not None:
        budgets["minutes"] = cfg.max_minutes
    if cfg.max_flops is not None:
        budgets["flops"] = cfg.max_flops
    summary = {
        "peak_lr": cfg.lr,
        "warmup_steps": cfg.warmup_steps,
        "decay_to_zero_at": budgets,
        "progress": "largest share spent of these budgets (the one that ends the run first)",
    }
    if cfg.max_flops is not None and step_flops:
        summary["flops_budget_steps_estimate"] = steps_for_flops(cfg.max_flops, step_flops)
    return summary


def describe_schedule(summary: dict) -> str:
    """One line for the log."""
    budgets = summary["decay_to_zero_at"]
    parts = [f"{budgets['steps']:,} steps"]
    if "minutes" in budgets:
        parts.insert(0, f"{budgets['minutes']:g} minutes")
    if "flops" in budgets:
        estimate = summary.get("flops_budget_steps_estimate")
        parts.insert(0, f"{budgets['flops']:.3g} FLOPs" + (f" (~{estimate:,} steps)" if estimate else ""))
    budget = parts[0] if len(parts) == 1 else f"whichever is spent first of {', '.join(parts)}"
    return (
        f"lr schedule: linear warm-up over {summary['warmup_steps']:,} steps to {summary['peak_lr']:g}, "
        f"then linear decay to 0 at {budget}"
    )
