"""Encoder and decoder blocks and their stacks, built from :mod:`multihead` and :mod:`layers`.

**Mask convention**: boolean, ``True`` = may attend. Padding masks are ``(batch, seq)`` with
``True`` at real tokens.

Which mask goes where:

* encoder self-attention: the ``key_padding_mask`` of its own input (the source's padding);
* decoder self-attention: the target's padding (``tgt_padding_mask``) *and* the causal mask;
* encoder-decoder (cross) attention: ``src_padding_mask``, since its keys are encoder positions.

Three stacks:

* :class:`Encoder`: :class:`EncoderBlock` s, every position sees every other (BERT, the encoder of
  the 2017 Transformer and of T5);
* :class:`DecoderOnly`: the same blocks under the causal mask, with no cross-attention (GPT);
* :class:`Decoder`: :class:`DecoderBlock` s, causal self-attention plus cross-attention to an
  encoder's output (the decoder of the 2017 Transformer and of T5).

Checks, once: a block or stack called by a reader checks its inputs at its door (a stack checks what
its first block receives; every block keeps the shape), then runs its parts with ``checked=True``,
so a forward costs the same few checks however many layers it has.

Blocks convert to and from torch's own layers (``from_torch`` / ``to_torch``), so a chapter checks
the library against ``nn.TransformerEncoderLayer`` and ``nn.TransformerDecoderLayer`` in one line.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import check_caches
from .layers import FeedForward, ResidualSublayer
from .multihead import Caches, KVCache, MultiHeadAttention

_TORCH_ACTIVATIONS = {F.relu: "relu", F.gelu: "gelu"}


class EncoderBlock(nn.Module):
    """Self-attention then feed-forward, each in a residual sublayer.

    With ``norm_first=False`` and ``activation="relu"`` this is the paper's encoder layer and matches
    ``nn.TransformerEncoderLayer(..., batch_first=True)`` given the same weights (see
    :meth:`from_torch`). With ``is_causal=True`` in :meth:`forward` it is a decoder-only (GPT) block.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        *,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.ffn = FeedForward(d_model, d_ff, dropout, activation)
        self.sublayer1 = ResidualSublayer(d_model, dropout, norm_first=norm_first)
        self.sublayer2 = ResidualSublayer(d_model, dropout, norm_first=norm_first)

    def forward(
        self,
        x: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        *,
        is_causal: bool = False,
        cache: KVCache | None = None,
        checked: bool = False,
    ) -> torch.Tensor:
        """Encode one layer.

        Args:
            x: ``(batch, seq, d_model)``.
            key_padding_mask: ``(batch, seq)``, True at real tokens (with a cache:
                ``(batch, cached + seq)``).
            is_causal: add the causal (subsequent) mask: self-attention that cannot see the future.
            cache: the self-attention's :class:`KVCache`, for generation one token at a time.
            checked: the caller has checked these inputs (:meth:`check_inputs`), as the stacks do.

        Returns:
            ``(batch, seq, d_model)``.
        """
        if not checked:
            self.check_inputs(x, key_padding_mask, is_causal=is_causal, cache=cache)

        def attend(h: torch.Tensor) -> torch.Tensor:
            return self.self_attn(h, key_padding_mask=key_padding_mask, is_causal=is_causal, cache=cache, checked=True)[
                0
            ]

        x = self.sublayer1(x, attend, checked=True)
        return self.sublayer2(x, lambda h: self.ffn(h, checked=True), checked=True)

    def check_inputs(
        self,
        x: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        *,
        is_causal: bool = False,
        cache: KVCache | None = None,
    ) -> None:
        """The door of :meth:`forward` (same arguments): ``x`` as the first sublayer and the attention
        see it; the rest of the block keeps its shape and dtype."""
        self.sublayer1.check_input(x)
        self.self_attn.check_inputs(x, None, None, key_padding_mask, is_causal, cache)

    @classmethod
    def from_torch(cls, layer: nn.TransformerEncoderLayer) -> EncoderBlock:
        """A copy of a ``batch_first`` ``nn.TransformerEncoderLayer`` with the same weights."""
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise ValueError(f"layer must be an nn.TransformerEncoderLayer, got {type(layer).__name__}")
        ours = cls(*_torch_sizes(layer), norm_first=layer.norm_first, activation=_activation_name(layer))
        return _copy_from_torch(ours, layer)

    def to_torch(self) -> nn.TransformerEncoderLayer:
        """A ``batch_first`` ``nn.TransformerEncoderLayer`` with this block's weights."""
        return _copy_to_torch(self, nn.TransformerEncoderLayer)


