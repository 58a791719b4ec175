"""The encoder-decoder Transformer of Vaswani et al. (2017), in one readable file.

    src ids ──Embeddings──Encoder──────────────┐ memory (batch, seq_s, d_model)
                                               ▼
    tgt_in ids ──Embeddings──Decoder (masked self-attn, cross-attn, FFN) ──Linear── logits

Every part comes from the library: :class:`~transformer_lib.nn.layers.Embeddings` (scaled token
embedding + sinusoidal encoding), :class:`~transformer_lib.nn.blocks.Encoder` and
:class:`~transformer_lib.nn.blocks.Decoder`. This file only wires them and adds the output projection.

**Mask convention**: boolean, ``True`` = may be attended to. Padding masks are ``(batch, seq)`` with
``True`` at real tokens. The decoder's causal mask is built inside the decoder blocks.

The model has the contract of every model of the library: ``config_class``, ``lm_head``, ``generate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .._validate import check_padding_mask, check_positions, check_rank, shape_str
from ..data.tokens import BOS, PAD
from ..nn.blocks import Decoder, Encoder
from ..nn.layers import Embeddings, RMSNorm
from ..nn.multihead import Caches, attention_weights
from .generation import Generates, check_prompt


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
    pad_id: int = PAD
    bos_id: int = BOS  # the decoder's start token
    # One matrix for the source embedding, the target embedding and the output projection (section
    # 3.4 of the paper, with a vocabulary shared by both languages): needs src_vocab_size == tgt_vocab_size.
    tie_embeddings: bool = False


class EncoderDecoder(Generates):
    """What every encoder-decoder of the library does, written once: :meth:`encode`, :meth:`decode`,
    :meth:`forward`, :meth:`attention_maps` and :meth:`parameter_counts`, and ``generate`` and
    ``beam_search`` from :class:`~transformer_lib.models.generation.Generates` (the source is encoded
    once, then the decoder writes from ``<bos>``).

    A subclass builds the parts and chooses their configuration: ``src_embed`` and ``tgt_embed``
    (:class:`~transformer_lib.nn.layers.Embeddings`; one module for both where the vocabulary is shared),
    an :class:`~transformer_lib.nn.blocks.Encoder`, a :class:`~transformer_lib.nn.blocks.Decoder`, ``lm_head``
    (``d_model`` -> one logit per target token), ``config`` (with ``pad_id``, ``bos_id`` and ``max_len``)
    and ``src_vocab_size``. :class:`Transformer` (the 2017 paper) and
    :class:`~transformer_lib.models.t5.T5` are two such configurations.
    """

    src_embed: Embeddings
    tgt_embed: Embeddings

    def encode(
        self, src: torch.Tensor, src_padding_mask: torch.Tensor | None = None, *, checked: bool = False
    ) -> torch.Tensor:
        """``src`` ``(batch, seq_s)`` ids -> memory ``(batch, seq_s, d_model)``.

        ``src_padding_mask``: ``(batch, seq_s)``, True at real tokens; ``None``: ``src != pad_id``.
        Both are checked here, at the door (the ids' values in eager mode off the meta device), unless
        ``checked=True`` (generation checks ``src`` once); the encoder runs unchecked.
        """
        if not checked:
            self.src_embed.check_ids(src, name="src")
            check_padding_mask("src_padding_mask", src_padding_mask, src, "(batch, seq_s)")
        x = self.src_embed(src, name="src", checked=True)
        mask = src != self.config.pad_id if src_padding_mask is None else src_padding_mask
        return self.encoder(x, mask, checked=True)

    def check_target(self, tgt_in: torch.Tensor, tgt_padding_mask: torch.Tensor | None = None, start: int = 0) -> None:
        """The checks of :meth:`decode`'s target: ``tgt_in`` ``(batch, seq_t)`` ids of the vocabulary at
        positions ``start ..`` within ``max_len``, and its padding mask."""
        self.tgt_embed.check_ids(tgt_in, start, name="tgt_in")
        check_padding_mask("tgt_padding_mask", tgt_padding_mask, tgt_in, "(batch, seq_t)")

    def decode(
        self,
        tgt_in: torch.Tensor,
        memory: torch.Tensor,
        tgt_padding_mask: torch.Tensor | None = None,
        src_padding_mask: torch.Tensor | None = None,
        *,
        caches: Caches | None = None,
        checked: bool = False,
    ) -> torch.Tensor:
        """``tgt_in`` ``(batch, seq_t)`` ids and memory ``(batch, seq_s, d_model)`` -> logits
        ``(batch, seq_t, tgt_vocab_size)``; position ``t`` predicts the token after ``tgt_in[:, :t+1]``.

        ``tgt_padding_mask`` ``(batch, seq_t)`` and ``src_padding_mask`` ``(batch, seq_s)``: True at real
        tokens, ``None``: no padding. With ``caches`` (:meth:`new_caches`), ``tgt_in`` holds only
        the positions the caches have not seen. Right-padded targets need no ``tgt_padding_mask``: the
        causal mask already keeps every real position from seeing the padding after it.
        ``checked=True``: the caller has checked every input (:meth:`forward` and generation do);
        otherwise the target, ``memory`` and the masks are checked.
        """
        start = 0 if caches is None else caches.seq_len
        if not checked:
            self.check_target(tgt_in, tgt_padding_mask, start)
        x = self.tgt_embed(tgt_in, start, name="tgt_in", checked=True)
        x = self.decoder(x, memory, tgt_padding_mask, src_padding_mask, caches=caches, checked=checked)
        return self.lm_head(x)

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
            src_padding_mask: ``(batch, seq_s)``, True at real source tokens (``None``: ``src != pad_id``).
            tgt_padding_mask: ``(batch, seq_t)``, True at real target tokens (``None``: no padding).

        Returns:
            logits ``(batch, seq_t, tgt_vocab_size)``.
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

    def new_caches(self) -> Caches:
        """Empty :class:`~transformer_lib.nn.multihead.Caches` for the decoder's self-attention layers,
        for :meth:`decode` with ``caches``."""
        return self.decoder.new_caches()

    def _start(self, src: torch.Tensor, max_new_tokens: int) -> tuple[torch.Tensor, tuple, int]:
        """Check ``src`` once, encode it once and start every output with ``<bos>``: generation runs
        the decoder alone after this, on the model's own ids. The last position the decoder has bounds
        the output to ``max_len - 1`` new tokens."""
        c = self.config
        check_prompt("src", src, max_new_tokens, self.src_vocab_size)
        check_positions("src", src.shape[1], 0, c.max_len)
        src_padding_mask = src != c.pad_id  # (batch, seq_s), True at real tokens
        memory = self.encode(src, src_padding_mask, checked=True)  # (batch, seq_s, d_model)
        bos = torch.full((src.shape[0], 1), c.bos_id, dtype=torch.long, device=src.device)
        return bos, (memory, src_padding_mask), min(max_new_tokens, c.max_len - 1)

    def _next_logits(self, out: torch.Tensor, context: tuple, caches: Caches | None) -> torch.Tensor:
        memory, src_padding_mask = context
        if caches is None:
            return self.decode(out, memory, None, src_padding_mask, checked=True)[:, -1]
        new = out[:, caches.seq_len :]  # the tokens the caches have not seen
        return self.decode(new, memory, None, src_padding_mask, caches=caches, checked=True)[:, -1]

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
        kinds = {
            **{id(layer.self_attn): "encoder" for layer in self.encoder.layers},
            **{id(layer.self_attn): "decoder_self" for layer in self.decoder.layers},
            **{id(layer.cross_attn): "cross" for layer in self.decoder.layers},
        }
        maps: dict[str, list[torch.Tensor]] = {"encoder": [], "decoder_self": [], "cross": []}
        for module, weights in attention_weights(self, src, tgt_in, src_padding_mask, tgt_padding_mask):
            maps[kinds[id(module)]].append(weights)
        return maps

    def parameter_counts(self) -> dict[str, int]:
        """Number of parameters of each component, plus ``"total"`` (where embeddings are tied, the
        shared matrix is counted in each component that uses it, and once in the total)."""
        groups = {
            "source embedding": self.src_embed,
            "target embedding": self.tgt_embed,
            "encoder self-attention": [layer.self_attn for layer in self.encoder.layers],
            "encoder feed-forward": [layer.ffn for layer in self.encoder.layers],
            "encoder layer norms": norms(self.encoder),
            "decoder self-attention": [layer.self_attn for layer in self.decoder.layers],
            "decoder cross-attention": [layer.cross_attn for layer in self.decoder.layers],
            "decoder feed-forward": [layer.ffn for layer in self.decoder.layers],
            "decoder layer norms": norms(self.decoder),
            "output projection": self.lm_head,
        }
        counts = {}
        for name, mods in groups.items():
            mods = mods if isinstance(mods, list) else [mods]
            counts[name] = sum(p.numel() for m in mods for p in m.parameters())
        counts["total"] = sum(p.numel() for p in self.parameters())
        return counts


def norms(stack: nn.Module) -> list[nn.Module]:
    """Every norm of an encoder or decoder stack: LayerNorms, or T5's RMSNorms."""
    return [m for m in stack.modules() if isinstance(m, nn.LayerNorm | RMSNorm)]


class Transformer(EncoderDecoder):
    """Encoder-decoder Transformer: ``forward(src, tgt_in, ...)`` returns next-token logits."""

    config_class = TransformerConfig

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = c = config
        self.src_embed = Embeddings(c.src_vocab_size, c.d_model, c.max_len, c.dropout)
        self.tgt_embed = Embeddings(c.tgt_vocab_size, c.d_model, c.max_len, c.dropout)
        sizes = (c.d_model, c.num_heads, c.d_ff, c.dropout)
        self.encoder = Encoder(c.num_encoder_layers, *sizes, norm_first=c.norm_first, activation=c.activation)
        self.decoder = Decoder(c.num_decoder_layers, *sizes, norm_first=c.norm_first, activation=c.activation)
        self.lm_head = nn.Linear(c.d_model, c.tgt_vocab_size)  # d_model -> one logit per target token
        if c.tie_embeddings:
            if c.src_vocab_size != c.tgt_vocab_size:
                raise ValueError(
                    "tie_embeddings needs one vocabulary for source and target, got "
                    f"src_vocab_size={c.src_vocab_size} and tgt_vocab_size={c.tgt_vocab_size}"
                )
            # The same Parameter in three places: one (vocab, d_model) matrix, trained by all three.
            self.tgt_embed.token.weight = self.src_embed.token.weight
            self.lm_head.weight = self.src_embed.token.weight

    @property
    def src_vocab_size(self) -> int:
        """The number of source token ids."""
        return self.config.src_vocab_size


def exact_match(generated: torch.Tensor, tgt_out: torch.Tensor, pad_id: int = PAD) -> torch.Tensor:
    """Which generated sequences equal their target, ``EOS`` included.

    Args:
        generated: ``(batch, 1 + steps)`` ids from :meth:`Transformer.generate` (starting with BOS).
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
