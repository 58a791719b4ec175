"""Multi-head attention: ``num_heads`` attentions of width ``d_model / num_heads`` side by side.

With ``num_kv_heads < num_heads`` it is grouped-query attention (Ainslie et al., 2023): each key/value
head serves ``num_heads / num_kv_heads`` query heads, and a KV cache holds only ``num_kv_heads`` heads
(``num_kv_heads=1`` is multi-query attention, Shazeer 2019). With a ``rotary`` embedding, queries and
keys are rotated by their positions (:mod:`transformer_lib.nn.rotary`).

**Mask convention**: boolean, ``True`` = may attend, for both ``attn_mask`` and
``key_padding_mask`` (the opposite of ``nn.MultiheadAttention``, see :mod:`transformer_lib.nn.masks`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from .._validate import (
    check_bool_mask,
    check_broadcastable,
    check_floating,
    check_last_dim,
    check_positions,
    check_rank,
    check_same_dtype,
    shape_str,
)
from .attention import attention_with_weights, fused_attention
from .flash import flash_kernel
from .layers import RMSNorm
from .masks import and_masks
from .rotary import RotaryEmbedding


@dataclass
class KVCache:
    """The keys and values one self-attention layer has computed so far, for fast generation.

    A decoder that generates one token at a time would otherwise recompute the keys and values of
    every earlier position at every step. With a cache, each step projects only the new positions
    and appends them. ``k`` and ``v`` are ``(batch, kv_heads, seq_so_far, d_k)`` (``kv_heads``: the
    number of heads, or of key/value heads with grouped-query attention); both start as None.
    """

    k: torch.Tensor | None = None
    v: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new positions' keys and values; return all keys and values so far."""
        self.k = k if self.k is None else torch.cat([self.k, k], dim=2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=2)
        return self.k, self.v

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep the batch rows ``rows`` (``(batch,)`` indices, repeats allowed), in that order: beam
        search continues some sequences twice and drops others."""
        if self.k is not None:
            self.k, self.v = self.k[rows], self.v[rows]

    @property
    def nbytes(self) -> int:
        """The memory the cached keys and values take, in bytes."""
        return 0 if self.k is None else self.k.nbytes + self.v.nbytes


class Caches:
    """The :class:`KVCache` of every self-attention layer of a decoder: what a model's ``forward`` (or
    an encoder-decoder's ``decode``) takes as ``caches``, from its ``new_caches()``.

    ``caches[i]`` is layer ``i``'s cache and ``len(caches)`` the number of layers; ``seq_len`` is the
    number of positions they hold (the position the next token takes).
    """

    def __init__(self, num_layers: int):
        self.layers = [KVCache() for _ in range(num_layers)]

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> KVCache:
        return self.layers[i]

    def __iter__(self) -> Iterator[KVCache]:
        return iter(self.layers)

    @property
    def seq_len(self) -> int:
        """The number of positions the caches hold."""
        return len(self.layers[0]) if self.layers else 0

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep the batch rows ``rows`` of every layer's cache (see :meth:`KVCache.reorder`)."""
        for cache in self.layers:
            cache.reorder(rows)

    @property
    def nbytes(self) -> int:
        """The memory every layer's cached keys and values take, in bytes."""
        return sum(cache.nbytes for cache in self.layers)


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate query, key, value and output projections.

    Args:
        d_model: width of the inputs and the output.
        num_heads: number of heads; each has width ``d_k = d_model // num_heads``.
        dropout: dropout on the attention weights (active in training mode only).
        bias: whether the four projections have biases.
        num_kv_heads: number of key/value heads, a divisor of ``num_heads`` (``None``: ``num_heads``,
            ordinary multi-head attention). ``k_proj`` and ``v_proj`` then map ``d_model`` to
            ``num_kv_heads * d_k``.
        rotary: a :class:`~transformer_lib.nn.rotary.RotaryEmbedding` of width ``d_k`` (self-attention
            only): queries and keys are rotated by their positions, cached keys at their own.
        head_dim: the width ``d_k`` of a head (``None``: ``d_model // num_heads``). T5 sets it apart
            (Flan-T5-small: 6 heads of 64 in ``d_model = 512``): the projections then map ``d_model`` to
            ``num_heads * head_dim`` and back.
        scale: the factor of the scores ``q . k`` (``None``: ``1 / sqrt(d_k)``). T5 uses 1: its
            initialisation puts that factor in the query weights instead.
        out_bias: whether the output projection has a bias (``None``: as ``bias``). Qwen2 has biases on
            the query, key and value projections only.
        qk_norm_eps: QK-norm (Qwen3): each head's query and key go through an
            :class:`~transformer_lib.nn.layers.RMSNorm` of width ``d_k`` with this epsilon, before the
            rotation; ``None``: none.
        backend: how the output is computed when the weights are not asked for: ``"fused"`` (torch's
            ``F.scaled_dot_product_attention``) or ``"flash"`` (the library's tiles,
            :func:`~transformer_lib.nn.flash.flash_attention`, with its recomputing backward; without
            dropout and without a ``position_bias``). The attribute ``backend`` can be changed later,
            e.g. on every attention of a model.
    """

    BACKENDS = ("fused", "flash")

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        *,
        num_kv_heads: int | None = None,
        rotary: RotaryEmbedding | None = None,
        head_dim: int | None = None,
        scale: float | None = None,
        out_bias: bool | None = None,
        qk_norm_eps: float | None = None,
        backend: str = "fused",
    ):
        super().__init__()
        if backend not in self.BACKENDS:
            raise ValueError(f"backend must be one of {self.BACKENDS}, got {backend!r}")
        self.backend = backend
        if d_model <= 0 or num_heads <= 0:
            raise ValueError(f"d_model and num_heads must be positive, got {d_model} and {num_heads}")
        if head_dim is not None and head_dim <= 0:
            raise ValueError(f"head_dim must be positive, got {head_dim}")
        if head_dim is None and d_model % num_heads != 0:
            raise ValueError(
                f"d_model must be divisible by num_heads so each head has width d_model / num_heads, "
                f"got d_model={d_model} and num_heads={num_heads}"
            )
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if num_kv_heads <= 0 or num_heads % num_kv_heads != 0:
            raise ValueError(
                f"num_kv_heads must divide num_heads so that each key/value head serves as many query heads, "
                f"got num_heads={num_heads} and num_kv_heads={num_kv_heads}"
            )
        self.d_model, self.num_heads = d_model, num_heads
        self.d_k = d_model // num_heads if head_dim is None else head_dim
        self.num_kv_heads, self.scale = num_kv_heads, scale
        if rotary is not None and rotary.head_dim != self.d_k:
            raise ValueError(f"rotary must rotate heads of width d_k={self.d_k}, got head_dim={rotary.head_dim}")
        self.rotary = rotary
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, num_heads * self.d_k, bias=bias)
        self.k_proj = nn.Linear(d_model, num_kv_heads * self.d_k, bias=bias)
        self.v_proj = nn.Linear(d_model, num_kv_heads * self.d_k, bias=bias)
        self.out_proj = nn.Linear(num_heads * self.d_k, d_model, bias=bias if out_bias is None else out_bias)
        if qk_norm_eps is not None:
            self.q_norm, self.k_norm = RMSNorm(self.d_k, qk_norm_eps), RMSNorm(self.d_k, qk_norm_eps)
        else:
            self.q_norm = self.k_norm = None

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, seq, heads * d_k)`` -> ``(batch, heads, seq, d_k)`` (query or key/value heads)."""
        b, s, width = x.shape
        return x.view(b, s, width // self.d_k, self.d_k).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, heads, seq, d_k)`` -> ``(batch, seq, heads * d_k)``: the heads concatenated."""
        b, _, s, _ = x.shape
        return x.transpose(1, 2).reshape(b, s, self.num_heads * self.d_k)

    def forward(
        self,
        query: torch.Tensor,
        memory: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
        cache: KVCache | None = None,
        *,
        position_bias: torch.Tensor | None = None,
        checked: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``query`` to ``memory`` (cross-attention) or to itself (self-attention).

        Args:
            query: ``(batch, seq_q, d_model)``.
            memory: ``(batch, seq_k, d_model)`` keys and values come from here; ``None`` means
                self-attention (``memory = query``).
            attn_mask: boolean, broadcastable to ``(batch, heads, seq_q, seq_k)``, e.g. a
                ``(seq_q, seq_k)`` subsequent mask; ``True`` = may attend.
            key_padding_mask: boolean ``(batch, seq_k)``, ``True`` at real tokens.
            is_causal: apply the subsequent mask (self-attention only). Equivalent to passing
                ``subsequent_mask(seq)`` in ``attn_mask``, but lets the fused kernel skip building it.
            need_weights: also return the weights, ``(batch, heads, seq_q, seq_k)``. Without them the
                computation goes through torch's fused kernel.
            cache: self-attention only. The keys and values of earlier positions; the new positions'
                are appended to it, and the queries attend to all of them. Then ``seq_k`` counts the
                cached positions too (for ``attn_mask`` and ``key_padding_mask``), and ``is_causal``
                lets query ``i`` (position ``len(cache) + i``) see keys up to its own position.
            position_bias: a float tensor broadcastable to ``(batch, heads, seq_q, seq_k)`` added to the
                scores before the softmax (T5's relative position bias); masked keys stay masked.
            checked: the caller has checked these inputs (:meth:`check_inputs`); the library's blocks
                pass ``True``, a reader's code leaves the default.

        Returns:
            ``(output, weights)``: ``(batch, seq_q, d_model)`` and the weights or ``None``.
        """
        if not checked:
            self.check_inputs(query, memory, attn_mask, key_padding_mask, is_causal, cache, position_bias)
        memory = query if memory is None else memory
        past = 0 if cache is None else len(cache)
        seq_q, seq_k = query.shape[1], past + memory.shape[1]

        q = self.split_heads(self.q_proj(query))  # (batch, heads, seq_q, d_k)
        k = self.split_heads(self.k_proj(memory))  # (batch, kv_heads, seq_k - past, d_k)
        v = self.split_heads(self.v_proj(memory))
        if self.q_norm is not None:
            # QK-norm bounds the scores however large the projections grow (Qwen3)
            q, k = self.q_norm(q, checked=True), self.k_norm(k, checked=True)
        if self.rotary is not None:
            # the new positions start after the cached ones; cached keys were rotated when cached
            q, k = self.rotary.rotate(q, start=past), self.rotary.rotate(k, start=past)
        if cache is not None:
            k, v = cache.append(k, v)  # (batch, kv_heads, seq_k, d_k)
        if self.num_kv_heads < self.num_heads:
            # each key/value head serves num_heads / num_kv_heads consecutive query heads
            group = self.num_heads // self.num_kv_heads
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        p = self.dropout if self.training else 0.0
        # (batch, seq_k) -> (batch, 1, 1, seq_k): every head and query of sequence b sees the same keys
        key_mask = None if key_padding_mask is None else key_padding_mask[:, None, None, :]
        mask = and_masks(attn_mask, key_mask)
        if is_causal and (need_weights or mask is not None or past > 0 or position_bias is not None):
            # The fused kernel's is_causal flag cannot be combined with another mask, nor offset by
            # the cached positions: build the mask. Query i sits at position past + i.
            causal = torch.ones(seq_q, seq_k, dtype=torch.bool, device=query.device).tril(diagonal=past)
            mask, is_causal = and_masks(mask, causal), False

        if need_weights:
            out, weights = attention_with_weights(q, k, v, mask, p, bias=position_bias, scale=self.scale)
        elif self.backend == "flash":
            if p > 0.0 or position_bias is not None:
                raise ValueError(
                    "backend='flash' has neither dropout nor a position bias: call .eval() (or build the module "
                    "with dropout=0.0) and use backend='fused' for a model with a position bias (T5)"
                )
            out, weights = flash_kernel(q, k, v, mask, is_causal, scale=self.scale)[0], None
        else:
            out = fused_attention(q, k, v, mask, p, is_causal=is_causal, bias=position_bias, scale=self.scale)
            weights = None
        return self.out_proj(self.merge_heads(out)), weights

    def check_inputs(
        self,
        query: torch.Tensor,
        memory: torch.Tensor | None,
        attn_mask: torch.Tensor | None,
        key_padding_mask: torch.Tensor | None,
        is_causal: bool,
        cache: KVCache | None,
        position_bias: torch.Tensor | None = None,
    ) -> None:
        """The door of :meth:`forward`: every input checked once (shapes and dtypes only, so it runs the
        same under ``torch.compile`` and on the meta device). Arguments as in :meth:`forward`."""
        if cache is not None and memory is not None:
            raise ValueError("cache is for self-attention: pass memory=None with a cache")
        if self.rotary is not None and memory is not None:
            raise ValueError("rotary positions are for self-attention: pass memory=None to a rotary attention")
        memory = query if memory is None else memory
        check_rank("query", query, 3, "(batch, seq_q, d_model)")
        check_rank("memory", memory, 3, "(batch, seq_k, d_model)")
        check_floating("query", query)
        check_last_dim("query", query, self.d_model, f"(batch, seq_q, d_model={self.d_model})")
        check_last_dim("memory", memory, self.d_model, f"(batch, seq_k, d_model={self.d_model})")
        check_same_dtype("query", query, "the module's weights", self.q_proj.weight)
        check_same_dtype("memory", memory, "the module's weights", self.k_proj.weight)
        if memory.shape[0] != query.shape[0]:
            raise ValueError(
                f"query and memory must have the same batch size, got query {shape_str(query)} "
                f"and memory {shape_str(memory)}"
            )
        past = 0 if cache is None else len(cache)
        batch, seq_q, seq_k = query.shape[0], query.shape[1], past + memory.shape[1]
        if attn_mask is not None:
            check_bool_mask("attn_mask", attn_mask)
            check_broadcastable(
                "attn_mask", attn_mask, (batch, self.num_heads, seq_q, seq_k), "(batch, heads, seq_q, seq_k)"
            )
        if position_bias is not None:
            check_floating("position_bias", position_bias)
            check_broadcastable(
                "position_bias", position_bias, (batch, self.num_heads, seq_q, seq_k), "(batch, heads, seq_q, seq_k)"
            )
        if self.rotary is not None:
            check_positions("query", seq_q, past, self.rotary.max_len)
        if is_causal and seq_q + past != seq_k:
            raise ValueError(f"is_causal needs seq_q == seq_k (self-attention), got {seq_q} and {seq_k}")
        if key_padding_mask is None:
            return
        check_bool_mask("key_padding_mask", key_padding_mask)
        if tuple(key_padding_mask.shape) != (batch, seq_k):
            raise ValueError(
                f"key_padding_mask must have shape (batch, seq_k) = ({batch}, {seq_k}), "
                f"got {shape_str(key_padding_mask)}"
            )

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """Build a copy of a ``batch_first`` ``nn.MultiheadAttention`` with the same weights."""
        if not isinstance(module, nn.MultiheadAttention):
            raise ValueError(f"module must be an nn.MultiheadAttention, got {type(module).__name__}")
        if not module._qkv_same_embed_dim or module.bias_k is not None:
            raise ValueError("only nn.MultiheadAttention without kdim/vdim/add_bias_kv can be copied")
        ours = cls(module.embed_dim, module.num_heads, module.dropout, bias=module.in_proj_bias is not None)
        ours.load_torch_weights(module)
        return ours.to(module.in_proj_weight.device, module.in_proj_weight.dtype)

    def load_torch_weights(self, module: nn.MultiheadAttention) -> None:
        """Copy the weights of ``module`` (an ``nn.MultiheadAttention``) into this module."""
        with torch.no_grad():
            w_q, w_k, w_v = module.in_proj_weight.chunk(3)
            for proj, w in ((self.q_proj, w_q), (self.k_proj, w_k), (self.v_proj, w_v)):
                proj.weight.copy_(w)
            self.out_proj.weight.copy_(module.out_proj.weight)
            if module.in_proj_bias is not None:
                b_q, b_k, b_v = module.in_proj_bias.chunk(3)
                for proj, b in ((self.q_proj, b_q), (self.k_proj, b_k), (self.v_proj, b_v)):
                    proj.bias.copy_(b)
                self.out_proj.bias.copy_(module.out_proj.bias)

    def to_torch(self) -> nn.MultiheadAttention:
        """Return a ``batch_first`` ``nn.MultiheadAttention`` with this module's weights."""
        if self.num_kv_heads != self.num_heads or self.rotary is not None:
            raise ValueError(
                "nn.MultiheadAttention has neither grouped key/value heads nor rotary positions: only a module "
                "with num_kv_heads == num_heads and no rotary can be converted"
            )
        if self.num_heads * self.d_k != self.d_model or self.scale is not None:
            raise ValueError(
                "nn.MultiheadAttention has heads of width d_model / num_heads and scores scaled by 1/sqrt(d_k): "
                "only a module with head_dim=None and scale=None can be converted"
            )
        bias = self.q_proj.bias is not None
        w = self.q_proj.weight
        module = nn.MultiheadAttention(
            self.d_model,
            self.num_heads,
            dropout=self.dropout,
            bias=bias,
            batch_first=True,
            device=w.device,
            dtype=w.dtype,
        )
        with torch.no_grad():
            module.in_proj_weight.copy_(torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight]))
            module.out_proj.weight.copy_(self.out_proj.weight)
            if bias:
                module.in_proj_bias.copy_(torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias]))
                module.out_proj.bias.copy_(self.out_proj.bias)
        return module


@torch.no_grad()
def attention_weights(model: nn.Module, *args, **kwargs) -> list[tuple[MultiHeadAttention, torch.Tensor]]:
    """Run ``model(*args, **kwargs)`` and return, in the order they ran, each :class:`MultiHeadAttention`
    of ``model`` that it called with the weights of that call, ``(batch, heads, seq_q, seq_k)``: each
    module's forward is called again on the same inputs with ``need_weights=True``."""
    found: list[tuple[MultiHeadAttention, torch.Tensor]] = []

    def hook(module: MultiHeadAttention, hook_args, hook_kwargs, output):
        # forward, not __call__: the hook does not call itself
        found.append((module, module.forward(*hook_args, **{**hook_kwargs, "need_weights": True})[1]))

    handles = [
        m.register_forward_hook(hook, with_kwargs=True) for m in model.modules() if isinstance(m, MultiHeadAttention)
    ]
    try:
        model(*args, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return found
