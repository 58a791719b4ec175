r"""FlashAttention in PyTorch: exact attention in tiles, without the ``(seq_q, seq_k)`` weight matrix.

:func:`flash_attention` computes :math:`\mathrm{softmax}(QK^\top/\sqrt{d_k})V`, the same output as
:func:`~transformer_lib.nn.attention.scaled_dot_product_attention`, a tile of queries against a tile of
keys at a time (Dao et al., 2022). Each query row keeps a running maximum ``m`` and a running sum ``l``
of its exponentials (the online softmax, Milakov and Gimelshein, 2018): when a new tile raises the
maximum, what was accumulated so far is rescaled by ``exp(m_old - m_new)``. The forward keeps, per
query row, the output and the log-sum-exp ``lse = m + log l``; the backward recomputes every tile's
weights from ``lse`` instead of storing them (FlashAttention-2's backward, Dao 2023). So the memory a
call keeps for training grows like ``seq * d``, not ``seq_q * seq_k``.

With ``is_causal=True``, a tile whose keys all come after its queries is skipped: it would be
entirely masked. :func:`causal_tile_skipped` is that test and :func:`tile_counts` counts the tiles.

**Mask convention**: boolean, ``True`` = this query may attend to this key, broadcastable to
``(..., seq_q, seq_k)``. **Fully masked rows**: a query with no allowed key gets a zero output row, a
log-sum-exp of ``-inf`` and zero gradients (as the library's other attention functions).

The tiles are a loop in Python, for reading: on a CPU this is slower than torch's fused kernel. The
same algorithm as one GPU kernel is :mod:`transformer_lib.nn.flash_triton`.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable

import torch

from .attention import _check_qkv


def causal_tile_skipped(q_start: int, q_stop: int, k_start: int) -> bool:
    """Whether the causal mask blocks a whole tile: queries ``q_start .. q_stop - 1`` against keys from
    ``k_start`` on. Query ``i`` sees keys ``j <= i``, so the tile is skipped when its first key comes
    after its last query."""
    return k_start > q_stop - 1


def tile_counts(seq_q: int, seq_k: int, block_q: int, block_k: int, is_causal: bool) -> tuple[int, int]:
    """``(computed, skipped)``: how many ``block_q x block_k`` tiles of the ``(seq_q, seq_k)`` score matrix
    :func:`flash_attention` computes and how many the causal mask lets it skip."""
    computed = skipped = 0
    for q_start in range(0, seq_q, block_q):
        q_stop = min(q_start + block_q, seq_q)
        for k_start in range(0, seq_k, block_k):
            if is_causal and causal_tile_skipped(q_start, q_stop, k_start):
                skipped += 1
            else:
                computed += 1
    return computed, skipped


def _tile_mask(
    mask: torch.Tensor | None, is_causal: bool, q_start: int, q_stop: int, k_start: int, k_stop: int
) -> torch.Tensor | None:
    """The boolean ``(..., q_tile, k_tile)`` mask of one tile (True = may attend), or None if all may."""
    allowed = None if mask is None else mask[..., q_start:q_stop, k_start:k_stop]
    if is_causal and k_stop - 1 > q_start:  # the tile crosses the diagonal: some keys follow a query
        rows = torch.arange(q_start, q_stop, device=mask.device if mask is not None else None)
        cols = torch.arange(k_start, k_stop, device=rows.device)
        causal = cols[None, :] <= rows[:, None]
        allowed = causal if allowed is None else allowed & causal
    return allowed


def _scores(qi: torch.Tensor, kj: torch.Tensor, scale: float, allowed: torch.Tensor | None) -> torch.Tensor:
    s = (qi @ kj.transpose(-2, -1)) * scale  # (..., q_tile, k_tile)
    return s if allowed is None else s.masked_fill(~allowed.to(s.device), float("-inf"))


def tiled_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    is_causal: bool,
    scale: float,
    block_q: int,
    block_k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward, unchecked: ``(output, lse)``, ``(..., seq_q, d_v)`` and ``(..., seq_q)``.

    Computes in float32 at least (float64 stays float64); the output is cast back to ``q``'s dtype and
    the log-sum-exp stays in the computing dtype. ``mask`` must already be expanded to
    ``(..., seq_q, seq_k)`` (a view: no memory).
    """
    dtype, work = q.dtype, torch.promote_types(q.dtype, torch.float32)
    q, k, v = q.to(work), k.to(work), v.to(work)
    seq_q, seq_k = q.shape[-2], k.shape[-2]
    out = q.new_empty((*q.shape[:-1], v.shape[-1]))
    lse = q.new_empty(q.shape[:-1])
    for q_start in range(0, seq_q, block_q):
        q_stop = min(q_start + block_q, seq_q)
        qi = q[..., q_start:q_stop, :]
        m = qi.new_full(qi.shape[:-1], float("-inf"))  # running maximum of each row's scores
        row_sum = qi.new_zeros(qi.shape[:-1])  # running sum of exp(score - m)
        acc = qi.new_zeros((*qi.shape[:-1], v.shape[-1]))  # running sum of exp(score - m) * value
        for k_start in range(0, seq_k, block_k):
            if is_causal and causal_tile_skipped(q_start, q_stop, k_start):
                break  # this tile and every later one lie above the diagonal
            k_stop = min(k_start + block_k, seq_k)
            allowed = _tile_mask(mask, is_causal, q_start, q_stop, k_start, k_stop)
            s = _scores(qi, k[..., k_start:k_stop, :], scale, allowed)
            m_new = torch.maximum(m, s.amax(dim=-1))
            # a row with no allowed key so far has m_new = -inf; shifting it by 0 keeps exp(-inf) = 0
            # instead of exp(-inf - -inf) = NaN
            shift = torch.where(torch.isinf(m_new), torch.zeros_like(m_new), m_new)
            p = torch.exp(s - shift[..., None])
            alpha = torch.exp(m - shift)  # rescales what was accumulated under the old maximum
            row_sum = alpha * row_sum + p.sum(dim=-1)
            acc = alpha[..., None] * acc + p @ v[..., k_start:k_stop, :]
            m = m_new
        seen = row_sum > 0  # False for a fully masked row: its output is zero, its lse -inf
        out[..., q_start:q_stop, :] = torch.where(seen[..., None], acc / torch.where(seen, row_sum, 1)[..., None], 0)
        lse[..., q_start:q_stop] = torch.where(seen, m + torch.log(torch.where(seen, row_sum, 1)), float("-inf"))
    return out.to(dtype), lse


