"""transformer_lib: the small PyTorch library the Transformer book's chapters share.

One module per idea, in the order the book introduces them:

* :mod:`~transformer_lib.device` — :func:`get_device`, :func:`set_seed`, :func:`generator`
* :mod:`~transformer_lib.masks` — padding and subsequent masks (boolean, True = may attend)
* :mod:`~transformer_lib.attention` — scaled dot-product attention, with weights or fused
* :mod:`~transformer_lib.multihead` — :class:`MultiHeadAttention`
* :mod:`~transformer_lib.layers` — :class:`AddNorm`, :class:`FeedForward`, positional encoding
* :mod:`~transformer_lib.blocks` — encoder and decoder blocks and stacks
* :mod:`~transformer_lib.plotting`, :mod:`~transformer_lib.checks`, :mod:`~transformer_lib.training`,
  :mod:`~transformer_lib.glue` (numbers in the prose that come from the run),
  :mod:`~transformer_lib.numerics` (the canonical numeric settings the outputs are recorded under)
* :mod:`~transformer_lib.data` — generated copy / reverse / sort tasks (chapters 6 and 8)
* :mod:`~transformer_lib.models` — one file per model: ``transformer`` (encoder-decoder), ``bert``,
  ``gpt``, ``t5``; with :mod:`~transformer_lib.tokenizer`, :mod:`~transformer_lib.corpus` (a generated
  language with known entropy), :mod:`~transformer_lib.objectives`, :mod:`~transformer_lib.checkpoint`
* :mod:`~transformer_lib.cost` (timing and memory), :mod:`~transformer_lib.timeseries` (regression)
"""

from .attention import fast_attention, scaled_dot_product_attention
from .blocks import Decoder, DecoderBlock, Encoder, EncoderBlock
from .device import generator, get_device, set_seed, shift_seed
from .glue import glue
from .layers import AddNorm, Embeddings, FeedForward, PositionalEncoding, ResidualSublayer, sinusoidal_encoding
from .masks import (
    combine_masks,
    key_mask_for_attention,
    padding_mask,
    padding_mask_from_ids,
    subsequent_mask,
    to_additive,
    to_torch_mha,
)
from .multihead import KVCache, MultiHeadAttention

__version__ = "0.1.0"

__all__ = [
    "AddNorm",
    "Decoder",
    "DecoderBlock",
    "Embeddings",
    "Encoder",
    "EncoderBlock",
    "FeedForward",
    "KVCache",
    "MultiHeadAttention",
    "PositionalEncoding",
    "ResidualSublayer",
    "combine_masks",
    "fast_attention",
    "generator",
    "get_device",
    "glue",
    "key_mask_for_attention",
    "padding_mask",
    "padding_mask_from_ids",
    "scaled_dot_product_attention",
    "set_seed",
    "shift_seed",
    "sinusoidal_encoding",
    "subsequent_mask",
    "to_additive",
    "to_torch_mha",
]
