"""Encoder and decoder blocks and their stacks, built from :mod:`multihead` and :mod:`layers`.

**Mask convention**: boolean, ``True`` = may attend. Padding masks are ``(batch, seq)`` with
``True`` at real tokens.

Which mask goes where:

* encoder self-attention: the source padding mask;
* decoder self-attention: the target padding mask *and* the subsequent (causal) mask;
* encoder-decoder (cross) attention: the *source* padding mask, since its keys are encoder positions.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import FeedForward, ResidualSublayer
from .multihead import KVCache, MultiHeadAttention


class EncoderBlock(nn.Module):
    """Self-attention then feed-forward, each in a residual sublayer.

    With ``norm_first=False`` and ``activation="relu"`` this is the paper's encoder layer and matches
    ``nn.TransformerEncoderLayer(..., batch_first=True)`` given the same weights.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.ffn = FeedForward(d_model, d_ff, dropout, activation)
        self.sublayer1 = ResidualSublayer(d_model, dropout, norm_first)
        self.sublayer2 = ResidualSublayer(d_model, dropout, norm_first)

    def forward(
        self,
        x: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
        causal: bool = False,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Encode one layer.

        Args:
            x: ``(batch, seq, d_model)``.
            padding_mask: ``(batch, seq)``, True at real tokens (with a cache: ``(batch, cached + seq)``).
            causal: add the subsequent mask, which turns the block into a decoder-only (GPT-style)
                block: self-attention that cannot see the future, and no cross-attention.
            cache: the self-attention's :class:`KVCache`, for generation one token at a time.
        """
        x = self.sublayer1(
            x, lambda h: self.self_attn(h, key_padding_mask=padding_mask, is_causal=causal, cache=cache)[0]
        )
        return self.sublayer2(x, self.ffn)


class DecoderBlock(nn.Module):
    """Masked self-attention, cross-attention to the encoder's output, then feed-forward."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.ffn = FeedForward(d_model, d_ff, dropout, activation)
        self.sublayer1 = ResidualSublayer(d_model, dropout, norm_first)
        self.sublayer2 = ResidualSublayer(d_model, dropout, norm_first)
        self.sublayer3 = ResidualSublayer(d_model, dropout, norm_first)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_padding_mask: torch.Tensor | None = None,
        memory_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Decode one layer.

        Args:
            x: ``(batch, seq_t, d_model)`` target-side states.
            memory: ``(batch, seq_s, d_model)`` the encoder's output.
            tgt_padding_mask: ``(batch, seq_t)``, True at real target tokens.
            memory_padding_mask: ``(batch, seq_s)``, True at real source tokens.
        """
        x = self.sublayer1(x, lambda h: self.self_attn(h, key_padding_mask=tgt_padding_mask, is_causal=True)[0])
        x = self.sublayer2(x, lambda h: self.cross_attn(h, memory, key_padding_mask=memory_padding_mask)[0])
        return self.sublayer3(x, self.ffn)


class Encoder(nn.Module):
    """A stack of ``num_layers`` encoder blocks (plus a final LayerNorm when ``norm_first``)."""

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderBlock(d_model, num_heads, d_ff, dropout, norm_first, activation) for _ in range(num_layers)
        )
        # Pre-norm blocks leave the residual stream unnormalized; normalize it once at the end.
        self.norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
        causal: bool = False,
        caches: list[KVCache] | None = None,
    ) -> torch.Tensor:
        """``(batch, seq, d_model)`` -> ``(batch, seq, d_model)``.

        ``causal`` as in :class:`EncoderBlock`; ``caches``: one :class:`KVCache` per layer (see
        :meth:`new_caches`), for decoder-only generation one token at a time.
        """
        if caches is not None and len(caches) != len(self.layers):
            raise ValueError(f"caches must hold one KVCache per layer ({len(self.layers)}), got {len(caches)}")
        for i, layer in enumerate(self.layers):
            x = layer(x, padding_mask, causal, None if caches is None else caches[i])
        return self.norm(x)

    def new_caches(self) -> list[KVCache]:
        """One empty :class:`KVCache` per layer."""
        return [KVCache() for _ in self.layers]


class Decoder(nn.Module):
    """A stack of ``num_layers`` decoder blocks (plus a final LayerNorm when ``norm_first``)."""

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        self.layers = nn.ModuleList(
            DecoderBlock(d_model, num_heads, d_ff, dropout, norm_first, activation) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_padding_mask: torch.Tensor | None = None,
        memory_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(batch, seq_t, d_model)`` and memory ``(batch, seq_s, d_model)`` -> ``(batch, seq_t, d_model)``."""
        for layer in self.layers:
            x = layer(x, memory, tgt_padding_mask, memory_padding_mask)
        return self.norm(x)
