"""Fine-tuning loop: layer-wise learning rates, warmup + linear decay, evaluation every epoch.

Layer-wise learning-rate decay. With L layers and decay d, a parameter's rate is
``lr * d ** (L + 1 - depth)`` where depth is 0 for the embeddings (and the embedding
projection), i + 1 for layer i and L + 1 for the task head. So the head gets ``lr``, the top
layer ``lr * d``, layer 0 ``lr * d**L`` and the embeddings ``lr * d**(L + 1)``.
The reference code (google-research/electra, ``_get_layer_lrs``) puts the head at depth L + 2
and uses ``d ** (L + 2 - depth)``: its head gets ``lr`` but its top layer already gets
``lr * d**2``, one factor of d too many for every layer. That off-by-one is documented
here, not copied.

The best epoch by the task's main dev metric is kept (its weights are copied in memory and
restored at the end); without a dev file the last epoch is kept.
"""

from __future__ import annotations

import copy
import math
import re
import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from electra.config import FinetuneConfig
from electra.finetune.examples import Split
from electra.finetune.featurize import Features, collate
from electra.finetune.problems import Problem
from electra.train.optim import linear_schedule
from electra.train.optim import param_groups as optim_param_groups
from electra.train.sinks import Sink

LAYER = re.compile(r"^electra\.encoder\.layer\.(\d+)\.")


def depth_of(name: str, num_layers: int) -> int:
    """0 for the embeddings, i + 1 for encoder layer i, num_layers + 1 for the head."""
    if name.startswith(("electra.embeddings.", "electra.embeddings_project.")):
        return 0
    match = LAYER.match(name)
    if match:
        return int(match.group(1)) + 1
    return num_layers + 1


def layerwise_lrs(model: nn.Module, lr: float, decay: float) -> dict[str, float]:
    """The learning rate of every named parameter (see the module docstring)."""
    layers = model.config.num_hidden_layers
    return {name: lr * decay ** (layers + 1 - depth_of(name, layers)) for name, _ in model.named_parameters()}


def param_groups(model: nn.Module, lr: float, decay: float, weight_decay: float) -> list[dict]:
    """AdamW groups at the layer-wise rates (``electra.train.optim.param_groups``)."""
    return optim_param_groups(model, weight_decay, layerwise_lrs(model, lr, decay).__getitem__)


@dataclass
class FitResult:
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    """Per epoch: train loss and dev scores."""


@dataclass
class Evaluation:
    scores: dict[str, float]
    outputs: list[np.ndarray]


def fit(
    model: nn.Module,
    problem: Problem,
    train: Features,
    dev: tuple[Split, Features] | None,
    settings: FinetuneConfig,
    epochs: float,
    lr: float,
    decay: float,
    seed: int,
    device: torch.device,
    pad_id: int,
    progress: bool = True,
    sink: Sink | None = None,
) -> FitResult:
    """Train ``model`` in place; on return it holds the weights of the best dev epoch. Each
    epoch's row (train loss, dev scores) also goes to ``sink`` at the epoch's last step."""
    generator = torch.Generator().manual_seed(seed)
    per_epoch = math.ceil(len(train) / settings.batch_size)
    total = max(1, math.ceil(epochs * per_epoch))
    optimizer = torch.optim.AdamW(
        param_groups(model, lr, decay, settings.weight_decay), betas=(0.9, 0.999), eps=settings.adam_eps
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, linear_schedule(round(settings.warmup_fraction * total), total)
    )
    result, best_score, best_state = FitResult(best_epoch=0), -math.inf, None
    bar = tqdm(total=total, desc="fine-tune", unit="step", disable=not progress, dynamic_ncols=True)
    step, epoch = 0, 0
    while step < total:
        epoch += 1
        losses = []
        model.train()
        order = torch.randperm(len(train), generator=generator).tolist()
        for start in range(0, len(order), settings.batch_size):
            if step >= total:
                break
            batch = collate(train, order[start : start + settings.batch_size], pad_id).to(device)
            loss = problem.loss(model(batch.input_ids, batch.attention_mask, batch.token_type_ids), batch.targets)
            loss.backward()
            if settings.clip_grad_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), settings.clip_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.detach())
            step += 1
            bar.update(1)
        row = {"epoch": epoch, "step": step, "train_loss": float(torch.stack(losses).mean())}
        if dev is not None:
            row["dev"] = evaluate(model, problem, *dev, settings.eval_batch_size, device, pad_id, tune=True).scores
            score = row["dev"][problem.main_metric()]
            if score > best_score:
                best_score, best_state, result.best_epoch = score, copy.deepcopy(model.state_dict()), epoch
                best_problem_state = problem.state()
            bar.set_postfix({problem.main_metric(): f"{score:.4f}"})
        if not progress:  # one line per epoch instead of the bar
            dev_note = f", dev {problem.main_metric()} {row['dev'][problem.main_metric()]:.4f}" if "dev" in row else ""
            print(f"epoch {epoch}: train loss {row['train_loss']:.4f}{dev_note}", file=sys.stderr)
        result.history.append(row)
        if sink is not None:
            sink.log(row, step)
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
        problem.load_state(best_problem_state)  # e.g. the no-answer threshold tuned at that epoch
    else:
        result.best_epoch = epoch
    return result


@torch.no_grad()
def model_outputs(
    model: nn.Module, problem: Problem, features: Features, batch_size: int, device: torch.device, pad_id: int
) -> list[np.ndarray]:
    """Raw outputs per input (per token ones cut to the input's length), in input order.

    Inputs are batched in order of length so that little padding is computed.
    """
    model.eval()
    order = sorted(range(len(features)), key=lambda i: len(features.input_ids[i]))
    outputs: list[np.ndarray | None] = [None] * len(features)
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        batch = collate(features, indices, pad_id).to(device)
        out = model(batch.input_ids, batch.attention_mask, batch.token_type_ids).float().cpu().numpy()
        for row, i in enumerate(indices):
            outputs[i] = out[row, : len(features.input_ids[i])] if problem.token_level() else out[row]
    return outputs


def evaluate(
    model: nn.Module,
    problem: Problem,
    split: Split,
    features: Features,
    batch_size: int,
    device: torch.device,
    pad_id: int,
    tune: bool = False,
) -> Evaluation:
    outputs = model_outputs(model, problem, features, batch_size, device, pad_id)
    return Evaluation(problem.score(split, features, outputs, tune), outputs)
