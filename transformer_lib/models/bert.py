"""A BERT-like encoder-only model: token embeddings, bidirectional self-attention blocks, two heads.

Every position attends to every real token on both sides (only padding is masked), which is what
lets BERT fill a blank from its left *and* right context (Devlin et al., 2019). The blocks are the
library's :class:`~transformer_lib.nn.blocks.EncoderBlock` (post-norm, GELU, as in BERT); positions use
the library's sinusoidal encoding (BERT learns them).

Heads:

* the **language-model head** ``lm_head`` scores every vocabulary token at every position
  (``(batch, seq, vocab)``); it is trained by masked language modelling, with
  :func:`transformer_lib.training.objectives.mask_tokens` and :func:`~transformer_lib.training.objectives.token_loss`;
* the **classification head** reads the state of the first token (``<bos>``, BERT's ``[CLS]``) and
  scores ``num_classes`` classes (``(batch, num_classes)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.tokens import PAD
from ..nn.blocks import Encoder
from ..nn.layers import Embeddings


@dataclass
class BertConfig:
    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    d_ff: int = 256
    max_len: int = 64
    dropout: float = 0.0
    pad_id: int = PAD
    num_classes: int = 2


class Bert(nn.Module):
    """Encoder-only Transformer with a masked-language-model head and a classification head."""

    config_class = BertConfig

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = c = config
        self.embed = Embeddings(c.vocab_size, c.d_model, c.max_len, c.dropout)
        self.encoder = Encoder(c.num_layers, c.d_model, c.num_heads, c.d_ff, c.dropout, activation="gelu")
        self.lm_head = nn.Sequential(
            nn.Linear(c.d_model, c.d_model), nn.GELU(), nn.LayerNorm(c.d_model), nn.Linear(c.d_model, c.vocab_size)
        )
        self.cls_head = nn.Linear(c.d_model, c.num_classes)

    def encode(self, ids: torch.Tensor) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, seq, d_model)`` contextual states (padding masked as keys)."""
        x = self.embed(ids)  # the door: (batch, seq) integers of the vocabulary, at most max_len positions
        return self.encoder(x, ids != self.config.pad_id, checked=True)  # padding mask: True at real tokens

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, seq, vocab)`` masked-language-model logits at every position."""
        return self.lm_head(self.encode(ids))

    def classify(self, ids: torch.Tensor) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, num_classes)`` logits, from the first token's state."""
        return self.cls_head(self.encode(ids)[:, 0])
