"""Architecture diagrams drawn by code: the Transformer's stacks, multi-head attention, where
cross-attention's queries, keys and values come from, and the KV cache.

Drawn with matplotlib like the book's other figures, so they are versioned with the code, restyled in
one place and checked by the tests; the shapes written on the arrows come from the arguments. Each
function returns a new figure sized for the website's text column (about 6.5 inches), so that its
lettering is as large as the page's small print.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

# One colour per kind of part, the same in every diagram (colour-blind-safe pastels of Okabe-Ito hues).
COLORS = {
    "attention": "#f6c89f",  # orange: anything that attends
    "ffn": "#a8d8ea",  # blue: position-wise feed-forward
    "norm": "#f4e4a1",  # yellow: LayerNorm, Add & Norm
    "embed": "#d5c6e0",  # purple: embeddings and positions
    "linear": "#c7e5c0",  # green: projections
    "data": "#ffffff",  # white: tensors
    "layer": "#dde3ea",  # grey-blue: a whole layer
}
INK = "#222222"


def _canvas(width: float, xlim: tuple[float, float]):
    """A blank figure ``width`` inches wide in data units of ``xlim``; :func:`_fit` sets the height."""
    fig, ax = plt.subplots(figsize=(width, width))
    ax.set_xlim(*xlim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _fit(fig, ax, ylim: tuple[float, float]) -> None:
    """Crop to ``ylim`` and make the figure as tall as the drawing (one data unit, one size everywhere)."""
    ax.set_ylim(*ylim)
    x0, x1 = ax.get_xlim()
    width = fig.get_size_inches()[0]
    fig.set_size_inches(width, width * (ylim[1] - ylim[0]) / (x1 - x0) + 0.35)


def _box(ax, x: float, y: float, w: float, h: float, text: str, kind: str, fontsize: float = 9.5, **kw) -> None:
    """A rounded box centred at ``(x, y)``."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=0.12",
            facecolor=COLORS[kind],
            edgecolor=INK,
            linewidth=1.0,
            **kw,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=INK)