class DecoderBlock(nn.Module):
    """Masked self-attention, cross-attention to the encoder's output, then feed-forward.

    With ``norm_first=False`` and ``activation="relu"`` this is the paper's decoder layer and matches
    ``nn.TransformerDecoderLayer(..., batch_first=True)`` given the same weights.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        *,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout)
        self.ffn = FeedForward(d_model, d_ff, dropout, activation)
        self.sublayer1 = ResidualSublayer(d_model, dropout, norm_first=norm_first)
        self.sublayer2 = ResidualSublayer(d_model, dropout, norm_first=norm_first)
        self.sublayer3 = ResidualSublayer(d_model, dropout, norm_first=norm_first)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_padding_mask: torch.Tensor | None = None,
        src_padding_mask: torch.Tensor | None = None,
        *,
        cache: KVCache | None = None,
        checked: bool = False,
    ) -> torch.Tensor:
        """Decode one layer.

        Args:
            x: ``(batch, seq_t, d_model)`` target-side states.
            memory: ``(batch, seq_s, d_model)`` the encoder's output.
            tgt_padding_mask: ``(batch, seq_t)``, True at real target tokens (with a cache:
                ``(batch, cached + seq_t)``).
            src_padding_mask: ``(batch, seq_s)``, True at real source tokens.
            cache: the self-attention's :class:`KVCache`, for generation one token at a time.
            checked: the caller has checked these inputs (:meth:`check_inputs`), as the stacks do.

        Returns:
            ``(batch, seq_t, d_model)``.
        """
        if not checked:
            self.check_inputs(x, memory, tgt_padding_mask, src_padding_mask, cache=cache)

        def attend(h: torch.Tensor) -> torch.Tensor:
            return self.self_attn(h, key_padding_mask=tgt_padding_mask, is_causal=True, cache=cache, checked=True)[0]

        def attend_memory(h: torch.Tensor) -> torch.Tensor:
            return self.cross_attn(h, memory, key_padding_mask=src_padding_mask, checked=True)[0]

        x = self.sublayer1(x, attend, checked=True)
        x = self.sublayer2(x, attend_memory, checked=True)
        return self.sublayer3(x, lambda h: self.ffn(h, checked=True), checked=True)

    def check_inputs(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_padding_mask: torch.Tensor | None = None,
        src_padding_mask: torch.Tensor | None = None,
        *,
        cache: KVCache | None = None,
    ) -> None:
        """The door of :meth:`forward` (same arguments): ``x`` as the first sublayer and both attentions
        see it, ``memory`` and the masks; the rest of the block keeps the shapes and dtypes."""
        self.sublayer1.check_input(x)
        self.self_attn.check_inputs(x, None, None, tgt_padding_mask, True, cache)
        self.cross_attn.check_inputs(x, memory, None, src_padding_mask, False, None)

    @classmethod
    def from_torch(cls, layer: nn.TransformerDecoderLayer) -> DecoderBlock:
        """A copy of a ``batch_first`` ``nn.TransformerDecoderLayer`` with the same weights."""
        if not isinstance(layer, nn.TransformerDecoderLayer):
            raise ValueError(f"layer must be an nn.TransformerDecoderLayer, got {type(layer).__name__}")
        ours = cls(*_torch_sizes(layer), norm_first=layer.norm_first, activation=_activation_name(layer))
        ours.cross_attn.load_torch_weights(layer.multihead_attn)
        return _copy_from_torch(ours, layer)

    def to_torch(self) -> nn.TransformerDecoderLayer:
        """A ``batch_first`` ``nn.TransformerDecoderLayer`` with this block's weights."""
        layer = _copy_to_torch(self, nn.TransformerDecoderLayer)
        layer.multihead_attn.load_state_dict(self.cross_attn.to_torch().state_dict())
        return layer