def tiled_backward(
    grad_out: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    mask: torch.Tensor | None,
    is_causal: bool,
    scale: float,
    block_q: int,
    block_k: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gradients of :func:`tiled_forward`'s output for ``q``, ``k`` and ``v``, recomputing each tile's
    weights ``P = exp(S - lse)`` from the stored log-sum-exp. With ``D = rowsum(dO * O)`` the softmax's
    backward is ``dS = P * (dO V^T - D)``; then ``dQ = dS K * scale``, ``dK = dS^T Q * scale``,
    ``dV = P^T dO``, each summed tile by tile."""
    dtype = q.dtype
    work = lse.dtype
    q, k, v, out, grad_out = (t.to(work) for t in (q, k, v, out, grad_out))
    seq_q, seq_k = q.shape[-2], k.shape[-2]
    dq, dk, dv = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
    d = (grad_out * out).sum(dim=-1)  # (..., seq_q)
    # a fully masked row has lse = -inf and no weights: +inf makes exp(-inf - +inf) = 0 there
    lse = torch.where(torch.isinf(lse), torch.full_like(lse, float("inf")), lse)
    for k_start in range(0, seq_k, block_k):
        k_stop = min(k_start + block_k, seq_k)
        kj, vj = k[..., k_start:k_stop, :], v[..., k_start:k_stop, :]
        for q_start in range(0, seq_q, block_q):
            q_stop = min(q_start + block_q, seq_q)
            if is_causal and causal_tile_skipped(q_start, q_stop, k_start):
                continue  # no gradient flows through a tile the forward skipped
            qi, doi = q[..., q_start:q_stop, :], grad_out[..., q_start:q_stop, :]
            allowed = _tile_mask(mask, is_causal, q_start, q_stop, k_start, k_stop)
            p = torch.exp(_scores(qi, kj, scale, allowed) - lse[..., q_start:q_stop, None])
            dv[..., k_start:k_stop, :] += p.transpose(-2, -1) @ doi
            ds = p * (doi @ vj.transpose(-2, -1) - d[..., q_start:q_stop, None])
            dq[..., q_start:q_stop, :] += (ds @ kj) * scale
            dk[..., k_start:k_stop, :] += (ds.transpose(-2, -1) @ qi) * scale
    return dq.to(dtype), dk.to(dtype), dv.to(dtype)


class FlashAttentionFunction(torch.autograd.Function):
    """Autograd for the tiles: the forward saves ``q, k, v``, the output and the log-sum-exp (all
    ``O(seq * d)``), never the weights; the backward recomputes them tile by tile.

    ``forward_impl`` computes ``(output, lse)`` from ``(q, k, v, mask, is_causal, scale, block_q,
    block_k)``: :func:`tiled_forward`, or the Triton kernel of :mod:`transformer_lib.nn.flash_triton`.
    """

    @staticmethod
    def forward(ctx, q, k, v, mask, is_causal, scale, block_q, block_k, forward_impl):
        out, lse = forward_impl(q, k, v, mask, is_causal, scale, block_q, block_k)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.mask, ctx.settings = mask, (is_causal, scale, block_q, block_k)
        ctx.mark_non_differentiable(lse)
        return out, lse

    @staticmethod
    def backward(ctx, grad_out, grad_lse):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = tiled_backward(grad_out, q, k, v, out, lse, ctx.mask, *ctx.settings)
        return dq, dk, dv, None, None, None, None, None, None


def check_flash_inputs(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    is_causal: bool,
    block_q: int,
    block_k: int,
) -> None:
    """The door of :func:`flash_attention` (and of the Triton kernel's entry point)."""
    _check_qkv(q, k, v, mask)
    if is_causal and mask is not None:
        raise ValueError("pass either mask or is_causal=True, not both; combine the masks instead")
    for name, size in (("block_q", block_q), ("block_k", block_k)):
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"{name} must be a positive int (the tile's rows), got {size!r}")


def expand_mask(mask: torch.Tensor | None, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor | None:
    """``mask`` broadcast to ``(..., seq_q, seq_k)`` as a view (no copy), so that tiles can slice it."""
    if mask is None:
        return None
    return mask.expand(*q.shape[:-1], k.shape[-2])


def flash_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
    *,
    scale: float | None = None,
    block_q: int = 64,
    block_k: int = 64,
    return_lse: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Exact attention computed in tiles, with a backward that recomputes the weights.

    Args:
        q: ``(..., seq_q, d_k)`` queries, e.g. ``(batch, heads, seq_q, d_k)``.
        k: ``(..., seq_k, d_k)`` keys.
        v: ``(..., seq_k, d_v)`` values.
        mask: optional boolean mask broadcastable to ``(..., seq_q, seq_k)``; ``True`` = may attend.
        is_causal: query ``i`` sees keys ``j <= i`` (the top-left triangle, as
            ``F.scaled_dot_product_attention``); then ``mask`` must be ``None``.
        scale: the scores' factor, ``1 / sqrt(d_k)`` when ``None``.
        block_q, block_k: the tile's numbers of queries and keys.
        return_lse: also return the log-sum-exp of each query's scores.

    Returns:
        ``(..., seq_q, d_v)`` in ``q``'s dtype (computed in float32 at least), and with ``return_lse``
        the ``(..., seq_q)`` log-sum-exp. A fully masked row's output is zero and its lse ``-inf``.
    """
    check_flash_inputs(q, k, v, mask, is_causal, block_q, block_k)
    out, lse = flash_kernel(q, k, v, mask, is_causal, scale=scale, block_q=block_q, block_k=block_k)
    return (out, lse) if return_lse else out


def flash_kernel(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    is_causal: bool,
    *,
    scale: float | None = None,
    block_q: int = 64,
    block_k: int = 64,
    forward_impl: Callable[..., tuple[torch.Tensor, torch.Tensor]] = tiled_forward,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`flash_attention` without its input checks, returning ``(output, lse)``: for
    :class:`~transformer_lib.MultiHeadAttention`'s ``backend="flash"``, which checks its inputs at the door,
    and for the Triton kernel's entry point (``forward_impl``: see :class:`FlashAttentionFunction`)."""
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    return FlashAttentionFunction.apply(
        q, k, v, expand_mask(mask, q, k), is_causal, scale, block_q, block_k, forward_impl
    )


def triton_available() -> bool:
    """Whether Triton is installed, so that :mod:`transformer_lib.nn.flash_triton` can be imported."""
    return importlib.util.find_spec("triton") is not None
