"""The fused vocabulary pass equals projection + cross-entropy + sampling done one after another."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from electra.model.vocab import project_loss_sample
from electra.sampling import sample_tokens


def reference(hidden, head, targets, valid, rng_seed, temperature, forbid):
    logits = head(hidden)
    per_row = F.cross_entropy(logits, targets, reduction="none")
    loss = (per_row * valid).sum() / valid.sum().clamp(min=1)
    samples = sample_tokens(logits, torch.Generator().manual_seed(rng_seed), temperature, targets if forbid else None)
    return loss, logits.argmax(1), samples


@pytest.mark.parametrize("temperature,forbid", [(1.0, False), (0.7, False), (1.0, True)])
@pytest.mark.parametrize("chunk", [4, 64])
def test_fused_pass_equals_the_unfused_one(temperature, forbid, chunk):
    torch.manual_seed(0)
    M, E, V = 23, 16, 301  # 23 rows: the last chunk is partial
    head = torch.nn.Linear(E, V)
    hidden = torch.randn(M, E, requires_grad=True)
    targets = torch.randint(V, (M,))
    valid = torch.rand(M) > 0.3
    uniforms = torch.rand((M, 1), generator=torch.Generator().manual_seed(5)).squeeze(1)

    out = project_loss_sample(hidden, head, targets, valid, uniforms, temperature, forbid, chunk=chunk)
    out.loss.backward()
    fused_grads = [t.grad.clone() for t in (hidden, head.weight, head.bias)]
    for t in (hidden, head.weight, head.bias):
        t.grad = None

    loss, predictions, samples = reference(hidden, head, targets, valid.float(), 5, temperature, forbid)
    loss.backward()
    torch.testing.assert_close(out.loss, loss)
    assert torch.equal(out.predictions, predictions)
    assert torch.equal(out.samples, samples)
    if forbid:
        assert (out.samples != targets).all()
    for fused, plain in zip(fused_grads, (hidden.grad, head.weight.grad, head.bias.grad)):
        torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-7)


def test_no_valid_rows_gives_zero_loss_and_zero_gradients():
    head = torch.nn.Linear(8, 50)
    hidden = torch.randn(5, 8, requires_grad=True)
    out = project_loss_sample(hidden, head, torch.zeros(5, dtype=torch.long), torch.zeros(5, dtype=torch.bool))
    out.loss.backward()
    assert out.loss.item() == 0.0 and out.samples is None
    assert hidden.grad.abs().sum() == 0 and head.weight.grad.abs().sum() == 0


def test_without_gradients_nothing_is_stored():
    head = torch.nn.Linear(8, 50)
    with torch.no_grad():
        out = project_loss_sample(
            torch.randn(5, 8), head, torch.zeros(5, dtype=torch.long), torch.ones(5, dtype=torch.bool)
        )
    assert not out.loss.requires_grad and out.loss.item() > 0
