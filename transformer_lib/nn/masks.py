"""Attention masks, with one convention for the whole library.

**Mask convention.** A mask is a boolean tensor where ``True`` means "this query may attend to this
key" and ``False`` means "blocked". This is the convention of
``torch.nn.functional.scaled_dot_product_attention``. Two torch APIs use the opposite:
``nn.MultiheadAttention``'s ``key_padding_mask`` and its boolean ``attn_mask`` mean "True = blocked";
:func:`to_torch_mha` converts.

Shapes:

* a key padding mask is ``(batch, seq_k)``; :func:`key_mask_for_attention` reshapes it to
  ``(batch, 1, 1, seq_k)`` so it broadcasts over heads and queries;
* a subsequent (causal) mask is ``(seq, seq)``;
* an attention mask broadcasts to ``(batch, heads, seq_q, seq_k)``.
"""

from __future__ import annotations

import torch

from .._validate import check_bool_mask, check_rank, check_token_ids, shape_str


def padding_mask(lengths: torch.Tensor, width: int | None = None) -> torch.Tensor:
    """Key padding mask from sequence lengths.

    Args:
        lengths: ``(batch,)`` integer tensor, the number of real tokens of each sequence.
        width: the padded length, the mask's number of columns; defaults to ``lengths.max()``.

    Returns:
        ``(batch, width)`` boolean mask, ``True`` at real tokens (may be attended to),
        ``False`` at padding.
    """
    check_rank("lengths", lengths, 1, "(batch,)")
    if lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be an integer tensor, got dtype {lengths.dtype}")
    if (lengths < 0).any():
        raise ValueError(f"lengths must be non-negative, got {lengths.tolist()}")
    longest = int(lengths.max()) if lengths.numel() else 0
    if width is None:
        width = longest
    elif width < longest:
        raise ValueError(f"width must be at least the longest length {longest}, got {width}")
    positions = torch.arange(width, device=lengths.device)
    return positions[None, :] < lengths[:, None]


def padding_mask_from_ids(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Key padding mask from token ids: ``True`` where ``ids != pad_id``.

    Args:
        ids: ``(batch, seq)`` integer token ids.
        pad_id: the id of the padding token.

    Returns:
        ``(batch, seq)`` boolean mask, ``True`` at real tokens.
    """
    check_token_ids("ids", ids)
    return ids != pad_id


def subsequent_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Subsequent (causal) mask: position ``i`` may attend to positions ``0..i``.

    Returns:
        ``(size, size)`` boolean mask, ``True`` on and below the diagonal. Row ``i`` is query ``i``.
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def key_mask_for_attention(key_mask: torch.Tensor) -> torch.Tensor:
    """Reshape a ``(batch, seq_k)`` key padding mask to ``(batch, 1, 1, seq_k)``.

    The result broadcasts over heads and queries: every query of sequence ``b`` sees the same keys.
    """
    check_bool_mask("key_mask", key_mask)
    check_rank("key_mask", key_mask, 2, "(batch, seq_k)")
    return key_mask[:, None, None, :]


def combine_masks(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Combine boolean masks: a query may attend to a key only if *every* mask allows it.

    Under the True = may-attend convention this is a logical AND, with broadcasting (a
    ``(seq, seq)`` causal mask combines with a ``(batch, 1, 1, seq)`` padding mask into
    ``(batch, 1, seq, seq)``). ``None`` entries are skipped; with no masks left it returns ``None``.

    Adding two "may attend" masks is the wrong combination: for boolean tensors ``+`` is a logical
    OR, so a pair allowed by either mask gets through (and 0/1 integer masks sum to 0, 1 or 2).
    Addition is right for additive masks (0 / -inf) and, followed by ``> 0``, for masks where 1 means
    "blocked"; chapter 4 shows each case.
    """
    present = [m for m in masks if m is not None]
    for i, m in enumerate(present):
        check_bool_mask(f"masks[{i}]", m)
    if not present:
        return None
    out = present[0]
    for i, m in enumerate(present[1:], start=1):
        try:
            out = and_masks(out, m)
        except RuntimeError as err:
            raise ValueError(
                f"masks[{i}] with shape {shape_str(m)} does not broadcast with the masks before it "
                f"(combined shape {shape_str(out)})"
            ) from err
    return out


def and_masks(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    """:func:`combine_masks` of two masks without its checks, for callers that checked them at their
    door (:class:`~transformer_lib.nn.multihead.MultiHeadAttention`): ``a & b``, or the one that is not
    ``None``."""
    if a is None or b is None:
        return b if a is None else a
    return a & b


def to_additive(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Convert a boolean mask to the additive form: ``0.0`` where allowed, ``-inf`` where blocked.

    Additive masks are added to the attention scores before the softmax; two of them combine by
    addition (``0 + -inf = -inf``).
    """
    check_bool_mask("mask", mask)
    zeros = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return zeros.masked_fill(~mask, float("-inf"))


def to_torch_mha(mask: torch.Tensor) -> torch.Tensor:
    """Convert to ``nn.MultiheadAttention``'s boolean convention, where ``True`` means *blocked*.

    Use it for both its ``key_padding_mask`` (``(batch, seq_k)``) and its boolean ``attn_mask``
    (``(seq_q, seq_k)`` or ``(batch * heads, seq_q, seq_k)``).
    """
    check_bool_mask("mask", mask)
    return ~mask
