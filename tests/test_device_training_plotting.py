import random

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

import transformer_lib as tl
from transformer_lib.tools import plotting
from transformer_lib.training.loop import train


def test_get_device_honours_override(monkeypatch):
    monkeypatch.setenv("TRANSFORMER_LIB_DEVICE", "cpu")
    assert tl.get_device() == torch.device("cpu")
    monkeypatch.delenv("TRANSFORMER_LIB_DEVICE")
    mps = getattr(torch.backends, "mps", None)
    best = "cuda" if torch.cuda.is_available() else "mps" if mps is not None and mps.is_available() else "cpu"
    assert tl.get_device() == torch.device(best)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert tl.get_device() == torch.device("cuda"), "a GPU is preferred when there is one"


def test_set_seed_repeats_every_generator():
    tl.set_seed(3)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    tl.set_seed(3)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    with pytest.raises(ValueError, match="seed must be an int"):
        tl.set_seed(1.5)


def test_train_reduces_loss_and_returns_losses():
    tl.set_seed(0)
    model = nn.Linear(3, 1)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    losses = train(
        model,
        lambda step: (x, y),
        lambda m, b: nn.functional.mse_loss(m(b[0]), b[1]),
        steps=200,
        lr=0.05,
        progress=False,
    )
    assert len(losses) == 200 and losses[-1] < 0.01 * losses[0]
    assert not model.training


def test_plots_have_labels_and_colorbars():
    fig = plotting.plot_attention(torch.softmax(torch.randn(3, 4), -1), list("abcd"), list("xyz"))
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() and len(fig.axes) == 2
    fig = plotting.plot_heads(torch.softmax(torch.randn(3, 4, 4), -1))
    assert len(fig.axes) == 4  # one panel per head + the shared colour bar
    fig = plotting.plot_mask(tl.subsequent_mask(4))
    assert fig.axes[0].get_legend() is not None
    fig = plotting.plot_curves({"a": [3, 2, 1]}, logy=True)
    assert fig.axes[0].get_yscale() == "log"
    plt.close("all")
    with pytest.raises(ValueError, match="must have 2 dimensions"):
        plotting.plot_attention(torch.ones(2, 2, 2))
