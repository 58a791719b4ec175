"""The small layers a Transformer block is made of: residual + normalization, the position-wise
feed-forward network, and the sinusoidal positional encoding; and the modern decoder's RMSNorm and
SwiGLU feed-forward network.

Every ``forward`` checks its inputs when a reader calls it; the library's own blocks pass
``checked=True``, having checked the inputs once at their door (see :mod:`transformer_lib._validate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .._validate import (
    check_floating,
    check_input_ids,
    check_last_dim,
    check_positions,
    check_rank,
    check_same_dtype,
    check_same_shape,
    shape_str,
)


class AddNorm(nn.Module):
    """Residual connection followed by layer normalization: ``LayerNorm(x + Dropout(y))``.

    This is the "Add & Norm" box of the original Transformer (post-norm).

    Args:
        normalized_shape: the trailing shape LayerNorm normalizes over, usually ``d_model``.
        dropout: dropout probability applied to ``y`` before the addition.
    """

    def __init__(self, normalized_shape: int | list[int] | tuple[int, ...], dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.ln = nn.LayerNorm(normalized_shape)

    def forward(self, x: torch.Tensor, y: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        """``x``: the sublayer's input, ``y``: its output; both of the same shape ``(..., *normalized_shape)``.

        ``checked=True``: the caller has checked ``x`` and ``y`` (the library's blocks do).
        """
        if not checked:
            check_same_shape("x", x, "y", y)
            check_same_dtype("x", x, "the LayerNorm's weights", self.ln.weight)
            shape = tuple(self.ln.normalized_shape)
            if tuple(x.shape[x.dim() - len(shape) :]) != shape:
                raise ValueError(f"x must end with the normalized shape {shape}, got {shape_str(x)}")
        return self.ln(x + self.dropout(y))


class ResidualSublayer(nn.Module):
    """A sublayer wrapped in a residual connection, post-norm or pre-norm.

    * post-norm (the 2017 paper): ``LayerNorm(x + Dropout(f(x)))``, an :class:`AddNorm` after ``f``;
    * pre-norm (GPT-2 and most later models): ``x + Dropout(f(LayerNorm(x)))``, which leaves the
      residual path free of normalization so gradients reach early layers unchanged.

    Args:
        d_model: the width of ``x`` and of the sublayer's output.
        dropout: dropout on the sublayer's output, before the addition.
        norm_first: pre-norm (``True``) or post-norm (``False``).
    """

    def __init__(self, d_model: int, dropout: float = 0.0, *, norm_first: bool = False):
        super().__init__()
        self.norm_first = norm_first
        self.add_norm = AddNorm(d_model, dropout)

    @property
    def ln(self) -> nn.LayerNorm:
        """The sublayer's LayerNorm (before ``f`` in pre-norm, after the addition in post-norm)."""
        return self.add_norm.ln

    def check_input(self, x: torch.Tensor) -> None:
        """The checks of ``x`` before the sublayer runs: its width (and, pre-norm, its dtype, which the
        LayerNorm sees first)."""
        d_model = self.ln.normalized_shape[0]
        check_last_dim("x", x, d_model, f"(batch, seq, d_model={d_model})")
        if self.norm_first:
            check_same_dtype("x", x, "the LayerNorm's weights", self.ln.weight)

    def forward(
        self, x: torch.Tensor, sublayer: Callable[[torch.Tensor], torch.Tensor], *, checked: bool = False
    ) -> torch.Tensor:
        """Apply ``sublayer`` to ``x`` (``(batch, seq, d_model)``) with the residual and the norm.

        ``checked=True``: the caller has checked ``x`` and trusts ``sublayer`` to keep its shape (the
        library's blocks do); otherwise ``x`` and the sublayer's output are checked.
        """
        if not checked:
            self.check_input(x)
        if not self.norm_first:
            return self.add_norm(x, sublayer(x), checked=checked)
        y = sublayer(self.ln(x))
        if not checked:
            check_same_shape("x", x, "the sublayer's output", y)
        return x + self.add_norm.dropout(y)


class FeedForward(nn.Module):
    """Position-wise feed-forward network: ``Linear(d_model, d_ff) -> activation -> Linear(d_ff, d_model)``.

    The same two-layer MLP is applied to every position independently.

    Args:
        d_model: input and output width.
        d_ff: hidden width (2048 for ``d_model = 512`` in the paper).
        dropout: dropout after the activation.
        activation: ``"relu"`` (the paper) or ``"gelu"`` (BERT, GPT).
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        activations = {"relu": nn.ReLU, "gelu": nn.GELU}
        if activation not in activations:
            raise ValueError(f"activation must be one of {sorted(activations)}, got {activation!r}")
        self.d_model, self.activation_name = d_model, activation
        self.linear1 = nn.Linear(d_model, d_ff)
        self.activation = activations[activation]()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        """``(..., d_model)`` -> ``(..., d_model)``; ``checked=True``: the caller has checked ``x``."""
        if not checked:
            check_last_dim("x", x, self.d_model, f"(..., d_model={self.d_model})")
            check_same_dtype("x", x, "the module's weights", self.linear1.weight)
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class RMSNorm(nn.Module):
    r"""Root-mean-square normalization (Zhang and Sennrich, 2019), the norm of Llama-style decoders.

    ``RMSNorm(x) = x / sqrt(mean(x^2) + eps) * weight`` over the last dimension: LayerNorm without
    subtracting the mean and without the bias. The same as ``torch.nn.RMSNorm(d_model, eps)``.

    ``(..., d_model)`` -> same shape.
    """

    def __init__(self, d_model: int, eps: float = 1e-6):
        super().__init__()
        self.d_model, self.eps = d_model, eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def check_input(self, x: torch.Tensor) -> None:
        """The checks of :meth:`forward`: ``x`` floating-point, ``(..., d_model)``, of the weight's dtype."""
        check_floating("x", x)
        check_last_dim("x", x, self.d_model, f"(..., d_model={self.d_model})")
        check_same_dtype("x", x, "the module's weights", self.weight)

    def forward(self, x: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        """``(..., d_model)`` -> same shape; ``checked=True``: the caller has checked ``x``."""
        if not checked:
            self.check_input(x)
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


class SwiGLU(nn.Module):
    """The gated feed-forward network of Llama-style decoders (Shazeer, 2020).

    ``w_down(silu(w_gate(x)) * w_up(x))``: a SiLU-activated gate multiplies a second linear map of the
    input, element by element. Three ``d_model x d_ff`` matrices and no biases, so ``d_ff`` about 2/3
    of a :class:`FeedForward`'s has the same number of parameters.

    ``(..., d_model)`` -> same shape.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.d_model = d_model
        self.w_gate = nn.Linear(d_model, d_ff, bias=False)
        self.w_up = nn.Linear(d_model, d_ff, bias=False)
        self.w_down = nn.Linear(d_ff, d_model, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, *, checked: bool = False) -> torch.Tensor:
        """``(..., d_model)`` -> same shape; ``checked=True``: the caller has checked ``x``."""
        if not checked:
            check_last_dim("x", x, self.d_model, f"(..., d_model={self.d_model})")
            check_same_dtype("x", x, "the module's weights", self.w_gate.weight)
        return self.w_down(self.dropout(nn.functional.silu(self.w_gate(x)) * self.w_up(x)))


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    r"""The sinusoidal positional encoding of Vaswani et al. (2017).

    ``PE[pos, 2i] = sin(pos / 10000^(2i/d_model))`` and ``PE[pos, 2i+1] = cos(...)`` of the same angle.

    Returns:
        ``(max_len, d_model)`` float32 tensor.
    """
    if max_len < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"max_len must be >= 1 and d_model even and >= 2, got max_len={max_len}, d_model={d_model}")
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * inv_freq)
    pe[:, 1::2] = torch.cos(position * inv_freq)
    return pe


class PositionalEncoding(nn.Module):
    """Add the sinusoidal positional encoding to a ``(batch, seq, d_model)`` input, then dropout."""

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """``(batch, seq, d_model)`` -> same shape, with position ``start + t``'s encoding added to ``x[:, t]``.

        ``start`` > 0 is for generation with a cache, where ``x`` holds only the newest positions.
        """
        check_rank("x", x, 3, "(batch, seq, d_model)")
        check_floating("x", x)
        max_len, d_model = self.pe.shape
        check_last_dim("x", x, d_model, f"(batch, seq, d_model={d_model})")
        check_positions("x", x.shape[1], start, max_len)
        return self.add(x, start)

    def add(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """:meth:`forward` without its checks, for :class:`Embeddings`, which checks its ids itself."""
        return self.dropout(x + self.pe[start : start + x.shape[1]])


class Embeddings(nn.Module):
    """Token embedding scaled by ``sqrt(d_model)`` plus the sinusoidal positional encoding.

    ``(batch, seq)`` integer ids -> ``(batch, seq, d_model)``.

    The paper shares the embedding weights with the output projection, whose entries are of size
    ``1/sqrt(d_model)``; times ``sqrt(d_model)`` the token vectors then have entries of size 1, like
    the encoding's (in [-1, 1]). The token weights are initialised that way here. ``nn.Embedding``'s
    default, N(0, 1), would make them ``sqrt(d_model)`` times larger and drown the positions.
    """

    def __init__(self, vocab_size: int, d_model: int, max_len: int = 512, dropout: float = 0.0):
        super().__init__()
        self.d_model = d_model
        self.token = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.token.weight, std=d_model**-0.5)
        self.position = PositionalEncoding(d_model, max_len, dropout)

    def check_ids(self, ids: torch.Tensor, start: int = 0, *, name: str = "ids") -> None:
        """The checks of :meth:`forward`: ``(batch, seq)`` integer ids, positions ``start .. start + seq - 1``
        within ``max_len``, every id in the vocabulary."""
        check_input_ids(name, ids, self.token.num_embeddings, start, self.position.pe.shape[0])

    def forward(self, ids: torch.Tensor, start: int = 0, *, name: str = "ids", checked: bool = False) -> torch.Tensor:
        """``(batch, seq)`` ids at positions ``start, start + 1, ...`` -> ``(batch, seq, d_model)``.

        ``name`` is the argument's name in error messages (a model passes ``"src"`` or ``"tgt_in"``).
        The ids are checked (:func:`~transformer_lib._validate.check_input_ids`: their values too, in
        eager mode) unless ``checked=True``: a model checks its ids at its door, and generation checks
        the prompt once and never the ids the model wrote.
        """
        if not checked:
            self.check_ids(ids, start, name=name)
        return self.position.add(self.token(ids) * math.sqrt(self.d_model), start)
