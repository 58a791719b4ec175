"""Whole models, one readable file each, built only from the library's blocks.

Import a model from its own module, e.g. ``from transformer_lib.models.transformer import Transformer``.
"""
