"""A GPT-like decoder-only language model: token embeddings, causal self-attention blocks, an LM head.

The blocks are the library's :class:`~transformer_lib.blocks.EncoderBlock` run with ``causal=True``:
self-attention under the subsequent mask (position t sees positions 0..t, never the future) and no
cross-attention, since there is no encoder. Pre-norm, GELU and a final LayerNorm follow GPT-2
(Radford et al., 2019); positions use the library's sinusoidal encoding (GPT learns them).

Shapes: ids ``(batch, seq)`` -> logits ``(batch, seq, vocab)``; the logits at position t score the
token at t + 1. Right padding needs no mask here: a real token never sees a later (pad) position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..blocks import Encoder
from ..layers import Embeddings
from ..validate import check_rank


@dataclass
class GPTConfig:
    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 256
    max_len: int = 64
    dropout: float = 0.0


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pick the next token from ``(batch, vocab)`` logits.

    ``temperature == 0`` is greedy decoding (the argmax). Otherwise the logits are divided by the
    temperature (below 1: sharper, above 1: flatter), cut to the ``top_k`` largest when given, and a
    token is drawn from their softmax. Returns ``(batch,)`` ids.
    """
    check_rank("logits", logits, 2, "(batch, vocab)")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(logits.device)


class GPT(nn.Module):
    """Decoder-only Transformer language model."""

    config_class = GPTConfig

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        c = config
        self.embed = Embeddings(c.vocab_size, c.d_model, c.max_len, c.dropout)
        self.blocks = Encoder(
            c.num_layers, c.d_model, c.num_heads, c.d_ff, c.dropout, norm_first=True, activation="gelu"
        )
        self.lm_head = nn.Linear(c.d_model, c.vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, seq, vocab)`` next-token logits."""
        check_rank("ids", ids, 2, "(batch, seq)")
        if ids.shape[1] > self.config.max_len:
            raise ValueError(f"ids has {ids.shape[1]} positions, more than max_len={self.config.max_len}")
        h = self.blocks(self.embed(ids), causal=True)  # (batch, seq, d_model)
        return self.lm_head(h)

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        max_new_tokens: int,
        eos_id: int | None = None,
        pad_id: int = 0,
        temperature: float = 0.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Continue the prompts ``ids`` (``(batch, seq)``, all of the same length) one token at a time.

        Stops after ``max_new_tokens`` tokens, or earlier once every sequence has produced
        ``eos_id``; a finished sequence gets ``pad_id`` after its ``<eos>``. ``temperature`` and
        ``top_k`` as in :func:`sample_next` (the default, 0, is greedy). Returns
        ``(batch, seq + new)`` with ``new <= max_new_tokens``.

        With ``use_cache`` each layer keeps the keys and values of the positions it has seen
        (:class:`~transformer_lib.multihead.KVCache`), so a step processes only the newest token
        instead of the whole sequence; the result is the same. Once the sequence is longer than
        ``max_len``, the model sees a sliding window of the last ``max_len`` tokens, whose positions
        shift at every step: the cache no longer applies and each step processes the whole window.
        """
        check_rank("ids", ids, 2, "(batch, seq)")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        was_training = self.training
        self.eval()
        caches = self.blocks.new_caches() if use_cache else None
        done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
        for step in range(max_new_tokens):
            if use_cache and ids.shape[1] <= self.config.max_len:
                start = 0 if step == 0 else ids.shape[1] - 1  # first the whole prompt, then one token
                h = self.blocks(self.embed(ids[:, start:], start=start), causal=True, caches=caches)
                logits = self.lm_head(h[:, -1])  # (batch, vocab): the last position
            else:
                logits = self(ids[:, -self.config.max_len :])[:, -1]
            nxt = sample_next(logits, temperature, top_k, generator).masked_fill(done, pad_id)
            ids = torch.cat([ids, nxt[:, None]], dim=1)
            if eos_id is not None:
                done |= nxt == eos_id
                if done.all():
                    break
        self.train(was_training)
        return ids