def _arrow(ax, start, end, text: str = "", side: str = "right", fontsize: float = 8.5, **kw) -> None:
    """An arrow from ``start`` to ``end``, optionally labelled beside its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11, color=INK, linewidth=1.1, **kw))
    if text:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        dx = 0.12 if side == "right" else -0.12
        ax.text(mx + dx, my, text, ha="left" if side == "right" else "right", va="center", fontsize=fontsize)


def _path(ax, points) -> None:
    """A polyline through ``points``, ending in an arrow head."""
    xs, ys = zip(*points, strict=True)
    ax.plot(xs[:-1], ys[:-1], color=INK, linewidth=1.1, solid_capstyle="round")
    _arrow(ax, points[-2], points[-1])


# ---- the encoder-decoder Transformer ---------------------------------------------------------------


def _sublayers(decoder: bool) -> list[tuple[str, str]]:
    if decoder:
        return [
            ("Masked multi-head\nself-attention", "attention"),
            ("Cross-attention", "attention"),
            ("Feed-forward", "ffn"),
        ]
    return [("Multi-head\nself-attention", "attention"), ("Feed-forward", "ffn")]


def _column(ax, x: float, y: float, decoder: bool, norm_first: bool, width: float = 3.0) -> dict[str, tuple]:
    """One stack (a layer drawn once, "x N"), from ``y`` upwards; returns anchor points."""
    gap = 0.42
    anchors: dict[str, tuple] = {}
    left = x - width / 2 - 0.3
    for name, kind in _sublayers(decoder):
        stream = (x, y)  # the residual stream enters this sublayer here
        parts = (
            [("LayerNorm", "norm"), (name, kind), ("Add", "norm")]
            if norm_first
            else [(name, kind), ("Add & Norm", "norm")]
        )
        for text, k in parts:
            h = 0.42 if k == "norm" else (0.72 if "\n" in text else 0.5)
            cy = y + gap + h / 2
            _box(ax, x, cy, width, h, text, k)
            _arrow(ax, (x, y), (x, cy - h / 2))
            if text == "Cross-attention":
                anchors["cross"] = (x - width / 2, cy)
            y = cy + h / 2
        # the residual connection: around the sublayer, into the Add box (the last one drawn)
        branch = stream[1] + gap * 0.45
        _path(ax, [(stream[0], branch), (left, branch), (left, cy), (x - width / 2, cy)])
    anchors["top"] = (x, y)
    return anchors


def draw_transformer(norm_first: bool = False, num_layers: str = "N") -> plt.Figure:
    """The encoder-decoder Transformer of Vaswani et al. (2017): the encoder (left) and the decoder
    (right), each a stack of ``num_layers`` identical layers, every sublayer inside a residual
    connection with its normalisation: after the addition (``norm_first=False``, post-norm, the paper)
    or before the sublayer (``norm_first=True``, pre-norm, with a final LayerNorm on each stack).
    The encoder's output (``memory``) feeds the keys and values of every decoder layer's cross-attention.
    """
    fig, ax = _canvas(6.5, (-0.1, 10.1))
    enc_x, dec_x, w = 2.2, 7.5, 3.0
    _box(ax, enc_x, 0.0, w, 0.5, "source ids", "data")
    _box(ax, dec_x, 0.0, w, 0.5, "target ids, shifted right", "data")
    for x in (enc_x, dec_x):
        _arrow(ax, (x, 0.25), (x, 0.75))
        _box(ax, x, 1.1, w, 0.7, "embedding × √d_model\n+ positional encoding", "embed", fontsize=9)
    bottom = 1.45
    enc = _column(ax, enc_x, bottom, decoder=False, norm_first=norm_first)
    dec = _column(ax, dec_x, bottom, decoder=True, norm_first=norm_first)
    for x, anchors in ((enc_x, enc), (dec_x, dec)):
        # the repeated layer, framed and marked "x N"
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2 - 0.45, bottom + 0.12),
                w + 0.65,
                anchors["top"][1] - bottom,
                boxstyle="round,pad=0,rounding_size=0.2",
                facecolor="none",
                edgecolor="#777777",
                linestyle="--",
            )
        )
        ax.text(x + w / 2 + 0.28, bottom + 0.4, f"× {num_layers}", fontsize=10, ha="left", va="center")
    y_enc, y_dec = enc["top"][1], dec["top"][1]
    if norm_first:
        for x, y in ((enc_x, y_enc), (dec_x, y_dec)):
            _arrow(ax, (x, y + 0.12), (x, y + 0.5))
            _box(ax, x, y + 0.71, w, 0.42, "final LayerNorm", "norm")
        y_enc, y_dec = y_enc + 0.92, y_dec + 0.92
    # memory: from the encoder's last layer into every decoder layer's cross-attention
    mem_y = y_enc + 0.75
    _arrow(ax, (enc_x, y_enc + 0.12), (enc_x, mem_y - 0.25))
    _box(ax, enc_x, mem_y, w, 0.5, "memory", "data")
    cx, cy = dec["cross"]
    # the line turns down just outside the decoder's frame, and its label sits above its horizontal
    # part, clear of the frame and of the decoder's residual lines
    turn = dec_x - w / 2 - 0.45 - 0.25
    _path(ax, [(enc_x + w / 2, mem_y), (turn, mem_y), (turn, cy), (cx, cy)])
    ax.text(enc_x + w / 2 + 0.15, mem_y + 0.08, "keys, values", fontsize=9, ha="left", va="bottom")
    _arrow(ax, (dec_x, y_dec + 0.12), (dec_x, y_dec + 0.5))
    _box(ax, dec_x, y_dec + 0.75, w, 0.5, "Linear (lm_head)", "linear")
    _arrow(ax, (dec_x, y_dec + 1.0), (dec_x, y_dec + 1.4))
    _box(ax, dec_x, y_dec + 1.65, w, 0.5, "next-token logits", "data")
    top = y_dec + 2.0
    ax.text(enc_x, top + 0.1, "Encoder", fontsize=11, ha="center", va="bottom", weight="bold")
    ax.text(dec_x, top + 0.1, "Decoder", fontsize=11, ha="center", va="bottom", weight="bold")
    style = "pre-norm: a LayerNorm before each sublayer" if norm_first else "post-norm (the paper): Add & Norm after"
    ax.set_title(f"The Transformer, {style}", fontsize=11)
    _fit(fig, ax, (-0.4, top + 0.6))
    return fig


# ---- multi-head attention ---------------------------------------------------------------------------


def draw_multihead(seq: str | int = "seq", d_model: int = 512, num_heads: int = 8) -> plt.Figure:
    """Multi-head attention as tensor shapes: project, split into ``num_heads`` heads of width
    ``d_k = d_model / num_heads``, attend in every head independently, concatenate, project.
    The batch dimension is left out of the labels."""
    if d_model % num_heads:
        raise ValueError(f"d_model must be divisible by num_heads, got {d_model} and {num_heads}")
    d_k = d_model // num_heads
    fig, ax = _canvas(6.5, (-0.2, 10.2))
    _box(ax, 5.0, 0.0, 3.4, 0.6, f"x  ({seq}, {d_model})", "data")
    xs = (1.7, 5.0, 8.3)
    for x, name in zip(xs, "QKV", strict=True):
        _arrow(ax, (5.0 + (x - 5.0) * 0.3, 0.3), (x, 1.0))
        _box(ax, x, 1.35, 2.2, 0.7, f"Linear W_{name}", "linear")
        _arrow(ax, (x, 1.7), (x, 2.45), f"({seq}, {d_model})", side="right" if x > 2 else "left")
    # the split: one thin box per head, drawn as a stack of cards
    shown = min(num_heads, 4)
    for x, name in zip(xs, "QKV", strict=True):
        for i in reversed(range(shown)):
            _box(ax, x + 0.09 * i, 2.85 + 0.09 * i, 2.2, 0.6, "" if i else f"{name}: {num_heads} heads", "data")
    stack_top = 2.85 + 0.09 * (shown - 1) + 0.3
    for x in xs:
        _arrow(ax, (x + 0.05 * shown, stack_top), (5.0 + (x - 5.0) * 0.35, 4.05))
    ax.text(8.6, 3.8, f"each split:\n({num_heads}, {seq}, {d_k})", fontsize=8.5, ha="left", va="center")
    for i in reversed(range(shown)):
        _box(
            ax,
            5.0 + 0.09 * i,
            4.55 + 0.09 * i,
            4.6,
            0.85,
            "" if i else "scaled dot-product attention\nin every head: softmax(QKᵀ/√d_k) V",
            "attention",
            fontsize=9,
        )
    # beside the stack of cards it counts
    edge = 5.0 + 2.3 + 0.09 * (shown - 1)
    ax.text(edge + 0.15, 4.55, f"× {num_heads} heads,\nin parallel", fontsize=8.5, ha="left", va="center")
    _arrow(ax, (5.0, 5.0), (5.0, 5.75), f"({num_heads}, {seq}, {d_k})")
    _box(ax, 5.0, 6.05, 4.6, 0.6, f"concatenate heads: ({seq}, {num_heads}·{d_k} = {d_model})", "data", fontsize=9)
    _arrow(ax, (5.0, 6.35), (5.0, 6.85))
    _box(ax, 5.0, 7.2, 2.6, 0.7, "Linear W_O", "linear")
    _arrow(ax, (5.0, 7.55), (5.0, 8.1), f"output ({seq}, {d_model})")
    ax.set_title(f"Multi-head attention: d_model = {d_model}, {num_heads} heads of d_k = {d_k}", fontsize=11)
    _fit(fig, ax, (-0.5, 8.3))
    return fig


# ---- cross-attention ---------------------------------------------------------------------------------


def draw_cross_attention(num_layers: int = 3) -> plt.Figure:
    """Where cross-attention's inputs come from: the queries from the decoder (the output of the
    sublayer below, one per target position), the keys and values from the encoder's last layer
    (``memory``, one per source position), the same memory for every decoder layer."""
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    fig, ax = _canvas(6.5, (-0.3, 10.3))
    enc_x, dec_x, w = 1.9, 7.6, 3.0
    dw = 3.4  # the decoder boxes hold longer labels
    _box(ax, dec_x, 0.0, w, 0.5, "target (batch, seq_t)", "data", fontsize=9)
    y, crosses = 0.25, []
    for i in range(num_layers):
        _arrow(ax, (dec_x, y), (dec_x, y + 0.3))
        _box(ax, dec_x, y + 0.55, dw, 0.5, f"layer {i + 1}: masked self-attention", "attention", fontsize=8.5)
        _arrow(ax, (dec_x, y + 0.8), (dec_x, y + 1.15), "Q", fontsize=9)
        crosses.append(y + 1.4)
        _box(ax, dec_x, y + 1.4, dw, 0.5, f"layer {i + 1}: cross-attention", "attention", fontsize=8.5)
        y += 1.65
    _arrow(ax, (dec_x, y), (dec_x, y + 0.45), "(batch, seq_t, d)")
    top = y + 0.45
    # the encoder, as tall as the decoder: its last layer's output is the memory
    mem_y = top - 0.25
    _box(ax, enc_x, 0.0, w, 0.5, "source (batch, seq_s)", "data", fontsize=9)
    step = (mem_y - 0.25) / (num_layers + 1)
    prev = 0.25
    for i in range(num_layers):
        cy = step * (i + 1)
        _arrow(ax, (enc_x, prev), (enc_x, cy - 0.25))
        _box(ax, enc_x, cy, w, 0.5, f"encoder layer {i + 1}", "layer", fontsize=9)
        prev = cy + 0.25
    _arrow(ax, (enc_x, prev), (enc_x, mem_y - 0.25))
    _box(ax, enc_x, mem_y, w, 0.5, "memory (batch, seq_s, d)", "data", fontsize=9)
    # one bus from the memory to every cross-attention: the same keys and values for every layer
    bus = 4.9
    ax.plot([enc_x + w / 2, bus, bus], [mem_y, mem_y, crosses[0]], color=INK, linewidth=1.1)
    for cy in crosses:
        _arrow(ax, (bus, cy), (dec_x - dw / 2, cy))
        ax.text(bus + 0.15, cy + 0.08, "K, V", fontsize=9, ha="left", va="bottom")
    ax.set_title("Cross-attention: queries from the decoder, keys and values from the encoder", fontsize=11)
    ax.text(
        5.0,
        -0.55,
        "Q: one row per target position; K, V: one row per source position.\n"
        "(Feed-forward sublayers, residual connections and norms left out.)",
        fontsize=8.5,
        ha="center",
        va="top",
        color="#444444",
    )
    _fit(fig, ax, (-1.35, top + 0.25))
    return fig


# ---- the KV cache ------------------------------------------------------------------------------------


def draw_kv_cache(steps: int = 6, prompt: int = 2) -> plt.Figure:
    """Generation one token at a time, without and with a KV cache. Rows are steps, columns
    positions: at each step, which positions' keys and values are computed (orange), read from the
    cache (grey) or do not exist yet (white). Without the cache step ``t`` recomputes all its
    positions; with it only the newest, and the cache grows by one position per step."""
    if steps < 1 or prompt < 1:
        raise ValueError(f"steps and prompt must be >= 1, got {steps} and {prompt}")
    width = prompt + steps - 1  # the last step's newest token is the last position
    grids = {}
    for cached in (False, True):
        grid = np.zeros((steps, width))  # 0: not yet, 1: read from the cache, 2: computed now
        for t in range(steps):
            known = prompt + t  # positions that exist at step t (the last one is the newest token)
            if not cached:
                grid[t, :known] = 2
            elif t == 0:
                grid[t, :known] = 2  # the prompt is processed once, whole
            else:
                grid[t, : known - 1], grid[t, known - 1] = 1, 2
        grids[cached] = grid
    cmap = ListedColormap(["#ffffff", "#c9c9c9", "#e69f00"])
    fig, axes = plt.subplots(1, 2, figsize=(6.5, 0.6 + 0.42 * steps), sharey=True, layout="constrained")
    for ax, cached in zip(axes, (False, True), strict=True):
        grid = grids[cached]
        ax.imshow(grid, cmap=cmap, vmin=0, vmax=2)
        ax.set_xticks(np.arange(width + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(steps + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="#888888", linewidth=0.6)
        ax.tick_params(which="minor", length=0)
        ax.set_xticks(range(width))
        ax.set_yticks(range(steps), [str(t + 1) for t in range(steps)])
        ax.set_xlabel("position")
        computed = int((grid == 2).sum())
        ax.set_title(f"{'with' if cached else 'without'} cache: {computed} positions computed", fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(True)
    axes[0].set_ylabel("generation step")
    fig.legend(
        handles=[
            Patch(facecolor="#e69f00", edgecolor="#888888", label="keys and values computed"),
            Patch(facecolor="#c9c9c9", edgecolor="#888888", label="read from the cache"),
        ],
        loc="lower center",
        ncol=2,
        bbox_to_anchor=(0.5, -0.02),
        frameon=False,
    )
    fig.get_layout_engine().set(rect=(0, 0.08, 1, 0.9))
    return fig
