"""The generator's vocabulary projection, MLM loss and sampling in one chunked pass.

Done separately, the projection at the ~15% selected positions still writes a (slots x vocab)
logits matrix, then log-softmax, a softmax for sampling, its cumulative sum, and in the backward
pass a zero-filled gradient of the same size and the log-softmax gradient: five passes over
~75 MB for ELECTRA-Small at batch 32 x 128, each on freshly allocated memory. Here rows are
taken ``chunk`` at a time: the logits of a chunk are computed once, and from them the loss, the
argmax, the samples and the gradients of the hidden states, the weight and the bias, while the
chunk is in cache. The backward pass only scales the stored gradients by the incoming one.

Semantics are those of the unfused code: mean cross-entropy over the valid slots, samples drawn
by inverse CDF from softmax(logits / temperature) in fp32 with one uniform per slot (drawn by
the caller, in the same order as before), optionally never the original token.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from electra.sampling import draw_inverse_cdf, sampling_probs

CHUNK_ROWS = 64
"""Rows per chunk: 64 x 30522 fp32 logits are 7.8 MB."""


class VocabOutput(NamedTuple):
    loss: torch.Tensor  # scalar: mean cross-entropy over the valid slots
    predictions: torch.Tensor  # (M,) argmax ids
    samples: torch.Tensor | None  # (M,) sampled ids, when uniforms were given


class _FusedVocab(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, valid, uniforms, temperature, forbid_targets, chunk):
        M = hidden.shape[0]
        wants_grad = any(ctx.needs_input_grad[:3])
        weights = valid.float()
        count = weights.sum().clamp(min=1.0)
        loss = hidden.new_zeros(())
        predictions = torch.empty(M, dtype=torch.long, device=hidden.device)
        samples = torch.empty(M, dtype=torch.long, device=hidden.device) if uniforms is not None else None
        grads = (torch.empty_like(hidden), torch.zeros_like(weight), torch.zeros_like(bias)) if wants_grad else None
        for start in range(0, M, chunk):
            rows = slice(start, min(start + chunk, M))
            h, t = hidden[rows], targets[rows]
            logits = torch.addmm(bias, h, weight.t())  # (c, V)
            predictions[rows] = logits.argmax(dim=1)
            lse = torch.logsumexp(logits, dim=1)
            loss += ((lse - logits.gather(1, t[:, None]).squeeze(1)) * weights[rows]).sum()
            if samples is not None and (temperature != 1.0 or forbid_targets):
                probs = sampling_probs(logits, temperature, t if forbid_targets else None)
                samples[rows] = draw_inverse_cdf(probs, uniforms[rows])
            probs = logits.sub_(lse[:, None]).exp_()  # softmax, in place of the logits
            if samples is not None and temperature == 1.0 and not forbid_targets:
                samples[rows] = draw_inverse_cdf(probs, uniforms[rows])
            if grads is not None:
                g = probs.scatter_add_(1, t[:, None], -torch.ones_like(lse)[:, None])  # softmax - one-hot
                g.mul_((weights[rows] / count)[:, None])
                grads[0][rows] = g @ weight
                grads[1].addmm_(g.t(), h)
                grads[2].add_(g.sum(dim=0))
        ctx.mark_non_differentiable(predictions, *([samples] if samples is not None else []))
        if grads is not None:
            ctx.save_for_backward(*grads)
        return loss / count, predictions, samples

    @staticmethod
    def backward(ctx, grad_loss, *unused):
        grad_hidden, grad_weight, grad_bias = (g * grad_loss for g in ctx.saved_tensors)
        return grad_hidden, grad_weight, grad_bias, None, None, None, None, None, None


def project_loss_sample(
    hidden: torch.Tensor,
    head: nn.Linear,
    targets: torch.Tensor,
    valid: torch.Tensor,
    uniforms: torch.Tensor | None = None,
    temperature: float = 1.0,
    forbid_targets: bool = False,
    chunk: int = CHUNK_ROWS,
) -> VocabOutput:
    """Loss, argmax and (with ``uniforms``) samples of ``head`` applied to ``hidden`` (M, E), in fp32.

    ``targets`` (M,) and ``valid`` (M,) bool: only valid rows count in the loss. Gradients flow
    to ``hidden`` and the head's weight and bias; none flows through the samples.
    """
    with torch.autocast(hidden.device.type, enabled=False):
        loss, predictions, samples = _FusedVocab.apply(
            hidden.float(),
            head.weight.float(),
            head.bias.float(),
            targets,
            valid,
            uniforms,
            temperature,
            forbid_targets,
            chunk,
        )
    return VocabOutput(loss, predictions, samples)
