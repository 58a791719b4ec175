"""The encoder-decoder Transformer of Vaswani et al. (2017), in one readable file.

    src ids ──Embeddings──Encoder──────────────┐ memory (batch, seq_s, d_model)
                                               ▼
    tgt_in ids ──Embeddings──Decoder (masked self-attn, cross-attn, FFN) ──Linear── logits

Every part comes from the library: :class:`~transformer_lib.layers.Embeddings` (scaled token
embedding + sinusoidal encoding), :class:`~transformer_lib.blocks.Encoder` and
:class:`~transformer_lib.blocks.Decoder`. This file only wires them and adds the output projection.

**Mask convention**: boolean, ``True`` = may be attended to. Padding masks are ``(batch, seq)`` with
``True`` at real tokens. The decoder's causal mask is built inside the decoder blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..blocks import Decoder, Encoder
from ..data import BOS, EOS, PAD
from ..layers import Embeddings
from ..multihead import MultiHeadAttention
from ..validate import check_bool_mask, check_rank, check_token_ids, shape_str


@dataclass
class TransformerConfig:
    """The sizes of a :class:`Transformer`. The paper's base model is ``d_model=512, num_heads=8,
    d_ff=2048, num_encoder_layers=num_decoder_layers=6, dropout=0.1``."""

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    d_ff: int = 128
    num_encoder_layers: int = 2
    num_decoder_layers: int = 2
    dropout: float = 0.0
    max_len: int = 128
    norm_first: bool = False
    activation: str = "relu"


def _check_padding_mask(name: str, mask: torch.Tensor | None, ids: torch.Tensor, layout: str) -> None:
    if mask is None:
        return
    check_bool_mask(name, mask)
    if mask.shape != ids.shape:
        raise ValueError(f"{name} must have shape {layout} = {tuple(ids.shape)}, got {shape_str(mask)}")


class Transformer(nn.Module):
    """Encoder-decoder Transformer: ``forward(src, tgt_in, ...)`` returns next-token logits."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        c = self.config = config
        self.src_embed = Embeddings(c.src_vocab_size, c.d_model, c.max_len, c.dropout)
        self.tgt_embed = Embeddings(c.tgt_vocab_size, c.d_model, c.max_len, c.dropout)
        self.encoder = Encoder(
            c.num_encoder_layers, c.d_model, c.num_heads, c.d_ff, c.dropout, c.norm_first, c.activation
        )
        self.decoder = Decoder(
            c.num_decoder_layers, c.d_model, c.num_heads, c.d_ff, c.dropout, c.norm_first, c.activation
        )
        self.output = nn.Linear(c.d_model, c.tgt_vocab_size)  # d_model -> one logit per target token

    def encode(self, src: torch.Tensor, src_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``src`` ``(batch, seq_s)`` ids -> memory ``(batch, seq_s, d_model)``."""
        check_token_ids("src", src, "(batch, seq_s)")
        _check_padding_mask("src_padding_mask", src_padding_mask, src, "(batch, seq_s)")
        return self.encoder(self.src_embed(src), src_padding_mask)

    def decode(
        self,
        tgt_in: torch.Tensor,
        memory: torch.Tensor,
        tgt_padding_mask: torch.Tensor | None = None,
        src_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``tgt_in`` ``(batch, seq_t)`` ids and memory ``(batch, seq_s, d_model)`` -> logits
        ``(batch, seq_t, tgt_vocab_size)``; position ``t`` predicts the token after ``tgt_in[:, :t+1]``."""
        check_token_ids("tgt_in", tgt_in, "(batch, seq_t)")
        _check_padding_mask("tgt_padding_mask", tgt_padding_mask, tgt_in, "(batch, seq_t)")
        x = self.decoder(self.tgt_embed(tgt_in), memory, tgt_padding_mask, src_padding_mask)
        return self.output(x)

    def forward(
        self,
        src: torch.Tensor,
        tgt_in: torch.Tensor,
        src_padding_mask: torch.Tensor | None = None,
        tgt_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Teacher-forced forward pass: every target position at once.

        Args:
            src: ``(batch, seq_s)`` source ids.
            tgt_in: ``(batch, seq_t)`` decoder input ids (``BOS`` then the target, shifted right).
            src_padding_mask: ``(batch, seq_s)``, True at real source tokens (None: no padding).
            tgt_padding_mask: ``(batch, seq_t)``, True at real target tokens (None: no padding).

        Returns:
            logits ``(batch, seq_t, tgt_vocab_size)``.
        """
        if tgt_in.dim() == 2 and src.dim() == 2 and tgt_in.shape[0] != src.shape[0]:
            raise ValueError(
                f"src and tgt_in must have the same batch size, got {shape_str(src)} and {shape_str(tgt_in)}"
            )
        memory = self.encode(src, src_padding_mask)
        return self.decode(tgt_in, memory, tgt_padding_mask, src_padding_mask)

    @torch.no_grad()
    def greedy_decode(
        self,
        src: torch.Tensor,
        src_padding_mask: torch.Tensor | None = None,
        max_len: int = 32,
        bos_id: int = BOS,
        eos_id: int = EOS,
        pad_id: int = PAD,
    ) -> torch.Tensor:
        """Generate one token at a time, each time the most likely one, until ``EOS`` or ``max_len``.

        The source is encoded once; the decoder then runs once per generated token on the prefix so
        far. A sequence that has produced ``EOS`` gets ``pad_id`` afterwards; the loop stops when
        every sequence has finished or after ``max_len`` new tokens.

        Returns:
            ``(batch, 1 + steps)`` ids starting with ``bos_id``; ``steps <= max_len``.
        """
        if max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {max_len}")
        memory = self.encode(src, src_padding_mask)  # (batch, seq_s, d_model), computed once
        ys = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            logits = self.decode(ys, memory, None, src_padding_mask)[:, -1]  # (batch, vocab): last position
            next_id = logits.argmax(dim=-1).masked_fill(done, pad_id)
            ys = torch.cat([ys, next_id[:, None]], dim=1)
            done |= next_id == eos_id
            if done.all():
                break
        return ys

    @torch.no_grad()
    def attention_maps(
        self,
        src: torch.Tensor,
        tgt_in: torch.Tensor,
        src_padding_mask: torch.Tensor | None = None,
        tgt_padding_mask: torch.Tensor | None = None,
    ) -> dict[str, list[torch.Tensor]]:
        """Run :meth:`forward` and collect every attention module's weights.

        Returns:
            ``{"encoder": [...], "decoder_self": [...], "cross": [...]}``, one tensor per layer:
            ``(batch, heads, seq_s, seq_s)``, ``(batch, heads, seq_t, seq_t)``, ``(batch, heads, seq_t, seq_s)``.
        """
        modules = {
            "encoder": [layer.self_attn for layer in self.encoder.layers],
            "decoder_self": [layer.self_attn for layer in self.decoder.layers],
            "cross": [layer.cross_attn for layer in self.decoder.layers],
        }
        maps: dict[str, list[torch.Tensor]] = {name: [] for name in modules}

        def recorder(name: str):
            def hook(module: MultiHeadAttention, args, kwargs, output):
                # Call forward again asking for the weights (forward, not __call__: no hook recursion).
                maps[name].append(module.forward(*args, **{**kwargs, "need_weights": True})[1])

            return hook

        handles = [
            m.register_forward_hook(recorder(name), with_kwargs=True) for name, ms in modules.items() for m in ms
        ]
        try:
            self(src, tgt_in, src_padding_mask, tgt_padding_mask)
        finally:
            for h in handles:
                h.remove()
        return maps

    def parameter_counts(self) -> dict[str, int]:
        """Number of parameters of each component, plus ``"total"``."""
        groups = {
            "source embedding": self.src_embed,
            "target embedding": self.tgt_embed,
            "encoder self-attention": [layer.self_attn for layer in self.encoder.layers],
            "encoder feed-forward": [layer.ffn for layer in self.encoder.layers],
            "encoder layer norms": [
                *(m.ln for layer in self.encoder.layers for m in (layer.sublayer1, layer.sublayer2)),
                self.encoder.norm,
            ],
            "decoder self-attention": [layer.self_attn for layer in self.decoder.layers],
            "decoder cross-attention": [layer.cross_attn for layer in self.decoder.layers],
            "decoder feed-forward": [layer.ffn for layer in self.decoder.layers],
            "decoder layer norms": [
                *(m.ln for layer in self.decoder.layers for m in (layer.sublayer1, layer.sublayer2, layer.sublayer3)),
                self.decoder.norm,
            ],
            "output projection": self.output,
        }
        counts = {}
        for name, mods in groups.items():
            mods = mods if isinstance(mods, list) else [mods]
            counts[name] = sum(p.numel() for m in mods for p in m.parameters())
        counts["total"] = sum(p.numel() for p in self.parameters())
        return counts


def sequence_loss(logits: torch.Tensor, tgt_out: torch.Tensor, pad_id: int = PAD) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` ``(batch, seq_t, vocab)`` against ``tgt_out`` ``(batch, seq_t)``,
    over the non-padding positions only."""
    check_rank("logits", logits, 3, "(batch, seq_t, vocab)")
    if logits.shape[:2] != tgt_out.shape:
        raise ValueError(
            f"tgt_out must have shape (batch, seq_t) = {tuple(logits.shape[:2])}, got {shape_str(tgt_out)}"
        )
    return nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=pad_id)


def exact_match(generated: torch.Tensor, tgt_out: torch.Tensor, pad_id: int = PAD) -> torch.Tensor:
    """Which generated sequences equal their target, ``EOS`` included.

    Args:
        generated: ``(batch, 1 + steps)`` ids from :meth:`Transformer.greedy_decode` (starting with BOS).
        tgt_out: ``(batch, seq_t)`` the targets, ending with EOS then padding.

    Returns:
        ``(batch,)`` boolean.
    """
    check_rank("generated", generated, 2, "(batch, 1 + steps)")
    check_rank("tgt_out", tgt_out, 2, "(batch, seq_t)")
    pred = generated[:, 1:]  # drop BOS
    width = max(pred.shape[1], tgt_out.shape[1])
    pred = nn.functional.pad(pred, (0, width - pred.shape[1]), value=pad_id)
    target = nn.functional.pad(tgt_out, (0, width - tgt_out.shape[1]), value=pad_id)
    real = target != pad_id
    return ((pred == target) | ~real).all(dim=1)
