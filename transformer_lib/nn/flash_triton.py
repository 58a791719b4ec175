r"""The forward of FlashAttention as one Triton kernel (Tillet et al., 2019), and its autograd.

:func:`flash_attention_triton` takes the arguments of :func:`~transformer_lib.nn.flash.flash_attention`
and returns the same output; its gradients come from the same recomputing backward
(:func:`~transformer_lib.nn.flash.tiled_backward`), fed with the log-sum-exp the kernel stores.

The kernel is the algorithm of :mod:`transformer_lib.nn.flash` written for a GPU: one program per
``(tile of BLOCK_M queries, batch, head)``; it loads its queries once, walks over the keys and values
``BLOCK_N`` at a time with the online softmax, and writes its output rows and their log-sum-exp. Under
``is_causal`` its loop stops at the diagonal, so the tiles above it are never loaded.

Where CUDA exists the kernel is compiled for the GPU. On a CPU it runs through Triton's interpreter,
which executes the same kernel with NumPy: set ``TRITON_INTERPRET=1`` before anything imports Triton
(:func:`interpreted` says whether it was). The interpreter is slow; keep shapes small.

This module imports Triton: import it only where Triton is installed (the rest of the library does not
need it; :data:`transformer_lib.nn.flash_triton_available` says whether it is).

**Mask convention**: boolean, ``True`` = may attend, broadcastable to ``(..., seq_q, seq_k)``; a fully
masked row gives a zero output and a log-sum-exp of ``-inf``.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction

from .flash import check_flash_inputs, flash_kernel


def interpreted() -> bool:
    """Whether Triton's kernels run through its interpreter rather than compiled.

    Triton reads ``TRITON_INTERPRET`` when it is first imported (its own library of ``tl`` functions is
    built then) and when a kernel is defined: both must have seen it. Setting the variable after
    something imported Triton (``torch.utils.flop_counter`` and ``torch.compile`` do) is not enough,
    and this says so.
    """
    return isinstance(tl.zeros, InterpretedFunction) and isinstance(_flash_forward_kernel, InterpretedFunction)


@triton.jit
def _flash_forward_kernel(
    Q, K, V, MASK, OUT, LSE,
    stride_qb, stride_qh, stride_qm, stride_qd,
    stride_kb, stride_kh, stride_kn, stride_kd,
    stride_vb, stride_vh, stride_vn, stride_vd,
    stride_mb, stride_mh, stride_mm, stride_mn,
    stride_ob, stride_oh, stride_om, stride_od,
    stride_lb, stride_lh, stride_lm,
    heads, seq_q, seq_k, d_k, d_v, scale,
    HAS_MASK: tl.constexpr, IS_CAUSAL: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_DK: tl.constexpr, BLOCK_DV: tl.constexpr,
):  # fmt: skip
    start_m = tl.program_id(0) * BLOCK_M
    b, h = tl.program_id(1) // heads, tl.program_id(1) % heads
    rows = start_m + tl.arange(0, BLOCK_M)  # this program's queries
    cols_dk, cols_dv = tl.arange(0, BLOCK_DK), tl.arange(0, BLOCK_DV)  # padded to a power of two
    row_ok = rows < seq_q
    q = tl.load(
        Q + b * stride_qb + h * stride_qh + rows[:, None] * stride_qm + cols_dk[None, :] * stride_qd,
        mask=row_ok[:, None] & (cols_dk[None, :] < d_k),
        other=0.0,
    )
    m = tl.full([BLOCK_M], float("-inf"), tl.float32)  # running maximum of each row's scores
    row_sum = tl.zeros([BLOCK_M], tl.float32)  # running sum of exp(score - m)
    acc = tl.zeros([BLOCK_M, BLOCK_DV], tl.float32)  # running sum of exp(score - m) * value
    # under the causal mask, keys from start_m + BLOCK_M on follow every query of this tile: stop there
    stop = tl.minimum(seq_k, start_m + BLOCK_M) if IS_CAUSAL else seq_k
    for start_n in range(0, stop, BLOCK_N):
        keys = start_n + tl.arange(0, BLOCK_N)
        key_ok = keys < seq_k
        k = tl.load(
            K + b * stride_kb + h * stride_kh + keys[None, :] * stride_kn + cols_dk[:, None] * stride_kd,
            mask=key_ok[None, :] & (cols_dk[:, None] < d_k),
            other=0.0,
        )  # (BLOCK_DK, BLOCK_N): the keys transposed
        # (BLOCK_M, BLOCK_N) in float32; "ieee": float32 tiles are multiplied in float32, not in a GPU's
        # faster TF32 (10 bits of mantissa), so that the output matches torch's to 1e-6
        s = tl.dot(q, k, input_precision="ieee") * scale
        allowed = row_ok[:, None] & key_ok[None, :]
        if IS_CAUSAL:
            allowed = allowed & (keys[None, :] <= rows[:, None])
        if HAS_MASK:
            tile_mask = tl.load(
                MASK + b * stride_mb + h * stride_mh + rows[:, None] * stride_mm + keys[None, :] * stride_mn,
                mask=row_ok[:, None] & key_ok[None, :],
                other=0,
            )
            allowed = allowed & (tile_mask != 0)
        s = tl.where(allowed, s, float("-inf"))
        m_new = tl.maximum(m, tl.max(s, 1))
        # a row with no allowed key so far keeps m = -inf: shift it by 0, so that exp gives 0, not NaN
        shift = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.exp(s - shift[:, None])
        alpha = tl.exp(m - shift)  # rescales what was accumulated under the old maximum
        row_sum = alpha * row_sum + tl.sum(p, 1)
        v = tl.load(
            V + b * stride_vb + h * stride_vh + keys[:, None] * stride_vn + cols_dv[None, :] * stride_vd,
            mask=key_ok[:, None] & (cols_dv[None, :] < d_v),
            other=0.0,
        )
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision="ieee")
        m = m_new
    seen = row_sum > 0  # False for a fully masked row: output 0, lse -inf
    out = tl.where(seen[:, None], acc / tl.where(seen, row_sum, 1.0)[:, None], 0.0)
    lse = tl.where(seen, m + tl.log(tl.where(seen, row_sum, 1.0)), float("-inf"))
    tl.store(
        OUT + b * stride_ob + h * stride_oh + rows[:, None] * stride_om + cols_dv[None, :] * stride_od,
        out.to(OUT.dtype.element_ty),
        mask=row_ok[:, None] & (cols_dv[None, :] < d_v),
    )
    tl.store(LSE + b * stride_lb + h * stride_lh + rows * stride_lm, lse, mask=row_ok)


def _as_4d(t: torch.Tensor) -> torch.Tensor:
    """``(..., seq, d)`` with 0 to 2 leading axes as ``(batch, heads, seq, d)`` (a view)."""
    return t.reshape((1,) * (4 - t.dim()) + tuple(t.shape))


def triton_forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    is_causal: bool,
    scale: float,
    block_q: int,
    block_k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's launch, unchecked: ``(output, lse)`` as :func:`~transformer_lib.nn.flash.tiled_forward`
    (``mask`` expanded to ``(..., seq_q, seq_k)``; ``block_q`` and ``block_k`` powers of two, 16 at least)."""
    dtype = q.dtype
    if dtype == torch.float64:  # tl.dot multiplies float16, bfloat16 and float32 tiles
        q, k, v = q.float(), k.float(), v.float()
    q4, k4, v4 = _as_4d(q), _as_4d(k), _as_4d(v)
    batch, heads, seq_q, d_k = q4.shape
    seq_k, d_v = k4.shape[2], v4.shape[3]
    out = torch.empty((batch, heads, seq_q, d_v), dtype=q.dtype, device=q.device)
    lse = torch.empty((batch, heads, seq_q), dtype=torch.float32, device=q.device)
    # a stand-in pointer when there is no mask (the kernel never reads it then); uint8, since Triton
    # loads bytes, and an expanded view keeps its zero strides: no (seq_q, seq_k) copy per head
    mask4 = _as_4d(mask).view(torch.uint8) if mask is not None else out.new_empty((1, 1, 1, 1), dtype=torch.uint8)
    grid = (triton.cdiv(seq_q, block_q), batch * heads)
    _flash_forward_kernel[grid](
        q4, k4, v4, mask4, out, lse,
        *q4.stride(), *k4.stride(), *v4.stride(), *mask4.stride(), *out.stride(), *lse.stride(),
        heads, seq_q, seq_k, d_k, d_v, scale,
        HAS_MASK=mask is not None, IS_CAUSAL=is_causal,
        BLOCK_M=block_q, BLOCK_N=block_k,
        BLOCK_DK=max(16, triton.next_power_of_2(d_k)), BLOCK_DV=max(16, triton.next_power_of_2(d_v)),
    )  # fmt: skip
    return out.reshape((*q.shape[:-1], d_v)).to(dtype), lse.reshape(q.shape[:-1])


