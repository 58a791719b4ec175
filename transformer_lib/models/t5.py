"""A T5-like encoder-decoder model: a bidirectional encoder reads the input, a causal decoder writes
the output while attending to the encoder's states (Raffel et al., 2020).

Three masks, one per attention (boolean, ``True`` = may attend):

* encoder self-attention: the source padding mask (bidirectional);
* decoder self-attention: the subsequent (causal) mask;
* cross-attention (decoder queries, encoder keys): the source padding mask.

The encoder and decoder share one embedding table (as T5 does) and are the library's
:class:`~transformer_lib.blocks.Encoder` and :class:`~transformer_lib.blocks.Decoder`, pre-norm with
GELU (T5 uses relative position biases; we use the library's sinusoidal encoding). The model has the
same methods, with the same arguments, as the 2017 :class:`~transformer_lib.models.transformer.Transformer`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..blocks import Decoder, Encoder
from ..generation import generate_from_source
from ..layers import Embeddings
from ..multihead import KVCache
from ..tokens import BOS, PAD
from ..validate import check_padding_mask, shape_str


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
    pad_id: int = PAD
    bos_id: int = BOS  # the decoder's start token


class T5(nn.Module):
    """Encoder-decoder Transformer for sequence-to-sequence tasks."""

    config_class = T5Config

    def __init__(self, config: T5Config):
        super().__init__()
        self.config = c = config
        self.embed = Embeddings(c.vocab_size, c.d_model, c.max_len, c.dropout)
        sizes = (c.d_model, c.num_heads, c.d_ff, c.dropout)
        self.encoder = Encoder(c.num_encoder_layers, *sizes, norm_first=True, activation="gelu")
        self.decoder = Decoder(c.num_decoder_layers, *sizes, norm_first=True, activation="gelu")
        self.lm_head = nn.Linear(c.d_model, c.vocab_size)

    @property
    def src_vocab_size(self) -> int:
        """The number of source token ids (the vocabulary the encoder and decoder share)."""
        return self.config.vocab_size

    def encode(
        self, src: torch.Tensor, src_padding_mask: torch.Tensor | None = None, *, checked: bool = False
    ) -> torch.Tensor:
        """``(batch, seq_s)`` ids -> memory ``(batch, seq_s, d_model)``.

        ``src_padding_mask``: ``(batch, seq_s)``, True at real tokens; ``None``: ``src != pad_id``.
        Both are checked here, at the door, unless ``checked=True``; the encoder runs unchecked.
        """
        if not checked:
            self.embed.check_ids(src, name="src")
            check_padding_mask("src_padding_mask", src_padding_mask, src, "(batch, seq_s)")
        x = self.embed(src, name="src", checked=True)
        mask = src != self.config.pad_id if src_padding_mask is None else src_padding_mask
        return self.encoder(x, mask, checked=True)

    def check_target(self, tgt_in: torch.Tensor, tgt_padding_mask: torch.Tensor | None = None, start: int = 0) -> None:
        """The checks of :meth:`decode`'s target: ``tgt_in`` ``(batch, seq_t)`` ids of the vocabulary at
        positions ``start ..`` within ``max_len``, and its padding mask."""
        self.embed.check_ids(tgt_in, start, name="tgt_in")
        check_padding_mask("tgt_padding_mask", tgt_padding_mask, tgt_in, "(batch, seq_t)")

    def decode(
        self,
        tgt_in: torch.Tensor,
        memory: torch.Tensor,
        tgt_padding_mask: torch.Tensor | None = None,
        src_padding_mask: torch.Tensor | None = None,
        *,
        caches: list[KVCache] | None = None,
        checked: bool = False,
    ) -> torch.Tensor:
        """``(batch, seq_t)`` decoder input ids -> ``(batch, seq_t, vocab)`` next-token logits.

        ``src_padding_mask`` masks the memory's padding (``None``: the source has none). Right-padded
        targets need no ``tgt_padding_mask``: the causal mask already keeps every real position from
        seeing the padding after it. With ``caches`` (``decoder.new_caches()``), ``tgt_in`` holds only
        the positions the caches have not seen. ``checked=True``: the caller has checked every input
        (:meth:`forward` and generation do); otherwise the target, ``memory`` and the masks are checked.
        """
        start = 0 if caches is None else len(caches[0])
        if not checked:
            self.check_target(tgt_in, tgt_padding_mask, start)
        x = self.embed(tgt_in, start, name="tgt_in", checked=True)
        x = self.decoder(x, memory, tgt_padding_mask, src_padding_mask, caches=caches, checked=checked)
        return self.lm_head(x)

    def forward(
        self,
        src: torch.Tensor,
        tgt_in: torch.Tensor,
        src_padding_mask: torch.Tensor | None = None,
        tgt_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Teacher forcing: ``src`` ``(batch, seq_s)`` and ``tgt_in`` ``(batch, seq_t)`` (``<bos>`` + target
        without its last token) -> ``(batch, seq_t, vocab)`` logits for the target.

        ``src_padding_mask`` ``None``: ``src != pad_id``.
        """
        if tgt_in.dim() == 2 and src.dim() == 2 and tgt_in.shape[0] != src.shape[0]:
            raise ValueError(
                f"src and tgt_in must have the same batch size, got {shape_str(src)} and {shape_str(tgt_in)}"
            )
        if src_padding_mask is None:
            src_padding_mask = src != self.config.pad_id
        memory = self.encode(src, src_padding_mask)  # checks src and its mask
        self.check_target(tgt_in, tgt_padding_mask)
        # every input is checked: the stack runs unchecked
        return self.decode(tgt_in, memory, tgt_padding_mask, src_padding_mask, checked=True)

    @torch.no_grad()
    def generate(
        self,
        src: torch.Tensor,
        max_new_tokens: int,
        eos_id: int | None = None,
        temperature: float = 0.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
    ) -> torch.Tensor:
        """Write the output for ``src`` (``(batch, seq_s)``) one token at a time, starting from ``<bos>``.

        See :func:`~transformer_lib.generation.generate_from_source`. Returns ``(batch, 1 + new)`` ids
        beginning with ``<bos>``; a sequence that has produced ``eos_id`` gets ``pad_id`` afterwards.
        """
        return generate_from_source(
            self,
            src,
            max_new_tokens,
            eos_id=eos_id,
            temperature=temperature,
            top_k=top_k,
            generator=generator,
            use_cache=use_cache,
        )
