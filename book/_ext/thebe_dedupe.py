"""Drop duplicate inline scripts from every page.

Jupyter Book's extensions register their inline configuration scripts (sphinx-thebe's,
sphinx-togglebutton's) twice, and the second `const THEBE_JS_URL = ...` is a JavaScript error on
every page of the site.
"""

from __future__ import annotations


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", script) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", drop_duplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
