r"""Scaled dot-product attention, :math:`\mathrm{softmax}(QK^\top/\sqrt{d_k})V`.

Two functions compute the same thing:

* :func:`scaled_dot_product_attention` builds the weight matrix in the open and returns it, for
  teaching and plotting;
* :func:`fast_attention` calls ``torch.nn.functional.scaled_dot_product_attention``, whose fused
  kernels never store the ``(seq_q, seq_k)`` weight matrix; use it when the weights are not needed.

Both check their inputs. :func:`attention_with_weights` and :func:`fused_attention` are their kernels
without the checks, for :class:`~transformer_lib.MultiHeadAttention`, which checks its own inputs once
at the door.

**Mask convention**: boolean, ``True`` = this query may attend to this key. The mask broadcasts to
``(..., seq_q, seq_k)``.

**Fully masked rows**: a query whose keys are all blocked attends to nothing. Its weights are all
zero and its output row is zero, never NaN (the same as torch's fused kernel).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._validate import (
    check_bool_mask,
    check_broadcastable,
    check_floating,
    check_last_dim,
    check_rank,
    shape_str,
)


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> None:
    check_rank("q", q, (2, 3, 4), "(..., seq_q, d_k)")
    check_rank("k", k, q.dim(), "(..., seq_k, d_k) with as many dimensions as q")
    check_rank("v", v, q.dim(), "(..., seq_k, d_v) with as many dimensions as q")
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_floating(name, t)
    if not q.dtype == k.dtype == v.dtype:
        raise ValueError(
            f"q, k and v must have the same dtype, got q {q.dtype}, k {k.dtype} and v {v.dtype}; "
            "convert them with .to(q.dtype)"
        )
    check_last_dim("k", k, q.shape[-1], "(..., seq_k, d_k) with d_k equal to q's")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of keys (dimension -2), got k {shape_str(k)} and v {shape_str(v)}"
        )
    if q.shape[:-2] != k.shape[:-2] or q.shape[:-2] != v.shape[:-2]:
        raise ValueError(
            f"q, k and v must share their leading (batch, heads) dimensions, got q {shape_str(q)}, "
            f"k {shape_str(k)}, v {shape_str(v)}"
        )
    if mask is not None:
        check_bool_mask("mask", mask)
        target = (*q.shape[:-1], k.shape[-2])
        check_broadcastable("mask", mask, target, "(..., seq_q, seq_k)")


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention with its weights, computed step by step.

    Args:
        q: ``(..., seq_q, d_k)`` queries, e.g. ``(batch, heads, seq_q, d_k)``.
        k: ``(..., seq_k, d_k)`` keys.
        v: ``(..., seq_k, d_v)`` values.
        mask: optional boolean mask broadcastable to ``(..., seq_q, seq_k)``; ``True`` = may attend.
        dropout_p: dropout probability applied to the weights (pass 0.0 in evaluation).

    Returns:
        ``(output, weights)``: ``(..., seq_q, d_v)`` and ``(..., seq_q, seq_k)``. Each row of the
        weights sums to 1, except a fully masked row, which is all zero (and so is its output).
    """
    _check_qkv(q, k, v, mask)
    return attention_with_weights(q, k, v, mask, dropout_p)


def fast_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
) -> torch.Tensor:
    """The same attention through torch's fused kernel; returns only the output.

    Args:
        q, k, v, mask, dropout_p: as in :func:`scaled_dot_product_attention`.
        is_causal: apply the subsequent (causal) mask without building it; then ``mask`` must be
            ``None``.

    Returns:
        ``(..., seq_q, d_v)``. A fully masked row is zero.
    """
    _check_qkv(q, k, v, mask)
    if is_causal and mask is not None:
        raise ValueError("pass either mask or is_causal=True, not both; combine the masks instead")
    return fused_attention(q, k, v, mask, dropout_p, is_causal=is_causal)


def fused_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, dropout_p: float, *, is_causal: bool
) -> torch.Tensor:
    """The kernel of :func:`fast_attention`, without its input checks (see :func:`attention_with_weights`)."""
    if mask is not None and mask.dim() < 2:  # torch's kernel wants (seq_q, seq_k) at least; a (seq_k,) mask broadcasts
        mask = mask.reshape((1,) * (2 - mask.dim()) + tuple(mask.shape))
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal)


def attention_with_weights(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, dropout_p: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel of :func:`scaled_dot_product_attention`, without its input checks.

    For callers that have checked their inputs already (:class:`~transformer_lib.MultiHeadAttention`
    checks its own at the door); a reader's code should call the checked function.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., seq_q, seq_k)
    if mask is not None:
        # A row with no allowed key would be softmax(-inf, ..., -inf) = NaN. Unblock such rows for
        # the softmax (so it stays finite, with finite gradients) and zero them afterwards.
        has_key = mask.any(dim=-1, keepdim=True)
        scores = scores.masked_fill(~(mask | ~has_key), float("-inf"))
        weights = scores.softmax(dim=-1) * has_key
    else:
        weights = scores.softmax(dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights
