"""Both editions of the book from the same notebooks: the English site and its Chinese translation.

Two things Sphinx's internationalisation does not do for a Jupyter Book by itself:

- **Glued numbers in translated prose.** A translated paragraph is parsed again on its own, in a
  fresh document that lacks the notebook MyST-NB attached to the original one (and MyST-NB lets go
  of it once the notebook is parsed), so a ``{glue:text}`` role in a translation would find no glued
  values. The glue lookup remembers the notebook of the page being read (its English prose looked
  its glued values up first) and a translated fragment of that page uses it: the Chinese page shows
  the same stored numbers as the English one.
- **The sidebar's part captions.** Sphinx translates a page's prose while the page is parsed, but
  sphinx-external-toc adds the root page's toctrees (with the captions of ``_toc.yml``'s parts)
  afterwards; their captions are translated here from the root page's catalogue.
- **A language switch on every page**, in the article header: a link to the same page in the other
  edition. Both sites are built side by side (``_build/html`` and ``_build/html-zh``), so the link
  is relative and works on a local build and on any host that serves both folders under one parent.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from myst_nb.core.variables import VariableOutput
from myst_nb.ext.glue import directives as glue_directives
from myst_nb.ext.glue import roles as glue_roles
from myst_nb.ext.glue import utils as glue_utils
from sphinx import addnodes
from sphinx.locale import init as init_locale
from sphinx.util.i18n import docname_to_domain

# The editions, in the order the switch lists them: language code, output folder, label.
EDITIONS = (("en", "html", "English"), ("zh_CN", "html-zh", "中文"))

_notebook: dict[str, object] = {}
_retrieve = glue_utils.retrieve_glue_data


def retrieve_glue_data(document: nodes.document, key: str) -> VariableOutput:
    """MyST-NB's lookup; a translated fragment uses the notebook of the page being read."""
    docname = document.settings.env.docname
    if "nb_renderer" in document:
        _notebook.clear()
        _notebook[docname] = document["nb_renderer"]
    elif document.current_source.endswith("<translated>") and docname in _notebook:
        element = _notebook[docname]
        glued = element.renderer.nb_client.glue_data
        if key in glued:
            return VariableOutput(
                data=glued[key]["data"], metadata=glued[key].get("metadata", {}), nb_renderer=element, vtype="glue"
            )
    return _retrieve(document, key)


def translate_captions(app, doctree) -> None:
    """Translate the toctree captions of a page from its own catalogue (sphinx-intl's layout)."""
    if not app.config.language or app.config.language == "en":
        return
    domain = docname_to_domain(app.env.docname, app.config.gettext_compact)
    dirs = [str(Path(app.srcdir, d)) for d in app.config.locale_dirs]
    catalog, found = init_locale(dirs, app.config.language, domain)
    if found:
        for toctree in doctree.findall(addnodes.toctree):
            if toctree.get("caption"):
                toctree["caption"] = catalog.gettext(toctree["caption"])


def language_links(app, pagename, templatename, context, doctree) -> None:
    """Give the page template the same page in every edition (``context["editions"]``)."""
    language = app.config.language or "en"
    current = next((folder for code, folder, _ in EDITIONS if code == language), "html")
    up = "../" * (pagename.count("/") + 1)
    context["editions"] = [
        {"code": code, "label": label, "current": folder == current, "href": f"{up}{folder}/{pagename}.html"}
        for code, folder, label in EDITIONS
    ]


def setup(app):
    glue_roles.retrieve_glue_data = retrieve_glue_data
    glue_directives.retrieve_glue_data = retrieve_glue_data
    # before Sphinx's toctree collector (priority 500) records the captions
    app.connect("doctree-read", translate_captions, priority=400)
    app.connect("html-page-context", language_links)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
