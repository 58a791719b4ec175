"""What the four pre-trained families share: how their configs print, and ``from_pretrained``.

A config prints without the options a chapter's model leaves at their defaults.

The configs grew options that make the book's models the real ones (GPT-2's learned positions, BERT's
token types, T5's relative attention, ...). Declared with ``field(default=..., repr=False)``, such an
option prints only when it is set, so a chapter's printed config shows what it uses and a real
model's shows what makes it real.
"""

from __future__ import annotations

from dataclasses import fields

from torch import nn


def config_repr(config: object) -> str:
    """``Name(field=value, ...)`` like a dataclass's repr, without the ``repr=False`` fields that hold
    their default."""
    shown = (
        f"{f.name}={getattr(config, f.name)!r}"
        for f in fields(config)
        if f.repr or getattr(config, f.name) != f.default
    )
    return f"{type(config).__name__}({', '.join(shown)})"


class Pretrained(nn.Module):
    """A model whose family has real checkpoints (GPT-2, BERT, T5, Llama and Qwen): ``from_pretrained``."""

    @classmethod
    def from_pretrained(cls, name: str) -> nn.Module:
        """The model with a checkpoint's weights: a Hugging Face Hub name (``"gpt2"``,
        ``"bert-base-uncased"``, ``"t5-small"``, ``"HuggingFaceTB/SmolLM2-135M"``, ...) or a local
        folder, downloaded where there is a network; see :func:`transformer_lib.models.hub.from_pretrained`."""
        from .hub import from_pretrained  # the converters import the models

        return from_pretrained(name, cls)
