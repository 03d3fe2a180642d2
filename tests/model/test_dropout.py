"""The packed CPU dropout: its rate, its scaling, its gradient, and attention written out."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from electra.model.dropout import Dropout, dropout, keep_mask, quantized_rate
from electra.model.encoder import attention_with_dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drop_share_matches_the_quantized_rate(p):
    torch.manual_seed(0)
    n = 400_003  # not a multiple of 4
    dropped = (~keep_mask(torch.Size([n]), p, torch.device("cpu"))).double().mean().item()
    rate = quantized_rate(p)
    assert abs(rate - p) <= 0.5 / 65536
    assert abs(dropped - rate) < 5 * math.sqrt(rate * (1 - rate) / n)


def test_kept_values_are_scaled_and_the_mean_is_kept():
    torch.manual_seed(1)
    x = torch.rand(200_000) + 1.0
    y = dropout(x, 0.25, training=True)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - quantized_rate(0.25)))
    assert y.mean().item() == pytest.approx(x.mean().item(), rel=0.01)


def test_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(2)
    x = torch.randn(64, 33, requires_grad=True)
    y = dropout(x, 0.3, training=True)
    y.sum().backward()
    expected = (y != 0).float() / (1 - quantized_rate(0.3))
    torch.testing.assert_close(x.grad, expected)


def test_eval_mode_and_zero_rate_are_identity_and_draw_nothing():
    layer = Dropout(0.4).eval()
    x = torch.randn(8, 8)
    state = torch.get_rng_state()
    assert layer(x) is x
    assert dropout(x, 0.0, training=True) is x
    assert torch.equal(torch.get_rng_state(), state)


def test_the_global_seed_reproduces_the_mask():
    x = torch.randn(1000)
    torch.manual_seed(7)
    a = dropout(x, 0.1, training=True)
    torch.manual_seed(7)
    b = dropout(x, 0.1, training=True)
    torch.manual_seed(8)
    c = dropout(x, 0.1, training=True)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_written_out_attention_equals_sdpa():
    torch.manual_seed(3)
    q, k, v = (torch.randn(2, 3, 10, 8) for _ in range(3))
    mask = torch.ones(2, 1, 1, 10, dtype=torch.bool)
    mask[1, ..., 6:] = False
    # a rate that rounds to 0 keeps everything: the rest of the math must equal SDPA's
    torch.testing.assert_close(
        attention_with_dropout(q, k, v, mask, 1e-9), F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    )
    torch.manual_seed(4)
    dropped = attention_with_dropout(q, k, v, mask, 0.5)
    assert not torch.allclose(dropped, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
