"""Tests of transformer_lib.tools.cost: timing (here and in a native subprocess), saved-tensor bytes, slopes."""

from __future__ import annotations

import pytest
import torch

import transformer_lib as tl
from transformer_lib.tools import cost, numerics


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


def test_saved_tensor_bytes_counts_a_weight_saved_at_every_step_once():
    w = torch.randn(8, 8, requires_grad=True)  # 256 bytes, saved by the product of every step
    h = torch.randn(1, 8, requires_grad=True)  # 32 bytes

    def unrolled(steps):
        s = h
        for _ in range(steps):
            s = torch.tanh(s @ w)  # saves s and w; tanh saves its output, the next step's s
        return s

    for steps in (1, 2, 5):
        assert cost.saved_tensor_bytes(lambda steps=steps: unrolled(steps)) == 256 + 32 * (steps + 1)


def test_saved_tensor_bytes_counts_a_saved_view_as_its_whole_storage_once():
    x = torch.randn(10, requires_grad=True)  # 40 bytes
    assert cost.saved_tensor_bytes(lambda: x[:2] * x[3:5]) == 40  # two views of x, both saved
    assert cost.saved_tensor_bytes(lambda: torch.randn(3, 5).exp()) == 0  # no grad: nothing saved


def test_saved_tensor_bytes_sees_the_materialised_weights():
    n, heads = 32, 2
    q = torch.randn(1, heads, n, 4, requires_grad=True)
    naive = cost.saved_tensor_bytes(lambda: tl.scaled_dot_product_attention(q, q, q))
    fused = cost.saved_tensor_bytes(lambda: tl.fast_attention(q, q, q))
    weights = heads * n * n * 4  # the (n, n) weights in float32, saved twice but kept once
    assert weights <= naive < 2 * weights
    assert fused < naive


def test_attention_and_gru_layers_map_a_sequence_to_a_sequence():
    tl.set_seed(0)
    layers = cost.attention_and_gru(d_model=8, heads=2)
    x = torch.randn(2, 5, 8, requires_grad=True)
    assert set(layers) == {"naive", "fused", "GRU"}
    for layer in layers.values():
        assert layer(x).shape == (2, 5, 8)
    torch.testing.assert_close(layers["naive"](x), layers["fused"](x))
    assert cost.saved_tensor_bytes(lambda: layers["naive"](x)) >= 2 * 2 * 5 * 5 * 4


def test_median_seconds_is_a_positive_median_and_validates():
    calls = []
    assert cost.median_seconds(lambda: calls.append(1), repeats=3, warmup=2) >= 0.0
    assert len(calls) == 5
    with pytest.raises(ValueError, match="repeats"):
        cost.median_seconds(lambda: None, repeats=0)


def test_layer_times_and_generation_speed_here(monkeypatch):
    monkeypatch.setenv("TRANSFORMER_LIB_NUMERICS", "native")  # run_native then measures in this process
    threads = torch.get_num_threads()
    result = cost.run_native(cost.layer_times, lengths=[4, 8], d_model=8, heads=2, repeats=2, device="cpu", threads=1)
    assert torch.get_num_threads() == threads  # restored
    assert result["lengths"] == [4, 8] and result["batch"] == 1 and result["device"] == "cpu"
    for by_pass in result["times"].values():
        assert set(by_pass) == {"forward", "forward + backward"}
        assert all(len(ts) == 2 and min(ts) > 0 for ts in by_pass.values())
    speed = cost.run_native(cost.generation_speed, steps=3, d_model=8, heads=2, repeats=1, device="cpu")
    assert set(speed["tokens_per_second"]) == {"without cache", "with cache"}
    assert min(speed["tokens_per_second"].values()) > 0
    with pytest.raises(ValueError, match="lengths"):
        cost.layer_times([])


def test_run_native_measures_in_a_process_without_the_canonical_settings(monkeypatch):
    # As in the book's recorded runs: this process has the canonical settings.
    monkeypatch.delenv("TRANSFORMER_LIB_NUMERICS", raising=False)
    for name, value in numerics.canonical_settings().items():
        monkeypatch.setenv(name, value)
    assert not numerics.runs_native()
    result = cost.run_native(cost.layer_times, lengths=[4, 8], d_model=8, heads=2, repeats=1, threads=1)
    assert result["machine"]["canonical_settings"] == []  # the subprocess had none of them
    assert result["machine"]["threads"] == 1
    assert all(min(ts) > 0 for by_pass in result["times"].values() for ts in by_pass.values())
    with pytest.raises(RuntimeError, match="lengths must be"):  # the subprocess's error comes back
        cost.run_native(cost.layer_times, lengths=[0])


def test_run_native_runs_only_the_timings_of_this_module():
    with pytest.raises(ValueError, match="must be one of"):
        cost.run_native(print, lengths=[4])
    with pytest.raises(ValueError, match="JSON"):
        cost.run_native(cost.layer_times, lengths=[4], device=torch.device("cpu"))
