"""Numbers in the prose that come from the run: MyST-NB's ``glue`` without needing MyST-NB.

A chapter computes a value, prints it, and glues it under a name; its Markdown then says
``{glue:}`name``` instead of typing the number, so a sentence cannot disagree with the cell above it
on any machine. The website's build (MyST-NB) pastes the stored value. On Colab or in plain Jupyter,
where MyST-NB is not installed, the call still works: it stores the value in the cell's output
metadata in the same format and shows nothing.
"""

from __future__ import annotations

from typing import Any

# MyST-NB (like papermill's scrapbook before it) recognises glued values by this MIME prefix.
_HIDDEN_PREFIX = "application/papermill.record/"


def glue(name: str, value: Any) -> None:
    """Store ``value``'s plain-text form under ``name`` for ``{glue:}`name``` in the chapter's prose.

    Glue a value the cell also prints (formatted the same way): nbval compares printed outputs, so
    the number on the page is then checked against every fresh run.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier-like string, got {name!r}")
    # IPython is imported here, not above: the library itself runs without it (scripts, tests).
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    bundle, metadata = format_display_data(value)
    metadata["scrapbook"] = {"name": name, "mime_prefix": _HIDDEN_PREFIX}
    display({_HIDDEN_PREFIX + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)
