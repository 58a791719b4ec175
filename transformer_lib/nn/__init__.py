"""The network: the pieces a Transformer is built from, in the order the book introduces them.

* ``masks``: padding and subsequent masks (boolean, True = may attend);
* ``attention``: scaled dot-product attention, with its weights or fused;
* ``flash``: the same attention in tiles with the online softmax and a recomputing backward
  (FlashAttention); ``flash_triton``, its forward as a Triton kernel, needs Triton and is imported
  only on request;
* ``multihead``: :class:`~transformer_lib.nn.multihead.MultiHeadAttention` and its key/value cache;
* ``layers``: embeddings, positional encoding, add & norm, the feed-forward networks, RMSNorm, SwiGLU;
* ``rotary``: rotary position embeddings;
* ``blocks``: encoder and decoder blocks and stacks.

Each checks its arguments when a reader calls it (``checked=False``, the default); the blocks and
models call each other with ``checked=True``, so an input is checked once, at the door.
"""
