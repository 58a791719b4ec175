"""A T5-like encoder-decoder model: a bidirectional encoder reads the input, a causal decoder writes
the output while attending to the encoder's states (Raffel et al., 2020).

Three masks, one per attention (boolean, ``True`` = may attend):

* encoder self-attention: the source padding mask (bidirectional);
* decoder self-attention: the subsequent (causal) mask;
* cross-attention (decoder queries, encoder keys): the source padding mask.

The encoder and decoder share one embedding table (as T5 does). By default they are the library's
:class:`~transformer_lib.nn.blocks.Encoder` and :class:`~transformer_lib.nn.blocks.Decoder`, pre-norm with
GELU, and positions come from the library's sinusoidal encoding: the book's T5-like model.

With ``relative_attention=True`` they are T5's own stacks, :class:`T5Encoder` and :class:`T5Decoder`
below: no position vector in the embedding but a learned :class:`RelativePositionBias` added to the
self-attention scores (bucketed by distance, computed once per stack and shared by its layers,
bidirectional in the encoder, causal in the decoder), RMS norms without bias, scores not divided by
``sqrt(d_k)``, no biases anywhere. With :meth:`T5Config.t5`'s options it *is* Hugging Face's
``T5ForConditionalGeneration`` (:mod:`transformer_lib.models.hub`): T5 v1.0 (``t5-small``: ReLU, the
LM head tied to the embedding and fed the decoder's output times ``d_model ** -0.5``) or v1.1 and
Flan-T5 (gated GELU, an untied head, heads of width ``head_dim``).

These choices are all that T5 adds: its methods (``encode``, ``decode``, ``forward``, ``generate``, ``beam_search``,
``attention_maps``, ``parameter_counts``) are those of the 2017
:class:`~transformer_lib.models.transformer.Transformer`, written once in
:class:`~transformer_lib.models.transformer.EncoderDecoder`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .._validate import check_caches
from ..data.tokens import BOS, PAD
from ..nn.blocks import Decoder, Encoder
from ..nn.layers import Embeddings, FeedForward, RMSNorm, SwiGLU
from ..nn.multihead import Caches, KVCache, MultiHeadAttention
from .options import Pretrained, config_repr
from .transformer import EncoderDecoder


@dataclass
class T5Config:
    """The sizes and options of a :class:`T5`. The defaults are the book's small T5-like model; the
    options after ``bos_id`` make it T5 (:meth:`t5` sets them)."""

    __repr__ = config_repr

    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    d_ff: int = 256
    max_len: int = 64
    dropout: float = 0.0
    pad_id: int = PAD
    #: the decoder's start token (T5: the padding id, 0)
    bos_id: int = BOS
    #: T5's own layers (:class:`T5Encoder`, :class:`T5Decoder`): relative position biases instead of the
    #: sinusoidal encoding, RMS norms, unscaled scores, no biases. Every T5 checkpoint has all four.
    relative_attention: bool = field(default=False, repr=False)
    #: the relative position buckets per direction pair, and the distance from which all share the last one
    #: (T5: 32 and 128); with ``relative_attention`` only.
    relative_buckets: int = field(default=32, repr=False)
    relative_max_distance: int = field(default=128, repr=False)
    #: a head's width (T5's ``d_kv``); ``None``: ``d_model / num_heads``. Flan-T5-small: 6 heads of 64 in
    #: ``d_model`` 512. With ``relative_attention`` only.
    head_dim: int | None = field(default=None, repr=False)
    #: the feed-forward network: ``"gelu"``, ``"relu"`` (T5 v1.0) or, with ``relative_attention``,
    #: ``"gated-gelu"`` (T5 v1.1, Flan-T5: :class:`~transformer_lib.nn.layers.SwiGLU` with a tanh-GELU gate).
    activation: str = field(default="gelu", repr=False)
    #: the norms' epsilon (T5: 1e-6).
    norm_eps: float = field(default=1e-5, repr=False)
    #: the LM head is the embedding matrix, fed the decoder's output times ``d_model ** -0.5`` (T5 v1.0,
    #: whose embedding entries are large); otherwise its own ``nn.Linear`` (T5 v1.1 and Flan-T5).
    tie_embeddings: bool = field(default=False, repr=False)

    @classmethod
    def t5(cls, **sizes) -> T5Config:
        """T5's options with the given sizes; without sizes, ``t5-small`` (60M parameters: 6 + 6 layers,
        d_model 512, 8 heads, d_ff 2048, ReLU, tied embeddings, the 32,128-token vocabulary). For
        Flan-T5-small pass ``num_heads=6, head_dim=64, num_encoder_layers=8, num_decoder_layers=8,
        d_ff=1024, activation="gated-gelu", tie_embeddings=False``."""
        small = {"vocab_size": 32128, "d_model": 512, "num_heads": 8, "num_encoder_layers": 6}
        small |= {"num_decoder_layers": 6, "d_ff": 2048, "max_len": 512}
        options = {"pad_id": 0, "bos_id": 0, "relative_attention": True, "activation": "relu"}
        options |= {"norm_eps": 1e-6, "tie_embeddings": True}
        return cls(**{**small, **options, **sizes})


class RelativePositionBias(nn.Module):
    """T5's relative position bias: for each head, a learned scalar per bucket of the distance
    ``key_position - query_position``, added to the attention scores.

    Distances below ``buckets / 4`` (in the bidirectional case; ``buckets / 2`` causal) get a bucket each;
    larger ones share buckets whose width grows logarithmically up to ``max_distance``, beyond which all
    share the last bucket. The encoder's (``bidirectional``) keeps separate buckets for keys before and
    after the query; the decoder's sees only the past. ``weight``: ``(buckets, heads)``.
    """

    def __init__(self, num_heads: int, buckets: int = 32, max_distance: int = 128, *, bidirectional: bool):
        super().__init__()
        self.buckets, self.max_distance, self.bidirectional = buckets, max_distance, bidirectional
        self.bias = nn.Embedding(buckets, num_heads)

    def bucket(self, distance: torch.Tensor) -> torch.Tensor:
        """Integer ``distance`` (key minus query position) -> its bucket, of the same shape."""
        buckets, bucket = self.buckets, torch.zeros_like(distance)
        if self.bidirectional:
            buckets //= 2
            bucket = (distance > 0).long() * buckets  # keys after the query: the upper half
            distance = distance.abs()
        else:
            distance = -distance.clamp(max=0)  # a causal decoder sees no key after its query
        exact = buckets // 2
        # log-spaced buckets from `exact` to `max_distance` (float32, as Mesh TensorFlow and Hugging Face)
        log_ratio = torch.log(distance.float() / exact) / math.log(self.max_distance / exact)
        far = (exact + (log_ratio * (buckets - exact)).long()).clamp(max=buckets - 1)
        return bucket + torch.where(distance < exact, distance, far)

    def forward(self, seq_q: int, seq_k: int, start: int = 0) -> torch.Tensor:
        """The bias of queries at positions ``start .. start + seq_q - 1`` for keys ``0 .. seq_k - 1``:
        ``(1, heads, seq_q, seq_k)``."""
        device = self.bias.weight.device
        query = torch.arange(start, start + seq_q, device=device)[:, None]
        key = torch.arange(seq_k, device=device)[None, :]
        return self.bias(self.bucket(key - query)).permute(2, 0, 1)[None]  # (1, heads, seq_q, seq_k)


class T5Layer(nn.Module):
    """One T5 layer (encoder, or with ``cross`` decoder): each sublayer is ``x + Dropout(f(RMSNorm(x)))``
    with ``f`` self-attention (scores not divided by ``sqrt(d_k)``, the stack's position bias added),
    cross-attention to the encoder's output (decoder only), the feed-forward network. No biases.
    ``(batch, seq, d_model)`` -> same shape."""

    def __init__(self, c: T5Config, *, cross: bool):
        super().__init__()
        d = c.d_model
        attention = {"num_heads": c.num_heads, "dropout": c.dropout, "bias": False, "head_dim": c.head_dim}
        self.self_norm = RMSNorm(d, c.norm_eps)
        self.self_attn = MultiHeadAttention(d, **attention, scale=1.0)
        self.cross_norm = RMSNorm(d, c.norm_eps) if cross else None
        self.cross_attn = MultiHeadAttention(d, **attention, scale=1.0) if cross else None
        self.ffn_norm = RMSNorm(d, c.norm_eps)
        if c.activation == "gated-gelu":
            self.ffn = SwiGLU(d, c.d_ff, c.dropout, activation="gelu_tanh")
        else:
            self.ffn = FeedForward(d, c.d_ff, c.dropout, c.activation, bias=False)
        self.dropout = nn.Dropout(c.dropout)

    def forward(
        self,
        x: torch.Tensor,
        position_bias: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        *,
        memory: torch.Tensor | None = None,
        src_padding_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """``x`` ``(batch, seq, d_model)``; ``position_bias`` ``(1, heads, seq, seq_k)``; ``key_padding_mask``
        ``(batch, seq_k)``, True at real tokens. A decoder layer attends causally, through ``cache`` when
        given, and to ``memory`` ``(batch, seq_s, d_model)`` under ``src_padding_mask``. Unchecked: its
        stack checks the inputs once."""
        causal = self.cross_attn is not None
        h = self.self_attn(
            self.self_norm(x, checked=True),
            key_padding_mask=key_padding_mask,
            is_causal=causal,
            cache=cache,
            position_bias=position_bias,
            checked=True,
        )[0]
        x = x + self.dropout(h)
        if causal:
            h = self.cross_attn(
                self.cross_norm(x, checked=True), memory, key_padding_mask=src_padding_mask, checked=True
            )[0]
            x = x + self.dropout(h)
        return x + self.dropout(self.ffn(self.ffn_norm(x, checked=True), checked=True))


class T5Encoder(nn.Module):
    """T5's encoder stack: :class:`T5Layer` s sharing one bidirectional :class:`RelativePositionBias`
    (only the first layer has one in T5's checkpoints; the others reuse its bias), a final RMSNorm,
    dropout. The interface of :class:`~transformer_lib.nn.blocks.Encoder`."""

    def __init__(self, c: T5Config):
        super().__init__()
        self.relative_bias = RelativePositionBias(
            c.num_heads, c.relative_buckets, c.relative_max_distance, bidirectional=True
        )
        self.layers = nn.ModuleList(T5Layer(c, cross=False) for _ in range(c.num_encoder_layers))
        self.norm = RMSNorm(c.d_model, c.norm_eps)
        self.dropout = nn.Dropout(c.dropout)

    def forward(
        self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None, *, checked: bool = False
    ) -> torch.Tensor:
        """``(batch, seq, d_model)`` and the ``(batch, seq)`` padding mask (True at real tokens) -> same shape."""
        seq = x.shape[1]
        if not checked and len(self.layers):
            self.layers[0].self_norm.check_input(x)
            self.layers[0].self_attn.check_inputs(x, None, None, key_padding_mask, False, None)
        bias = self.relative_bias(seq, seq)  # (1, heads, seq, seq), once for every layer
        for layer in self.layers:
            x = layer(x, bias, key_padding_mask)
        return self.dropout(self.norm(x, checked=True))


class T5Decoder(nn.Module):
    """T5's decoder stack: :class:`T5Layer` s with cross-attention sharing one causal
    :class:`RelativePositionBias`, a final RMSNorm, dropout. The interface of
    :class:`~transformer_lib.nn.blocks.Decoder`, ``new_caches`` included."""

    def __init__(self, c: T5Config):
        super().__init__()
        self.relative_bias = RelativePositionBias(
            c.num_heads, c.relative_buckets, c.relative_max_distance, bidirectional=False
        )
        self.layers = nn.ModuleList(T5Layer(c, cross=True) for _ in range(c.num_decoder_layers))
        self.norm = RMSNorm(c.d_model, c.norm_eps)
        self.dropout = nn.Dropout(c.dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_padding_mask: torch.Tensor | None = None,
        src_padding_mask: torch.Tensor | None = None,
        *,
        caches: Caches | None = None,
        checked: bool = False,
    ) -> torch.Tensor:
        """``(batch, seq_t, d_model)`` and memory ``(batch, seq_s, d_model)`` -> ``(batch, seq_t, d_model)``.

        With ``caches`` (:meth:`new_caches`), ``x`` holds the positions after the cached ones, and their
        position biases start there.
        """
        past = 0 if caches is None else caches.seq_len
        if not checked:
            check_caches(caches, len(self.layers))
            if len(self.layers):
                first, cache = self.layers[0], None if caches is None else caches[0]
                first.self_norm.check_input(x)
                first.self_attn.check_inputs(x, None, None, tgt_padding_mask, True, cache)
                first.cross_attn.check_inputs(x, memory, None, src_padding_mask, False, None)
        bias = self.relative_bias(x.shape[1], past + x.shape[1], start=past)  # (1, heads, seq_t, past + seq_t)
        for i, layer in enumerate(self.layers):
            cache = None if caches is None else caches[i]
            x = layer(x, bias, tgt_padding_mask, memory=memory, src_padding_mask=src_padding_mask, cache=cache)
        return self.dropout(self.norm(x, checked=True))

    def new_caches(self) -> Caches:
        """Empty :class:`~transformer_lib.nn.multihead.Caches`, one per layer."""
        return Caches(len(self.layers))


class TiedHead(nn.Module):
    """T5 v1.0's output layer: the decoder's output times ``d_model ** -0.5``, scored against the
    embedding matrix ``weight`` ``(vocab, d_model)``, shared with the embedding (no bias)."""

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        self.weight = embedding.weight
        self.scale = embedding.embedding_dim**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, seq, d_model)`` -> ``(batch, seq, vocab)`` logits."""
        return nn.functional.linear(x * self.scale, self.weight)


class T5(EncoderDecoder, Pretrained):
    """Encoder-decoder Transformer for sequence-to-sequence tasks, T5's configuration of
    :class:`~transformer_lib.models.transformer.EncoderDecoder`: one embedding table for source and
    target, pre-norm blocks (the library's with GELU, or T5's own with ``relative_attention``).
    ``forward(src, tgt_in, ...)`` returns next-token logits."""

    config_class = T5Config

    def __init__(self, config: T5Config):
        super().__init__()
        self.config = c = config
        if not c.relative_attention and (c.activation == "gated-gelu" or c.head_dim is not None):
            raise ValueError(
                f"activation='gated-gelu' and head_dim need relative_attention=True (T5's own layers), got "
                f"activation={c.activation!r} and head_dim={c.head_dim}"
            )
        if c.relative_attention:
            # T5 embeds tokens alone (no scale, no positions): its attention adds the positions
            self.embed = Embeddings(c.vocab_size, c.d_model, c.max_len, c.dropout, positions="none", scale=False)
            self.encoder, self.decoder = T5Encoder(c), T5Decoder(c)
        else:
            self.embed = Embeddings(c.vocab_size, c.d_model, c.max_len, c.dropout)
            sizes = (c.d_model, c.num_heads, c.d_ff, c.dropout)
            options = {"norm_first": True, "activation": c.activation, "norm_eps": c.norm_eps}
            self.encoder = Encoder(c.num_encoder_layers, *sizes, **options)
            self.decoder = Decoder(c.num_decoder_layers, *sizes, **options)
        if c.tie_embeddings:
            self.lm_head = TiedHead(self.embed.token)
        else:
            self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=not c.relative_attention)

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
