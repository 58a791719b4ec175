"""Figures the chapters share: attention heatmaps, mask pictures and training curves, and the
architecture diagrams of :mod:`transformer_lib.tools.diagrams` (``draw_transformer``, ``draw_multihead``,
``draw_cross_attention``, ``draw_kv_cache``) and the interactive attention view of
:mod:`transformer_lib.tools.attention_view` (``attention_view``, ``record_attention``), importable from here too.

Every function draws on a matplotlib ``Axes`` (a new figure when ``ax`` is None) and returns the
figure, with labelled axes, a title and a colour bar where colour carries a value.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from .attention_view import attention_view, record_attention
from .diagrams import draw_cross_attention, draw_kv_cache, draw_multihead, draw_transformer

__all__ = [
    "attention_view",
    "draw_cross_attention",
    "draw_kv_cache",
    "draw_multihead",
    "draw_transformer",
    "plot_attention",
    "plot_curves",
    "plot_heads",
    "plot_mask",
    "record_attention",
    "use_book_style",
]


def _to_numpy(t: torch.Tensor | np.ndarray, name: str, rank: int) -> np.ndarray:
    a = t.detach().float().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=float)
    if a.ndim != rank:
        raise ValueError(f"{name} must have {rank} dimensions, got shape {tuple(a.shape)}")
    return a


def _label_axes(ax, x_labels, y_labels, n_x, n_y, xlabel, ylabel) -> None:
    ax.set_xticks(range(n_x))
    ax.set_yticks(range(n_y))
    if x_labels is not None:
        long = max(len(str(label)) for label in x_labels) > 4
        ax.set_xticklabels(x_labels, rotation=45 if long else 0, ha="right" if long else "center")
    if y_labels is not None:
        ax.set_yticklabels(y_labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def plot_attention(
    weights: torch.Tensor | np.ndarray,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    title: str = "Attention weights",
    ax: plt.Axes | None = None,
    annotate: bool | None = None,
    vmax: float | None = None,
) -> plt.Figure:
    """Heatmap of one ``(seq_q, seq_k)`` weight matrix: rows are queries, columns keys.

    ``annotate`` writes each weight in its cell (default: when the matrix is at most 10 x 10).
    """
    w = _to_numpy(weights, "weights", 2)
    if ax is None:
        small = max(w.shape) <= 12
        _, ax = plt.subplots(figsize=(1.6 + 0.6 * w.shape[1], 1.0 + 0.5 * w.shape[0]) if small else (7, 6))
    fig = ax.figure
    image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=vmax if vmax is not None else max(w.max(), 1e-9))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="weight")
    _label_axes(ax, x_labels, y_labels, w.shape[1], w.shape[0], "key (attended to)", "query (attending)")
    if annotate is None:
        annotate = max(w.shape) <= 10
    if annotate:
        threshold = 0.6 * (vmax if vmax is not None else w.max())
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                ax.text(
                    j,
                    i,
                    f"{w[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="black" if w[i, j] > threshold else "white",
                )
    ax.set_title(title)
    return fig


def plot_heads(
    weights: torch.Tensor | np.ndarray,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    title: str = "Attention weights per head",
    ncols: int = 2,
) -> plt.Figure:
    """Heatmaps of ``(heads, seq_q, seq_k)`` weights in a grid of ``ncols`` columns, one shared colour
    scale. Two columns keep the figure about 7 inches wide, so that shown at the text column's width its
    tick labels (the tokens) stay as large as the page's small print."""
    w = _to_numpy(weights, "weights", 3)
    heads = w.shape[0]
    ncols = min(ncols, heads)
    nrows = -(-heads // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols + 0.8, 3.0 * nrows + 0.6), squeeze=False)
    vmax = max(float(w.max()), 1e-9)
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            ax.remove()
            continue
        image = ax.imshow(w[h], cmap="viridis", vmin=0.0, vmax=vmax)
        _label_axes(
            ax,
            x_labels,
            y_labels,
            w.shape[2],
            w.shape[1],
            "key" if h // ncols == nrows - 1 else "",
            "query" if h % ncols == 0 else "",
        )
        ax.set_title(f"head {h}")
    fig.colorbar(image, ax=list(axes.flat[:heads]), fraction=0.025, pad=0.02, label="weight")
    fig.suptitle(title)
    return fig


def plot_mask(
    mask: torch.Tensor | np.ndarray,
    title: str = "Mask",
    ax: plt.Axes | None = None,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
) -> plt.Figure:
    """Picture of a boolean ``(seq_q, seq_k)`` mask: allowed (True) in colour, blocked (False) grey."""
    m = _to_numpy(mask, "mask", 2).astype(bool)
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.5 + 0.45 * m.shape[1], 1.0 + 0.45 * m.shape[0]))
    fig = ax.figure
    ax.imshow(m, cmap=ListedColormap(["#d9d9d9", "#2a7ab9"]), vmin=0, vmax=1)
    ax.set_xticks(np.arange(-0.5, m.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, m.shape[0]), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    _label_axes(ax, x_labels, y_labels, m.shape[1], m.shape[0], "key position", "query position")
    ax.legend(
        handles=[Patch(color="#2a7ab9", label="True: may attend"), Patch(color="#d9d9d9", label="False: blocked")],
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        frameon=False,
        fontsize=9,
    )
    ax.set_title(title)
    return fig


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str = "Training curves",
    ax: plt.Axes | None = None,
    logy: bool = False,
    x: Sequence[float] | None = None,
) -> plt.Figure:
    """Line plot of named curves (e.g. ``{"with projections": losses, ...}``) with a legend."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 3.8))
    fig = ax.figure
    for name, ys in curves.items():
        ys = np.asarray([float(y) for y in ys])
        ax.plot(np.arange(len(ys)) if x is None else np.asarray(x), ys, label=name, linewidth=1.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    return fig


def _sharp_png(fig: plt.Figure) -> tuple[str, dict[str, int]] | None:
    """A notebook's PNG of ``fig``: drawn at twice its displayed size (the "retina" PNG of IPython's
    inline backend, with the size to show it at), then reduced to a palette of 256 colours, which a
    plot's flat colours and antialiased edges do not show, so that it stores in about the bytes a
    PNG of the displayed size took."""
    from IPython.core.pylabtools import retina_figure
    from PIL import Image

    drawn = retina_figure(fig, bbox_inches="tight")
    if drawn is None:  # an empty figure shows nothing, as with the inline backend's own formatter
        return None
    png, size = drawn
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(256).save(buffer, format="png", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii"), size


def use_book_style() -> None:
    """Matplotlib settings of the book's figures: readable fonts, and in a notebook figures stored at
    twice their displayed size (:func:`_sharp_png`), sharp on high-density screens and when the site's
    reader enlarges them."""
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None
    shell = get_ipython() if get_ipython is not None else None
    if shell is not None:
        # the inline backend registers its own PNG formatter when its module is loaded, which matplotlib
        # does lazily, at the first figure: load it now, so that this formatter replaces that one
        plt.switch_backend(matplotlib.get_backend())
        shell.display_formatter.formatters["image/png"].for_type(plt.Figure, _sharp_png)
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.constrained_layout.use": True,
        }
    )
