"""A GPT-like decoder-only language model: token embeddings, causal self-attention blocks, an LM head.

The stack is the library's :class:`~transformer_lib.nn.blocks.DecoderOnly`: self-attention under the
causal mask (position t sees positions 0..t, never the future) and no cross-attention, since there is
no encoder. Pre-norm, GELU and a final LayerNorm follow GPT-2 (Radford et al., 2019); by default
positions use the library's sinusoidal encoding and the embeddings are scaled, as in chapter 8.

With :meth:`GPTConfig.gpt2`'s options (learned positions, no embedding scale, GELU's tanh
approximation, the LM head tied to the token embedding) it *is* GPT-2: Hugging Face's
``GPT2LMHeadModel`` weights load into it (:mod:`transformer_lib.models.hub`) and give the same logits.

Shapes: ids ``(batch, seq)`` -> logits ``(batch, seq, vocab)``; the logits at position t score the
token at t + 1. Right padding needs no mask here: a real token never sees a later (pad) position.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .._validate import check_caches
from ..data.tokens import PAD
from ..nn.blocks import DecoderOnly
from ..nn.layers import Embeddings
from ..nn.multihead import Caches
from .generation import CausalLM
from .options import Pretrained, config_repr


@dataclass
class GPTConfig:
    """The sizes and options of a :class:`GPT`. The defaults are the book's small GPT-like model; the
    options after ``pad_id`` make it GPT-2 (:meth:`gpt2` sets them)."""

    __repr__ = config_repr

    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 256
    max_len: int = 64
    dropout: float = 0.0
    pad_id: int = PAD
    #: ``"sinusoidal"`` (the 2017 encoding) or ``"learned"``: a trained ``(max_len, d_model)`` table (GPT-2).
    positions: str = field(default="sinusoidal", repr=False)
    #: multiply the token embeddings by ``sqrt(d_model)`` (the 2017 paper); GPT-2 does not.
    embed_scale: bool = field(default=True, repr=False)
    #: the feed-forward activation: ``"gelu"`` (exact, with erf) or ``"gelu_tanh"`` (GPT-2's approximation).
    activation: str = field(default="gelu", repr=False)
    #: the LayerNorms' epsilon (GPT-2: 1e-5, torch's default).
    norm_eps: float = field(default=1e-5, repr=False)
    #: the LM head is the token embedding's ``(vocab, d_model)`` matrix, shared, without a bias (GPT-2);
    #: otherwise a separate ``nn.Linear(d_model, vocab)`` with a bias.
    tie_embeddings: bool = field(default=False, repr=False)

    @classmethod
    def gpt2(cls, **sizes) -> GPTConfig:
        """GPT-2's options with the given sizes; without sizes, GPT-2 small (124M parameters: 12 layers,
        d_model 768, 12 heads, d_ff 3072, 1024 positions, the 50,257-token vocabulary)."""
        small = {"vocab_size": 50257, "d_model": 768, "num_heads": 12, "num_layers": 12, "d_ff": 3072, "max_len": 1024}
        options = {"positions": "learned", "embed_scale": False, "activation": "gelu_tanh", "tie_embeddings": True}
        return cls(**{**small, **options, **sizes})


class GPT(CausalLM, Pretrained):
    """Decoder-only Transformer language model (``generate`` from :class:`~.generation.CausalLM`)."""

    config_class = GPTConfig

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = c = config
        self.embed = Embeddings(
            c.vocab_size, c.d_model, c.max_len, c.dropout, positions=c.positions, scale=c.embed_scale
        )
        self.blocks = DecoderOnly(
            c.num_layers, c.d_model, c.num_heads, c.d_ff, c.dropout, activation=c.activation, norm_eps=c.norm_eps
        )
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=not c.tie_embeddings)
        if c.tie_embeddings:
            # one (vocab, d_model) matrix embeds a token and scores it: the same parameter, not a copy
            self.lm_head.weight = self.embed.token.weight

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
