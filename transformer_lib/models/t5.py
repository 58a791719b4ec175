"""A T5-like encoder-decoder model: a bidirectional encoder reads the input, a causal decoder writes
the output while attending to the encoder's states (Raffel et al., 2020).

Three masks, one per attention (boolean, ``True`` = may attend):

* encoder self-attention: the source padding mask (bidirectional);
* decoder self-attention: the subsequent (causal) mask;
* cross-attention (decoder queries, encoder keys): the source padding mask.

The encoder and decoder share one embedding table (as T5 does) and are the library's
:class:`~transformer_lib.blocks.Encoder` and :class:`~transformer_lib.blocks.Decoder`, pre-norm with
GELU (T5 uses relative position biases; we use the library's sinusoidal encoding).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..blocks import Decoder, Encoder
from ..layers import Embeddings
from ..masks import padding_mask_from_ids
from ..validate import check_rank
from .gpt import sample_next


@dataclass
class T5Config:
    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    d_ff: int = 256
    max_len: int = 64
    dropout: float = 0.0
    pad_id: int = 0
    bos_id: int = 2  # the decoder's start token


class T5(nn.Module):
    """Encoder-decoder Transformer for sequence-to-sequence tasks."""

    config_class = T5Config

    def __init__(self, config: T5Config):
        super().__init__()
        self.config = config
        c = config
        self.embed = Embeddings(c.vocab_size, c.d_model, c.max_len, c.dropout)
        self.encoder = Encoder(c.num_encoder_layers, c.d_model, c.num_heads, c.d_ff, c.dropout, True, "gelu")
        self.decoder = Decoder(c.num_decoder_layers, c.d_model, c.num_heads, c.d_ff, c.dropout, True, "gelu")
        self.lm_head = nn.Linear(c.d_model, c.vocab_size)

    def _check(self, name: str, ids: torch.Tensor) -> None:
        check_rank(name, ids, 2, "(batch, seq)")
        if ids.shape[1] > self.config.max_len:
            raise ValueError(f"{name} has {ids.shape[1]} positions, more than max_len={self.config.max_len}")

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, seq_s)`` ids -> memory ``(batch, seq_s, d_model)`` and its padding mask ``(batch, seq_s)``."""
        self._check("src", src)
        src_mask = padding_mask_from_ids(src, self.config.pad_id)
        return self.encoder(self.embed(src), src_mask), src_mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """``(batch, seq_t)`` decoder input ids -> ``(batch, seq_t, vocab)`` next-token logits.

        Right-padded targets need no target padding mask: the causal mask already keeps every real
        position from seeing the padding after it.
        """
        self._check("tgt_in", tgt_in)
        return self.lm_head(self.decoder(self.embed(tgt_in), memory, None, src_mask))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: ``src`` ``(batch, seq_s)`` and ``tgt_in`` ``(batch, seq_t)`` (``<bos>`` + target
        without its last token) -> ``(batch, seq_t, vocab)`` logits for the target."""
        memory, src_mask = self.encode(src)
        return self.decode(tgt_in, memory, src_mask)

    @torch.no_grad()
    def generate(
        self,
        src: torch.Tensor,
        max_new_tokens: int,
        eos_id: int | None = None,
        temperature: float = 0.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Write the output for ``src`` (``(batch, seq_s)``) one token at a time, starting from ``<bos>``.

        The encoder runs once; the decoder re-reads its growing output at every step. Stops after
        ``max_new_tokens`` or once every sequence has produced ``eos_id`` (later positions get
        ``pad_id``). Returns ``(batch, 1 + new)`` ids beginning with ``<bos>``.
        """
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        was_training = self.training
        self.eval()
        memory, src_mask = self.encode(src)
        out = torch.full((src.shape[0], 1), self.config.bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(min(max_new_tokens, self.config.max_len - 1)):
            logits = self.decode(out, memory, src_mask)[:, -1]  # (batch, vocab)
            nxt = sample_next(logits, temperature, top_k, generator).masked_fill(done, self.config.pad_id)
            out = torch.cat([out, nxt[:, None]], dim=1)
            if eos_id is not None:
                done |= nxt == eos_id
                if done.all():
                    break
        self.train(was_training)
        return out
