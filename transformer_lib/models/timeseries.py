"""Time series for regression: windows of past values, normalisation, baselines, a Transformer forecaster.

Used by the chapter "Transformers for regression". A series ``(time,)`` becomes pairs
``(window of past values, next values)``; a model maps ``(batch, window)`` to ``(batch, horizon)``.

* :func:`make_windows` and :class:`Standardizer` prepare the data (statistics from the training part only);
* :func:`fit_linear_ar` is the linear autoregressive baseline, solved by least squares;
* :class:`TransformerForecaster` is an encoder over the window with a linear input projection in
  place of a token embedding, sinusoidal positions, and a regression head.

**Mask convention** (as in the whole library): boolean, ``True`` = may attend.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validate import check_floating, check_rank, shape_str
from ..nn.blocks import DecoderOnly, Encoder
from ..nn.layers import PositionalEncoding


def make_windows(series: torch.Tensor, window: int, horizon: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Slide a window over a series: the ``window`` past values -> the ``horizon`` values that follow.

    Args:
        series: ``(time,)`` values in time order.
        window: how many past values the model sees.
        horizon: how many following values it predicts.

    Returns:
        ``(inputs, targets)`` of shapes ``(count, window)`` and ``(count, horizon)``, where
        ``count = time - window - horizon + 1``; row ``i`` holds ``series[i : i + window]`` and
        ``series[i + window : i + window + horizon]``.
    """
    check_rank("series", series, 1, "(time,)")
    if window < 1 or horizon < 1:
        raise ValueError(f"window and horizon must be >= 1, got window={window}, horizon={horizon}")
    if len(series) < window + horizon:
        raise ValueError(
            f"series must have at least window + horizon = {window + horizon} values, got {shape_str(series)}"
        )
    rows = series.unfold(0, window + horizon, 1)  # (count, window + horizon)
    return rows[:, :window].clone(), rows[:, window:].clone()


class Standardizer:
    """Subtract a mean and divide by a standard deviation computed on the training data only.

    Statistics taken from the whole series would leak the future (the test period) into training.
    """

    def __init__(self, train_values: torch.Tensor):
        check_floating("train_values", train_values)
        if train_values.numel() < 2:
            raise ValueError(f"train_values needs at least 2 values, got {shape_str(train_values)}")
        self.mean = train_values.mean().item()
        self.std = train_values.std().item()
        if self.std == 0:
            raise ValueError("train_values are constant: the standard deviation is 0")

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """Original units -> standardised units."""
        return (x - self.mean) / self.std

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised units -> original units."""
        return z * self.std + self.mean


def fit_linear_ar(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Least-squares linear autoregression: ``targets ≈ inputs @ weight + bias``.

    Args:
        inputs: ``(count, window)`` past values.
        targets: ``(count, horizon)`` next values.

    Returns:
        ``(weight, bias)`` of shapes ``(window, horizon)`` and ``(horizon,)``, solved in float64.
    """
    check_rank("inputs", inputs, 2, "(count, window)")
    check_rank("targets", targets, 2, "(count, horizon)")
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(
            f"inputs and targets must have the same count, got inputs {shape_str(inputs)} "
            f"and targets {shape_str(targets)}"
        )
    design = torch.cat([inputs.double(), torch.ones(len(inputs), 1, dtype=torch.float64, device=inputs.device)], 1)
    solution = torch.linalg.lstsq(design.cpu(), targets.double().cpu()).solution.to(inputs.device)
    return solution[:-1].to(inputs.dtype), solution[-1].to(inputs.dtype)


class TransformerForecaster(nn.Module):
    """A Transformer encoder that maps a window of past values to the next ``horizon`` values.

    What changes from the language case: each time step is a number, not a token, so a linear map
    ``1 -> d_model`` replaces the embedding table; sinusoidal encodings mark the time steps; the head
    is a linear map to real numbers (trained with MSE) instead of a softmax over a vocabulary.

    Args:
        window: length of the input window (the largest the positional encoding allows).
        d_model, num_heads, d_ff, num_layers, dropout: as in :class:`~transformer_lib.Encoder` (pre-norm).
        horizon: how many values to predict.
        is_causal: ``False`` (default): every step of the window attends to every other, and the last
            step's vector is read out. ``True``: step ``t`` attends only to steps ``<= t``, and every
            step predicts the values after it (see :meth:`forward`).

    ``forward``: ``(batch, window)`` -> ``(batch, horizon)``.
    """

    def __init__(
        self,
        window: int,
        d_model: int = 32,
        num_heads: int = 4,
        d_ff: int = 64,
        num_layers: int = 2,
        horizon: int = 1,
        dropout: float = 0.0,
        *,
        is_causal: bool = False,
    ):
        super().__init__()
        self.window, self.horizon, self.is_causal = window, horizon, is_causal
        self.input_proj = nn.Linear(1, d_model)
        self.position = PositionalEncoding(d_model, window, dropout)
        stack = DecoderOnly if is_causal else Encoder
        self.blocks = stack(num_layers, d_model, num_heads, d_ff, dropout, norm_first=True, activation="relu")
        self.head = nn.Linear(d_model, horizon)

    def forward(self, x: torch.Tensor, every_step: bool = False) -> torch.Tensor:
        """``(batch, seq)`` past values (``seq <= window``) -> ``(batch, horizon)`` predictions.

        With ``every_step=True`` (causal models only) return ``(batch, seq, horizon)``: step ``t``'s
        prediction of the values after step ``t``, from steps ``<= t`` only.
        """
        check_rank("x", x, 2, "(batch, seq)")
        check_floating("x", x)
        if x.shape[1] > self.window:
            raise ValueError(f"x must have shape (batch, seq <= window={self.window}), got {shape_str(x)}")
        if every_step and not self.is_causal:
            raise ValueError("every_step=True needs is_causal=True: otherwise step t sees the future")
        h = self.position(self.input_proj(x.unsqueeze(-1)))  # (batch, seq, d_model)
        h = self.blocks(h)  # (batch, seq, d_model)
        out = self.head(h)  # (batch, seq, horizon)
        return out if every_step else out[:, -1]
