"""Bibliography entries as list items, for screen readers and the accessibility audit.

Docutils writes the bibliography as ``<div role="list">`` holding ``<div role="doc-biblioentry">``
entries. ARIA 1.2 deprecates ``doc-biblioentry`` and no longer counts it as a list item, so assistive
technology (and axe-core's "aria-required-children" rule, a critical violation) sees a list whose
children are the entries' links. Each entry becomes a ``listitem`` once the pages are written.
"""

from __future__ import annotations

from pathlib import Path


def entries_as_list_items(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        if 'role="doc-biblioentry"' in html:
            page.write_text(html.replace('role="doc-biblioentry"', 'role="listitem"'), encoding="utf-8")


def setup(app):
    app.connect("build-finished", entries_as_list_items)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
