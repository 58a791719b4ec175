"""A BERT-like encoder-only model: token embeddings, bidirectional self-attention blocks, two heads.

Every position attends to every real token on both sides (only padding is masked), which is what
lets BERT fill a blank from its left *and* right context (Devlin et al., 2019). The blocks are the
library's :class:`~transformer_lib.nn.blocks.EncoderBlock` (post-norm, GELU, as in BERT); by default
positions use the library's sinusoidal encoding and the embeddings are scaled, as in chapter 8.

With :meth:`BertConfig.bert`'s options (learned positions, token types, a LayerNorm over the embeddings,
epsilon 1e-12, the LM head's decoder tied to the token embedding, no classification head) it *is*
BERT: Hugging Face's ``BertForMaskedLM`` weights load into it (:mod:`transformer_lib.models.hub`).

Heads:

* the **language-model head** ``lm_head`` scores every vocabulary token at every position
  (``(batch, seq, vocab)``); it is trained by masked language modelling, with
  :func:`transformer_lib.training.objectives.mask_tokens` and :func:`~transformer_lib.training.objectives.token_loss`;
* the **classification head** reads the state of the first token (``<bos>``, BERT's ``[CLS]``) and
  scores ``num_classes`` classes (``(batch, num_classes)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..data.tokens import PAD
from ..nn.blocks import Encoder
from ..nn.layers import Embeddings
from .options import Pretrained, config_repr


@dataclass
class BertConfig:
    """The sizes and options of a :class:`Bert`. The defaults are the book's small BERT-like model; the
    options after ``num_classes`` make it BERT (:meth:`bert` sets them)."""

    __repr__ = config_repr

    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 256
    max_len: int = 64
    dropout: float = 0.0
    pad_id: int = PAD
    #: the classification head's classes; 0: no classification head (``BertForMaskedLM`` has none).
    num_classes: int = 2
    #: ``"sinusoidal"`` (the 2017 encoding) or ``"learned"``: a trained ``(max_len, d_model)`` table (BERT).
    positions: str = field(default="sinusoidal", repr=False)
    #: multiply the token embeddings by ``sqrt(d_model)`` (the 2017 paper); BERT does not.
    embed_scale: bool = field(default=True, repr=False)
    #: the number of token types (segments) with an embedding each; 0: none. BERT: 2 (sentence A and B).
    type_vocab_size: int = field(default=0, repr=False)
    #: a LayerNorm over the summed embeddings, before the first block (BERT).
    embedding_norm: bool = field(default=False, repr=False)
    #: every LayerNorm's epsilon (BERT: 1e-12).
    norm_eps: float = field(default=1e-5, repr=False)
    #: the LM head's last ``nn.Linear`` shares its ``(vocab, d_model)`` weight with the token embedding and
    #: keeps its own bias (BERT).
    tie_embeddings: bool = field(default=False, repr=False)

    @classmethod
    def bert(cls, **sizes) -> BertConfig:
        """BERT's options with the given sizes; without sizes, BERT-base (110M parameters: 12 layers,
        d_model 768, 12 heads, d_ff 3072, 512 positions, ``bert-base-uncased``'s 30,522 tokens, [PAD] = 0)."""
        base = {"vocab_size": 30522, "d_model": 768, "num_heads": 12, "num_layers": 12, "d_ff": 3072, "max_len": 512}
        options = {
            "pad_id": 0,
            "num_classes": 0,
            "positions": "learned",
            "embed_scale": False,
            "type_vocab_size": 2,
            "embedding_norm": True,
            "norm_eps": 1e-12,
            "tie_embeddings": True,
        }
        return cls(**{**base, **options, **sizes})


class Bert(Pretrained):
    """Encoder-only Transformer with a masked-language-model head and a classification head."""

    config_class = BertConfig

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = c = config
        self.embed = Embeddings(
            c.vocab_size,
            c.d_model,
            c.max_len,
            c.dropout,
            positions=c.positions,
            scale=c.embed_scale,
            type_vocab_size=c.type_vocab_size,
            norm=c.embedding_norm,
            norm_eps=c.norm_eps,
        )
        self.encoder = Encoder(
            c.num_layers, c.d_model, c.num_heads, c.d_ff, c.dropout, activation="gelu", norm_eps=c.norm_eps
        )
        # BERT's MLM head: a transform (Linear, GELU, LayerNorm), then the scores of every token
        self.lm_head = nn.Sequential(
            nn.Linear(c.d_model, c.d_model),
            nn.GELU(),
            nn.LayerNorm(c.d_model, eps=c.norm_eps),
            nn.Linear(c.d_model, c.vocab_size),
        )
        if c.tie_embeddings:
            # one (vocab, d_model) matrix embeds a token and scores it: the same parameter, not a copy
            self.lm_head[3].weight = self.embed.token.weight
        self.cls_head = nn.Linear(c.d_model, c.num_classes) if c.num_classes > 0 else None

    def encode(self, ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, seq, d_model)`` contextual states (padding masked as keys).

        ``token_type_ids``: ``(batch, seq)`` segment ids (with ``type_vocab_size > 0``; ``None``: all 0).
        """
        # the door: (batch, seq) integers of the vocabulary, at most max_len positions
        x = self.embed(ids, token_type_ids=token_type_ids)
        return self.encoder(x, ids != self.config.pad_id, checked=True)  # padding mask: True at real tokens

    def forward(self, ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, seq, vocab)`` masked-language-model logits at every position."""
        return self.lm_head(self.encode(ids, token_type_ids))

    def classify(self, ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, num_classes)`` logits, from the first token's state."""
        if self.cls_head is None:
            raise ValueError("classify needs a classification head: build the Bert with num_classes > 0")
        return self.cls_head(self.encode(ids, token_type_ids)[:, 0])