def _activation_name(layer: nn.Module) -> str:
    name = _TORCH_ACTIVATIONS.get(layer.activation)
    if name is None:
        raise ValueError(f"layer.activation must be F.relu or F.gelu, got {layer.activation!r}")
    return name


def _torch_sizes(layer: nn.Module) -> tuple[int, int, int, float]:
    """``(d_model, num_heads, d_ff, dropout)`` of a torch Transformer layer our blocks can copy."""
    if not layer.self_attn.batch_first:
        raise ValueError("layer must be built with batch_first=True, as the library's blocks are")
    if layer.linear1.bias is None or layer.norm1.eps != 1e-5:
        raise ValueError("only layers with biases and layer_norm_eps=1e-5 (torch's defaults) can be copied")
    return layer.self_attn.embed_dim, layer.self_attn.num_heads, layer.linear1.out_features, layer.dropout.p


def _torch_pairs(ours: EncoderBlock | DecoderBlock, layer: nn.Module) -> list[tuple[nn.Module, nn.Module]]:
    """Our submodules beside their counterparts in torch's layer (attention aside): the feed-forward
    network's two linear maps, and the LayerNorm of our ``sublayer{i}``, which torch calls ``norm{i}``."""
    pairs = [(ours.ffn.linear1, layer.linear1), (ours.ffn.linear2, layer.linear2)]
    for i in (1, 2, 3):
        if hasattr(ours, f"sublayer{i}"):
            pairs.append((getattr(ours, f"sublayer{i}").ln, getattr(layer, f"norm{i}")))
    return pairs


def _copy_from_torch(ours: EncoderBlock | DecoderBlock, layer: nn.Module) -> EncoderBlock | DecoderBlock:
    ours.self_attn.load_torch_weights(layer.self_attn)
    for our_module, their_module in _torch_pairs(ours, layer):
        our_module.load_state_dict(their_module.state_dict())
    w = layer.linear1.weight
    return ours.to(w.device, w.dtype).train(layer.training)


def _copy_to_torch(ours: EncoderBlock | DecoderBlock, layer_class: type[nn.Module]) -> nn.Module:
    w = ours.ffn.linear1.weight
    layer = layer_class(
        ours.ffn.d_model,
        ours.self_attn.num_heads,
        ours.ffn.linear1.out_features,
        ours.self_attn.dropout,
        activation=ours.ffn.activation_name,
        batch_first=True,
        norm_first=ours.norm_first,
        device=w.device,
        dtype=w.dtype,
    )
    layer.self_attn.load_state_dict(ours.self_attn.to_torch().state_dict())
    for our_module, their_module in _torch_pairs(ours, layer):
        their_module.load_state_dict(our_module.state_dict())
    return layer.train(ours.training)


def _stack(
    block: type[EncoderBlock | DecoderBlock],
    num_layers: int,
    d_model: int,
    num_heads: int,
    d_ff: int,
    dropout: float,
    *,
    norm_first: bool,
    activation: str,
) -> tuple[nn.ModuleList, nn.Module]:
    """``num_layers`` blocks, and the stack's final norm."""
    sizes = (d_model, num_heads, d_ff, dropout)
    layers = nn.ModuleList(block(*sizes, norm_first=norm_first, activation=activation) for _ in range(num_layers))
    # Pre-norm blocks leave the residual stream unnormalized; normalize it once at the end.
    return layers, nn.LayerNorm(d_model) if norm_first else nn.Identity()


