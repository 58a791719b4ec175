"""transformer_lib: the small PyTorch library the Transformer book's chapters share.

One module per idea, in the order the book introduces them:

* :mod:`~transformer_lib.device` — :func:`get_device`, :func:`set_seed`, :func:`generator`
* :mod:`~transformer_lib.masks` — padding and subsequent masks (boolean, True = may attend)
* :mod:`~transformer_lib.attention` — scaled dot-product attention, with weights or fused
* :mod:`~transformer_lib.multihead` — :class:`MultiHeadAttention`
* :mod:`~transformer_lib.layers` — :class:`AddNorm`, :class:`FeedForward`, positional encoding; the
  modern decoder's :class:`RMSNorm` and :class:`SwiGLU`; :mod:`~transformer_lib.rotary` — rotary
  position embeddings
* :mod:`~transformer_lib.blocks` — encoder and decoder blocks and stacks
* :mod:`~transformer_lib.plotting`, :mod:`~transformer_lib.checks`, :mod:`~transformer_lib.training`
  (with :mod:`~transformer_lib.schedules`, the learning rate by step),
  :mod:`~transformer_lib.glue` (numbers in the prose that come from the run),
  :mod:`~transformer_lib.numerics` (the canonical numeric settings the outputs are recorded under)
* :mod:`~transformer_lib.data` — generated copy / reverse / sort tasks (chapters 6 and 8)
* :mod:`~transformer_lib.tokens` — the special-token layout (PAD, BOS, EOS, UNK, MASK) and ``IGNORE``
* :mod:`~transformer_lib.models` — one file per model: ``transformer`` (encoder-decoder), ``bert``,
  ``gpt``, ``t5``, ``llama`` (the modern decoder); with :mod:`~transformer_lib.generation` (one
  decoding loop for every model),
  :mod:`~transformer_lib.tokenizer`, :mod:`~transformer_lib.corpus` (a generated language with known
  entropy), :mod:`~transformer_lib.python_docs` (real text: the Python documentation and a BPE
  tokenizer), :mod:`~transformer_lib.objectives`, :mod:`~transformer_lib.checkpoint`
* :mod:`~transformer_lib.cost` (timing and memory), :mod:`~transformer_lib.timeseries` (regression)

**The vocabulary**, the same in every module:

* ``is_causal``: apply the causal (subsequent) mask, position ``t`` sees ``0..t``;
* ``key_padding_mask``: ``(batch, seq_k)``, True at the real tokens among the keys of a self-attention
  (an :class:`EncoderBlock`'s own input);
* ``src_padding_mask`` / ``tgt_padding_mask``: ``(batch, seq_s)`` / ``(batch, seq_t)``, True at the
  real tokens of an encoder-decoder's source / target; the source's also masks cross-attention;
* ``memory``: the encoder's output, ``(batch, seq_s, d_model)``, where cross-attention finds its keys
  and values;
* ``src``, ``tgt_in``, ``tgt_out``: source ids, decoder input (``BOS`` + target), target (+ ``EOS``);
  ``ids`` for the one sequence of an encoder-only or decoder-only model;
* ``max_len``: positions a model has; ``max_new_tokens``: tokens a ``generate`` call may add;
* ``lm_head``: every model's last layer, ``d_model`` -> one logit per vocabulary token;
* masks are boolean, True = may attend; losses ignore the label ``IGNORE``; booleans are keywords.

**The model contract**: every model has a config dataclass as ``config_class`` (so
:func:`~transformer_lib.checkpoint.load_model` rebuilds it), an ``lm_head``, and, where it generates,
``generate(ids, max_new_tokens, eos_id=None, temperature=0.0, top_k=None, generator=None,
use_cache=True)``, greedy at temperature 0, which restores the caller's training mode.
"""

from .attention import fast_attention, scaled_dot_product_attention
from .blocks import Decoder, DecoderBlock, DecoderOnly, Encoder, EncoderBlock
from .device import generator, get_device, set_seed, shift_seed
from .glue import glue
from .layers import (
    AddNorm,
    Embeddings,
    FeedForward,
    PositionalEncoding,
    ResidualSublayer,
    RMSNorm,
    SwiGLU,
    sinusoidal_encoding,
)
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
    "DecoderOnly",
    "Embeddings",
    "Encoder",
    "EncoderBlock",
    "FeedForward",
    "KVCache",
    "MultiHeadAttention",
    "PositionalEncoding",
    "RMSNorm",
    "ResidualSublayer",
    "SwiGLU",
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
