"""How the models' configs print: the options a chapter's model leaves at their defaults are left out.

The configs grew options that make the book's models the real ones (GPT-2's learned positions, BERT's
token types, T5's relative attention, ...). Declared with ``field(default=..., repr=False)``, such an
option prints only when it is set, so a chapter's printed config shows what it uses and a real
model's shows what makes it real.
"""

from __future__ import annotations

from dataclasses import fields


def config_repr(config: object) -> str:
    """``Name(field=value, ...)`` like a dataclass's repr, without the ``repr=False`` fields that hold
    their default."""
    shown = (
        f"{f.name}={getattr(config, f.name)!r}"
        for f in fields(config)
        if f.repr or getattr(config, f.name) != f.default
    )
    return f"{type(config).__name__}({', '.join(shown)})"
