r"""Rotary position embeddings (RoPE; Su et al., 2021), the positions of Llama-style decoders.

Instead of adding a position vector to the token embedding, RoPE rotates each query and key by an
angle proportional to its position, inside attention. Dimension ``i`` of a head is paired with
dimension ``i + head_dim / 2`` (the "half-split" layout of GPT-NeoX and Hugging Face's Llama; Meta's
original code pairs neighbours ``2i, 2i + 1``, which is the same up to a permutation of the weights),
and the pair at position ``pos`` is rotated by the angle ``pos * theta_i`` with
``theta_i = base ** (-2i / head_dim)``:

    (x_i, x_{i+d/2})  ->  (x_i cos - x_{i+d/2} sin,  x_{i+d/2} cos + x_i sin)

A rotation by ``m theta`` of the query and ``n theta`` of the key leaves their dot product a function
of ``n - m`` alone: attention scores see relative positions, and nothing is added to the residual
stream.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validate import check_floating, check_last_dim, check_positions, check_rank


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(x_a, x_b) -> (-x_b, x_a)`` on the two halves of the last dimension: a quarter turn of every
    pair ``(x_i, x_{i + d/2})``."""
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


class RotaryEmbedding(nn.Module):
    """The rotations for positions ``0 .. max_len - 1`` of heads of width ``head_dim`` (even).

    Buffers ``cos`` and ``sin``: ``(max_len, head_dim)``, each angle written twice (for both members of
    a pair). One instance can serve every layer; the buffers are not saved in checkpoints (they follow
    from the sizes).
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0):
        super().__init__()
        if head_dim < 2 or head_dim % 2 or max_len < 1:
            raise ValueError(f"head_dim must be even and >= 2 and max_len >= 1, got {head_dim} and {max_len}")
        self.head_dim, self.max_len, self.base = head_dim, max_len, base
        # (head_dim / 2,): theta_i = base^(-2i / head_dim)
        theta = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        # (max_len, head_dim / 2): computed in float64, so the float32 tables do not depend on the CPU's
        # float32 sin and cos
        angles = torch.arange(max_len, dtype=torch.float64)[:, None] * theta
        self.register_buffer("cos", angles.cos().repeat(1, 2).float(), persistent=False)
        self.register_buffer("sin", angles.sin().repeat(1, 2).float(), persistent=False)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Rotate ``x`` ``(batch, heads, seq, head_dim)`` as positions ``start .. start + seq - 1``.

        ``start`` > 0 is for generation with a cache: the new queries and keys sit after the cached ones.
        """
        check_rank("x", x, 4, "(batch, heads, seq, head_dim)")
        check_floating("x", x)
        check_last_dim("x", x, self.head_dim, f"(batch, heads, seq, head_dim={self.head_dim})")
        check_positions("x", x.shape[2], start, self.max_len)
        return self.rotate(x, start)

    def rotate(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """:meth:`forward` without its checks, for :class:`~transformer_lib.nn.multihead.MultiHeadAttention`,
        which checks its inputs and their positions once, at its door."""
        seq = x.shape[2]
        # (seq, head_dim), broadcast over batch and heads
        cos = self.cos[start : start + seq].to(x.dtype)
        sin = self.sin[start : start + seq].to(x.dtype)
        return x * cos + rotate_half(x) * sin
