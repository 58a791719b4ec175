"""A GPT-like decoder-only language model: token embeddings, causal self-attention blocks, an LM head.

The stack is the library's :class:`~transformer_lib.nn.blocks.DecoderOnly`: self-attention under the
causal mask (position t sees positions 0..t, never the future) and no cross-attention, since there is
no encoder. Pre-norm, GELU and a final LayerNorm follow GPT-2 (Radford et al., 2019); positions use the
library's sinusoidal encoding (GPT learns them).

Shapes: ids ``(batch, seq)`` -> logits ``(batch, seq, vocab)``; the logits at position t score the
token at t + 1. Right padding needs no mask here: a real token never sees a later (pad) position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .._validate import check_caches
from ..data.tokens import PAD
from ..nn.blocks import DecoderOnly
from ..nn.layers import Embeddings
from ..nn.multihead import Caches
from .generation import CausalLM


@dataclass
class GPTConfig:
    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 256
    max_len: int = 64
    dropout: float = 0.0
    pad_id: int = PAD


class GPT(CausalLM):
    """Decoder-only Transformer language model (``generate`` from :class:`~.generation.CausalLM`)."""

    config_class = GPTConfig

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = c = config
        self.embed = Embeddings(c.vocab_size, c.d_model, c.max_len, c.dropout)
        self.blocks = DecoderOnly(c.num_layers, c.d_model, c.num_heads, c.d_ff, c.dropout)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size)

    def new_caches(self) -> Caches:
        """Empty :class:`~transformer_lib.nn.multihead.Caches`, one per layer, for :meth:`forward` with ``caches``."""
        return self.blocks.new_caches()

    def forward(self, ids: torch.Tensor, *, caches: Caches | None = None, checked: bool = False) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, seq, vocab)`` next-token logits.

        With ``caches`` (:meth:`new_caches`), ``ids`` are the positions after the cached ones: they are
        embedded from position ``caches.seq_len``. The ids are checked here, at the door (the values
        too, in eager mode off the meta device: :func:`~transformer_lib._validate.check_id_range`), unless
        ``checked=True`` (generation passes it for the ids the model wrote); the stack runs unchecked.
        """
        if not checked:
            check_caches(caches, len(self.blocks.layers))
        start = 0 if caches is None else caches.seq_len
        if not checked:
            self.embed.check_ids(ids, start)
        x = self.embed(ids, start=start, checked=True)  # (batch, seq, d_model)
        return self.lm_head(self.blocks(x, caches=caches, checked=True))  # (batch, seq, vocab)
