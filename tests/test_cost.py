"""Tests of transformer_lib.cost: timing, saved-tensor bytes, log-log slopes."""

from __future__ import annotations

import pytest
import torch

import transformer_lib as tl
from transformer_lib import cost


def test_loglog_slope_recovers_powers():
    xs = [1.0, 2.0, 4.0, 8.0]
    assert cost.loglog_slope(xs, [3 * x**2 for x in xs]) == pytest.approx(2.0)
    assert cost.loglog_slope(xs, [5.0] * 4) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same length"):
        cost.loglog_slope([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="positive"):
        cost.loglog_slope([1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="all be equal"):
        cost.loglog_slope([2.0, 2.0], [1.0, 3.0])


def test_saved_tensor_bytes_counts_the_materialised_weights():
    n, heads = 32, 2
    q = torch.randn(1, heads, n, 4, requires_grad=True)
    naive = cost.saved_tensor_bytes(lambda: tl.scaled_dot_product_attention(q, q, q))
    fused = cost.saved_tensor_bytes(lambda: tl.fast_attention(q, q, q))
    assert naive >= heads * n * n * 4  # at least the (n, n) weights in float32
    assert fused < naive
    x = torch.randn(3, 5)  # no grad: nothing saved
    assert cost.saved_tensor_bytes(lambda: x.exp()) == 0


def test_median_seconds_is_a_positive_median_and_validates():
    calls = []
    assert cost.median_seconds(lambda: calls.append(1), repeats=3, warmup=2) >= 0.0
    assert len(calls) == 5
    with pytest.raises(ValueError, match="repeats"):
        cost.median_seconds(lambda: None, repeats=0)
