"""A Llama-like decoder-only language model (Touvron et al., 2023), in one readable file.

    ids ──Embedding──[ LlamaBlock x num_layers ]──RMSNorm──Linear── logits

    LlamaBlock:  x = x + Attention(RMSNorm(x))    causal, grouped-query, rotary positions
                 x = x + SwiGLU(RMSNorm(x))

It is the GPT-like model of :mod:`~transformer_lib.models.gpt` with the four changes that decoders
made after 2020, each a library module:

* :class:`~transformer_lib.nn.layers.RMSNorm` instead of LayerNorm (no mean, no bias);
* rotary position embeddings (:mod:`~transformer_lib.nn.rotary`) inside attention instead of a position
  vector added to the token embedding, so ``embed`` is a plain ``nn.Embedding``;
* the :class:`~transformer_lib.nn.layers.SwiGLU` feed-forward network instead of GELU;
* grouped-query attention, :class:`~transformer_lib.nn.multihead.MultiHeadAttention` with
  ``num_kv_heads < num_heads``: the KV cache shrinks by ``num_heads / num_kv_heads``;

and no biases in any linear map. Shapes: ids ``(batch, seq)`` -> logits ``(batch, seq, vocab)``;
the logits at position t score the token at t + 1 (the causal mask, as in the GPT-like model).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .._validate import check_caches, check_input_ids
from ..data.tokens import PAD
from ..nn.layers import RMSNorm, SwiGLU
from ..nn.multihead import Caches, KVCache, MultiHeadAttention
from ..nn.rotary import RotaryEmbedding
from .generation import CausalLM


@dataclass
class LlamaConfig:
    """The sizes of a :class:`Llama`. ``d_ff`` is SwiGLU's hidden width: three matrices instead of two,
    so about 2/3 of a GELU network's width gives the same parameter count (2/3 of the GPT-like model's
    256 is 171; the default is the multiple of 16 above it)."""

    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_kv_heads: int = 2
    num_layers: int = 2
    d_ff: int = 176
    max_len: int = 64
    dropout: float = 0.0
    rope_base: float = 10000.0
    norm_eps: float = 1e-6
    pad_id: int = PAD


class LlamaBlock(nn.Module):
    """Pre-norm decoder block: RMSNorm, causal grouped-query attention with rotary positions, residual;
    RMSNorm, SwiGLU, residual. ``(batch, seq, d_model)`` -> same shape."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        num_kv_heads: int,
        d_ff: int,
        rotary: RotaryEmbedding,
        dropout: float = 0.0,
        norm_eps: float = 1e-6,
    ):
        super().__init__()
        self.attn_norm = RMSNorm(d_model, norm_eps)
        self.attn = MultiHeadAttention(
            d_model, num_heads, dropout, bias=False, num_kv_heads=num_kv_heads, rotary=rotary
        )
        self.ffn_norm = RMSNorm(d_model, norm_eps)
        self.ffn = SwiGLU(d_model, d_ff, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, *, cache: KVCache | None = None, checked: bool = False) -> torch.Tensor:
        """``x`` ``(batch, seq, d_model)``; with ``cache``, ``x`` holds only the positions it has not seen.

        ``checked=True``: the caller has checked ``x`` (as :class:`Llama` does, once for all blocks).
        """
        if not checked:
            self.attn_norm.check_input(x)
            self.attn.check_inputs(x, None, None, None, True, cache)
        h = self.attn(self.attn_norm(x, checked=True), is_causal=True, cache=cache, checked=True)[0]
        x = x + self.dropout(h)
        return x + self.dropout(self.ffn(self.ffn_norm(x, checked=True), checked=True))


class Llama(CausalLM):
    """Llama-like decoder-only language model (``generate`` from :class:`~.generation.CausalLM`)."""

    config_class = LlamaConfig

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = c = config
        self.embed = nn.Embedding(c.vocab_size, c.d_model)
        # one table of rotations, shared by every layer's attention
        self.rotary = RotaryEmbedding(c.d_model // c.num_heads, c.max_len, c.rope_base)
        self.blocks = nn.ModuleList(
            LlamaBlock(c.d_model, c.num_heads, c.num_kv_heads, c.d_ff, self.rotary, c.dropout, c.norm_eps)
            for _ in range(c.num_layers)
        )
        self.norm = RMSNorm(c.d_model, c.norm_eps)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)

    def new_caches(self) -> Caches:
        """Empty :class:`~transformer_lib.nn.multihead.Caches`, one per block, for :meth:`forward` with ``caches``."""
        return Caches(len(self.blocks))

    def forward(self, ids: torch.Tensor, *, caches: Caches | None = None, checked: bool = False) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, seq, vocab)`` next-token logits.

        With ``caches`` (:meth:`new_caches`), ``ids`` are the positions after the cached ones: their
        rotations start at ``caches.seq_len``. The ids are checked here, at the door (the values too, in
        eager mode off the meta device: :func:`~transformer_lib._validate.check_id_range`), unless
        ``checked=True`` (generation passes it for the ids the model wrote); the blocks run unchecked.
        """
        if not checked:
            check_caches(caches, len(self.blocks))
        start = 0 if caches is None else caches.seq_len
        if not checked:
            check_input_ids("ids", ids, self.config.vocab_size, start, self.config.max_len)
        x = self.embed(ids)  # (batch, seq, d_model): no position added, RoPE rotates inside attention
        for i, block in enumerate(self.blocks):
            x = block(x, cache=None if caches is None else caches[i], checked=True)
        return self.lm_head(self.norm(x, checked=True))  # (batch, seq, vocab)
