"""Whole models, one readable file each, built only from the library's blocks.

* ``transformer``: the encoder-decoder Transformer of Vaswani et al. (2017), chapter 8;
* ``bert``: encoder-only, masked language modelling, chapter 9a;
* ``gpt``: decoder-only, next-token prediction and generation (with a KV cache), chapter 9b;
* ``t5``: encoder-decoder pre-trained by span corruption, chapter 9c;
* ``llama``: the modern decoder (RMSNorm, rotary positions, SwiGLU, grouped-query attention), chapter 9d.

Import a model from its own module, e.g. ``from transformer_lib.models.gpt import GPT, GPTConfig``.
"""