def flash_attention_triton(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    is_causal: bool = False,
    *,
    scale: float | None = None,
    block_q: int = 32,
    block_k: int = 32,
    return_lse: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """:func:`~transformer_lib.nn.flash.flash_attention` with the forward in a Triton kernel.

    Arguments and results as :func:`~transformer_lib.nn.flash.flash_attention` (``True`` in ``mask`` =
    may attend; a fully masked row is zero), with ``q, k, v`` of 2 to 4 dimensions on a CUDA device, or
    on the CPU under Triton's interpreter; ``block_q`` and ``block_k`` must be powers of two, 16 at
    least (the sizes ``tl.dot`` takes). The output has ``q``'s dtype; the kernel accumulates in float32
    (float64 inputs are computed in float32 too). The gradients are the tiled backward's.
    """
    check_flash_inputs(q, k, v, mask, is_causal, block_q, block_k)
    for name, size in (("block_q", block_q), ("block_k", block_k)):
        if size < 16 or size & (size - 1):
            raise ValueError(f"{name} must be a power of two, 16 at least (for tl.dot), got {size}")
    if q.device.type == "cpu" and not interpreted():
        raise ValueError(
            "q is on the CPU, where Triton runs only through its interpreter, which is off: set the environment "
            "variable TRITON_INTERPRET=1 before anything imports triton (torch.utils.flop_counter and "
            "torch.compile do), or move q, k and v to a CUDA device"
        )
    out, lse = flash_kernel(
        q, k, v, mask, is_causal, scale=scale, block_q=block_q, block_k=block_k, forward_impl=triton_forward
    )
    return (out, lse) if return_lse else out
