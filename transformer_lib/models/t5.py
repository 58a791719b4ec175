"""A T5-like encoder-decoder model: a bidirectional encoder reads the input, a causal decoder writes
the output while attending to the encoder's states (Raffel et al., 2020).

Three masks, one per attention (boolean, ``True`` = may attend):

* encoder self-attention: the source padding mask (bidirectional);
* decoder self-attention: the subsequent (causal) mask;
* cross-attention (decoder queries, encoder keys): the source padding mask.

The encoder and decoder share one embedding table (as T5 does) and are the library's
:class:`~transformer_lib.nn.blocks.Encoder` and :class:`~transformer_lib.nn.blocks.Decoder`, pre-norm with
GELU (T5 uses relative position biases; we use the library's sinusoidal encoding). These choices are
all that T5 adds: its methods (``encode``, ``decode``, ``forward``, ``generate``, ``beam_search``,
``attention_maps``, ``parameter_counts``) are those of the 2017
:class:`~transformer_lib.models.transformer.Transformer`, written once in
:class:`~transformer_lib.models.transformer.EncoderDecoder`.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..data.tokens import BOS, PAD
from ..nn.blocks import Decoder, Encoder
from ..nn.layers import Embeddings
from .transformer import EncoderDecoder


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


class T5(EncoderDecoder):
    """Encoder-decoder Transformer for sequence-to-sequence tasks, T5's configuration of
    :class:`~transformer_lib.models.transformer.EncoderDecoder`: one embedding table for source and
    target, pre-norm blocks with GELU. ``forward(src, tgt_in, ...)`` returns next-token logits."""

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
    def src_embed(self) -> Embeddings:
        """The embedding of the source: the one table the encoder and the decoder share."""
        return self.embed

    @property
    def tgt_embed(self) -> Embeddings:
        """The embedding of the target: the same table as the source's."""
        return self.embed

    @property
    def src_vocab_size(self) -> int:
        """The number of source token ids (the vocabulary the encoder and decoder share)."""
        return self.config.vocab_size
