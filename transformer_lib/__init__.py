"""transformer_lib: the small PyTorch library the Transformer book's chapters share.

Five subpackages, one module per idea, in the order the book introduces them:

* :mod:`~transformer_lib.nn` — the network: ``masks`` (boolean, True = may attend), ``attention``,
  ``multihead`` (:class:`MultiHeadAttention`, :class:`KVCache`), ``flash`` (:func:`flash_attention`,
  in tiles; ``flash_triton``, its Triton kernel, imported only where Triton is installed), ``layers``
  (embeddings, positional encoding, :class:`AddNorm`, :class:`FeedForward`, :class:`RMSNorm`,
  :class:`SwiGLU`), ``rotary``, ``blocks`` (encoder and decoder blocks and stacks);
* :mod:`~transformer_lib.models` — one file per model: ``transformer`` (encoder-decoder), ``bert``,
  ``gpt``, ``t5``, ``llama`` (the modern decoder), ``timeseries`` (regression); ``generation`` (how
  every model generates), ``checkpoint`` (save and load a model with its config);
* :mod:`~transformer_lib.data` — ``tokens`` (the special-token layout and ``IGNORE``), ``tasks``
  (generated digit tasks), ``tokenizer``, ``corpus`` (a generated language with known entropy),
  ``python_docs`` (real text and a BPE tokenizer);
* :mod:`~transformer_lib.training` — :func:`~transformer_lib.training.train`, ``objectives``,
  ``schedules``, ``distributed`` and chapter 12's command-line trainer;
* :mod:`~transformer_lib.tools` — the book's own tooling: ``checks`` and ``references`` (the
  exercises' checks and answer keys), ``glue``, ``plotting``, ``diagrams``, ``cost``, ``numerics``.

:mod:`~transformer_lib.device` (:func:`get_device`, :func:`set_seed`, :func:`generator`) stays at the
top; ``_validate`` (the argument checks every entry point starts with) is internal. The names below,
``tl.<name>``, are the ones the chapters use most.

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
:func:`~transformer_lib.models.checkpoint.load_model` rebuilds it), an ``lm_head``, and, where it generates,
``generate(ids, max_new_tokens, eos_id=None, temperature=0.0, top_k=None, generator=None,
use_cache=True)``, greedy at temperature 0, which restores the caller's training mode.
"""

from .device import generator, get_device, set_seed, shift_seed
from .nn.attention import fast_attention, scaled_dot_product_attention
from .nn.blocks import Decoder, DecoderBlock, DecoderOnly, Encoder, EncoderBlock
from .nn.flash import flash_attention
from .nn.layers import (
    AddNorm,
    Embeddings,
    FeedForward,
    PositionalEncoding,
    ResidualSublayer,
    RMSNorm,
    SwiGLU,
    sinusoidal_encoding,
)
from .nn.masks import (
    combine_masks,
    key_mask_for_attention,
    padding_mask,
    padding_mask_from_ids,
    subsequent_mask,
    to_additive,
    to_torch_mha,
)
from .nn.multihead import Caches, KVCache, MultiHeadAttention
from .tools.glue import glue

__version__ = "0.1.0"

__all__ = [
    "AddNorm",
    "Caches",
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
    "flash_attention",
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
