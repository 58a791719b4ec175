"""A GPT-like decoder-only language model: token embeddings, causal self-attention blocks, an LM head.

The stack is the library's :class:`~transformer_lib.blocks.DecoderOnly`: self-attention under the
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

from ..blocks import DecoderOnly
from ..generation import generate_from_prompt
from ..layers import Embeddings
from ..multihead import KVCache
from ..tokens import PAD


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


class GPT(nn.Module):
    """Decoder-only Transformer language model."""

    config_class = GPTConfig

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = c = config
        self.embed = Embeddings(c.vocab_size, c.d_model, c.max_len, c.dropout)
        self.blocks = DecoderOnly(c.num_layers, c.d_model, c.num_heads, c.d_ff, c.dropout)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, seq, vocab)`` next-token logits.

        The ids are checked here, at the door (the values too, in eager mode off the meta device: see
        :func:`~transformer_lib.validate.check_id_range`); the stack inside runs unchecked.
        """
        x = self.embed(ids)  # (batch, seq, d_model)
        return self.lm_head(self.blocks(x, checked=True))  # (batch, seq, vocab)

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        max_new_tokens: int,
        eos_id: int | None = None,
        temperature: float = 0.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Continue the prompts ``ids`` (``(batch, seq)``, all of the same length) one token at a time.

        Stops after ``max_new_tokens`` tokens, or earlier once every sequence has produced
        ``eos_id``; a finished sequence gets ``config.pad_id`` after its ``<eos>``. ``temperature``,
        ``top_k`` and ``generator`` as in :func:`~transformer_lib.generation.sample_next` (the
        default, 0, is greedy). Returns ``(batch, seq + new)`` with ``new <= max_new_tokens``.

        With ``use_cache`` each layer keeps the keys and values of the positions it has seen
        (:class:`~transformer_lib.multihead.KVCache`), so a step processes only the newest token
        instead of the whole sequence; the result is the same. Once the sequence is longer than
        ``max_len``, the model sees a sliding window of the last ``max_len`` tokens, whose positions
        shift at every step: the cache no longer applies and each step processes the whole window.
        """

        def run(new: torch.Tensor, caches: list[KVCache] | None) -> torch.Tensor:
            start = 0 if caches is None else len(caches[0])
            # the prompt was checked once, at the door: the ids the model writes need no check
            x = self.embed(new, start=start, checked=True)
            return self.lm_head(self.blocks(x, caches=caches, checked=True))

        return generate_from_prompt(
            self,
            ids,
            max_new_tokens,
            run=run,
            new_caches=self.blocks.new_caches,
            eos_id=eos_id,
            temperature=temperature,
            top_k=top_k,
            generator=generator,
            use_cache=use_cache,
        )