class Encoder(nn.Module):
    """A stack of ``num_layers`` encoder blocks (plus a final LayerNorm when ``norm_first``)."""

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        *,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        sizes = (num_layers, d_model, num_heads, d_ff, dropout)
        self.layers, self.norm = _stack(EncoderBlock, *sizes, norm_first=norm_first, activation=activation)

    def forward(
        self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None, *, checked: bool = False
    ) -> torch.Tensor:
        """``(batch, seq, d_model)`` and the ``(batch, seq)`` padding mask -> ``(batch, seq, d_model)``.

        ``checked=True``: the caller has checked the inputs (a model does, at its door).
        """
        if not checked and len(self.layers):
            self.layers[0].check_inputs(x, key_padding_mask)
        for layer in self.layers:
            x = layer(x, key_padding_mask, checked=True)
        return self.norm(x)


class DecoderOnly(nn.Module):
    """The stack of a decoder-only (GPT-style) model: :class:`EncoderBlock` s under the causal mask.

    Position ``t`` sees positions ``0..t``; there is no encoder and so no cross-attention. Pre-norm
    with GELU by default, as GPT-2; with ``caches`` (:meth:`new_caches`) it runs one token at a time.
    """

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        *,
        norm_first: bool = True,
        activation: str = "gelu",
    ):
        super().__init__()
        sizes = (num_layers, d_model, num_heads, d_ff, dropout)
        self.layers, self.norm = _stack(EncoderBlock, *sizes, norm_first=norm_first, activation=activation)

    def forward(
        self,
        x: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        *,
        caches: Caches | None = None,
        checked: bool = False,
    ) -> torch.Tensor:
        """``(batch, seq, d_model)`` -> ``(batch, seq, d_model)``, every position seeing only its past.

        ``caches``: one :class:`KVCache` per layer, holding the keys and values of earlier positions;
        then ``x`` holds only the new positions. ``checked=True``: the caller has checked the inputs.
        """
        if not checked:
            check_caches(caches, len(self.layers))
            if len(self.layers):
                self.layers[0].check_inputs(
                    x, key_padding_mask, is_causal=True, cache=None if caches is None else caches[0]
                )
        for i, layer in enumerate(self.layers):
            cache = None if caches is None else caches[i]
            x = layer(x, key_padding_mask, is_causal=True, cache=cache, checked=True)
        return self.norm(x)

    def new_caches(self) -> Caches:
        """Empty :class:`Caches`, one :class:`KVCache` per layer."""
        return Caches(len(self.layers))


class Decoder(nn.Module):
    """A stack of ``num_layers`` decoder blocks (plus a final LayerNorm when ``norm_first``)."""

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        *,
        norm_first: bool = False,
        activation: str = "relu",
    ):
        super().__init__()
        sizes = (num_layers, d_model, num_heads, d_ff, dropout)
        self.layers, self.norm = _stack(DecoderBlock, *sizes, norm_first=norm_first, activation=activation)

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

        ``caches``: one :class:`KVCache` per layer for the self-attention, as in :class:`DecoderOnly`.
        ``checked=True``: the caller has checked the inputs.
        """
        if not checked:
            check_caches(caches, len(self.layers))
            if len(self.layers):
                cache = None if caches is None else caches[0]
                self.layers[0].check_inputs(x, memory, tgt_padding_mask, src_padding_mask, cache=cache)
        for i, layer in enumerate(self.layers):
            cache = None if caches is None else caches[i]
            x = layer(x, memory, tgt_padding_mask, src_padding_mask, cache=cache, checked=True)
        return self.norm(x)

    def new_caches(self) -> Caches:
        """Empty :class:`Caches`, one :class:`KVCache` per layer."""
        return Caches(len(self.layers))
