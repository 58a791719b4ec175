"""Tests of transformer_lib.models.timeseries: windows, standardisation, linear AR, the Transformer forecaster."""

from __future__ import annotations

import pytest
import torch

from transformer_lib.models import timeseries


def test_make_windows_rows_and_shapes():
    series = torch.arange(10.0)
    x, y = timeseries.make_windows(series, 3, 2)
    assert x.shape == (6, 3) and y.shape == (6, 2)
    torch.testing.assert_close(x[1], torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(y[1], torch.tensor([4.0, 5.0]))
    with pytest.raises(ValueError, match=r"series must have shape \(time,\)"):
        timeseries.make_windows(series[None], 3)
    with pytest.raises(ValueError, match="at least window"):
        timeseries.make_windows(series, 10)
    with pytest.raises(ValueError, match="window and horizon"):
        timeseries.make_windows(series, 0)


def test_standardizer_round_trip_uses_given_statistics():
    train = torch.tensor([1.0, 2.0, 3.0, 4.0])
    scaler = timeseries.Standardizer(train)
    assert scaler.mean == pytest.approx(2.5)
    z = scaler.transform(torch.tensor([10.0, -3.0]))
    torch.testing.assert_close(scaler.inverse(z), torch.tensor([10.0, -3.0]))
    with pytest.raises(ValueError, match="constant"):
        timeseries.Standardizer(torch.ones(5))


def test_fit_linear_ar_recovers_a_linear_rule():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 3, generator=g)
    y = x @ torch.tensor([[0.5], [-1.0], [2.0]]) + 0.25
    weight, bias = timeseries.fit_linear_ar(x, y)
    torch.testing.assert_close(weight, torch.tensor([[0.5], [-1.0], [2.0]]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(bias, torch.tensor([0.25]), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="same count"):
        timeseries.fit_linear_ar(x, y[:-1])


def test_forecaster_shapes_and_causality():
    torch.manual_seed(0)
    model = timeseries.TransformerForecaster(8, d_model=16, num_heads=2, d_ff=32, num_layers=1, horizon=2).eval()
    assert model(torch.randn(4, 8)).shape == (4, 2)
    with pytest.raises(ValueError, match="every_step=True needs is_causal=True"):
        model(torch.randn(4, 8), every_step=True)
    with pytest.raises(ValueError, match=r"seq <= window=8"):
        model(torch.randn(4, 9))
    causal = timeseries.TransformerForecaster(8, d_model=16, num_heads=2, d_ff=32, num_layers=1, is_causal=True).eval()
    x = torch.randn(2, 8)
    every = causal(x, every_step=True)  # (batch, seq, horizon)
    changed = x.clone()
    changed[:, 5:] += 1.0  # the future of step 4
    torch.testing.assert_close(causal(changed, every_step=True)[:, :5], every[:, :5])
    torch.testing.assert_close(causal(x[:, :5]), every[:, 4])  # the last step of a prefix = step 4


def test_forecaster_learns_a_sine_better_than_persistence():
    torch.manual_seed(0)
    series = torch.sin(torch.arange(200.0) * 0.3)
    x, y = timeseries.make_windows(series, 12)
    model = timeseries.TransformerForecaster(12, d_model=16, num_heads=2, d_ff=32, num_layers=1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    persistence = torch.nn.functional.mse_loss(x[:, -1:], y)
    assert loss.item() < 0.2 * persistence.item()
