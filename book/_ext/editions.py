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
- **The themes' strings in Chinese.** Sphinx reads the book's ``locales/zh_CN/LC_MESSAGES/sphinx.po``
  before its own and pydata-sphinx-theme's catalogues; sphinx-book-theme's strings have their own
  domain, so the book's ``booktheme.po`` is compiled and added after the theme's catalogue here. The
  search box's text is configuration (Jupyter Book sets it), and the strings the themes' templates
  write without gettext (the sidebar toggles, two navigation labels, the Colab logo's alt text) are
  replaced in the built pages, all taken from the book's catalogue. A solution's title becomes
  "练习的解答" (the link first).
- **Colab and the download button in Chinese.** A Chinese chapter's Colab button opens its Chinese
  notebook in the repository (``locales/zh_CN/notebooks/<chapter>.ipynb``, written by
  ``scripts/translations.py notebooks``), and its download button gives that notebook.
- **A language switch on every page**, in the article header: a link to the same page in the other
  edition, at the same section (the address's anchor, or the section being read; both editions give
  a section the same id). One site holds both editions: the English one at the root of
  ``_build/html``, the Chinese one under ``_build/html/zh/``, so the links are relative and work
  wherever ``_build/html`` is served.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from docutils import nodes
from myst_nb.core.variables import VariableOutput
from myst_nb.ext.glue import directives as glue_directives
from myst_nb.ext.glue import roles as glue_roles
from myst_nb.ext.glue import utils as glue_utils
from sphinx import addnodes
from sphinx.locale import get_translation
from sphinx.locale import init as init_locale
from sphinx.util.i18n import docname_to_domain

# The editions, in the order the switch lists them: language code, folder within the site, label.
EDITIONS = (("en", "", "English"), ("zh_CN", "zh", "中文"))

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


# Strings the themes' templates write without gettext, as the attributes that hold them.
HARD_CODED = [
    ("title", "Toggle primary sidebar"),
    ("title", "Toggle secondary sidebar"),
    ("aria-label", "Main"),
    ("aria-label", "Page"),
    ("alt", "Colab logo"),
    ("aria-label", "Toggle hidden content"),  # MyST-NB's folded cells (the setup cell)
]


def translated(app) -> bool:
    return bool(app.config.language) and app.config.language != "en"


def add_theme_catalogue(app, config) -> None:
    """Compile the book's catalogue for sphinx-book-theme's domain and add it after the theme's own."""
    if not translated(app):
        return
    for locale_dir in config.locale_dirs:
        po = Path(app.srcdir, locale_dir, config.language, "LC_MESSAGES", "booktheme.po")
        if po.is_file():
            mo = po.with_suffix(".mo")
            if not mo.is_file() or mo.stat().st_mtime < po.stat().st_mtime:
                with po.open("rb") as source, mo.open("wb") as target:
                    write_mo(target, read_po(source, locale=config.language))
            app.add_message_catalog("booktheme", str(po.parents[2]))
    _ = get_translation("sphinx")
    config.html_theme_options = {**config.html_theme_options, "search_bar_text": _("Search this book...")}


def solution_titles(app, doctree, docname) -> None:
    """ "解答 练习" (a link with a leading space) becomes "练习的解答", the link first."""
    if not translated(app):
        return
    for title in doctree.findall(nodes.title):
        parent = title.parent
        if "solution" not in parent.get("classes", []) or len(title.children) != 2:
            continue
        text, reference = title.children
        if isinstance(text, nodes.Text) and isinstance(reference, nodes.reference):
            label = reference.astext().strip()
            reference.children = [nodes.Text(label)]
            title.children = [reference, nodes.Text("的" + str(text))]
            reference.parent = title


def hard_coded_strings(app, exception) -> None:
    """Replace the strings the themes' templates write without gettext in every built page."""
    if exception or not translated(app) or app.builder.format != "html":
        return
    _ = get_translation("sphinx")
    replacements = [(f'{attr}="{text}"', f'{attr}="{_(text)}"') for attr, text in HARD_CODED if _(text) != text]
    for page in Path(app.outdir).rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        changed = html
        for old, new in replacements:
            changed = changed.replace(old, new)
        if changed != html:
            page.write_text(changed, encoding="utf-8")


def notebooks_dir(app) -> Path | None:
    """The Chinese notebooks of this edition's language (locales/<language>/notebooks), if any."""
    for locale_dir in app.config.locale_dirs:
        folder = Path(app.srcdir, locale_dir, app.config.language, "notebooks")
        if folder.is_dir():
            return folder
    return None


def translated_launch_buttons(app, pagename, templatename, context, doctree) -> None:
    """The Colab button of a translated chapter opens the chapter's notebook in that language."""
    folder = notebooks_dir(app) if translated(app) else None
    if folder is None or not (folder / f"{Path(pagename).name}.ipynb").is_file():
        return
    if not folder.is_relative_to(app.srcdir):
        return  # a catalogue folder outside the repository (a test's): Colab could not open it
    in_repository = folder.relative_to(app.srcdir).as_posix()

    def rewrite(buttons) -> None:
        for button in buttons:
            url = button.get("url", "")
            if url.startswith("https://colab.research.google.com/github/"):
                button["url"] = re.sub(
                    rf"(/blob/[^/]+/){re.escape(pagename)}\.ipynb$",
                    rf"\g<1>{in_repository}/{Path(pagename).name}.ipynb",
                    url,
                )
            rewrite(button.get("buttons", []))

    rewrite(context.get("header_buttons", []))


def translated_downloads(app, exception) -> None:
    """The download button of a translated chapter gives the chapter's notebook in that language."""
    folder = notebooks_dir(app) if translated(app) and not exception else None
    if folder is None or app.builder.format != "html":
        return
    for notebook in folder.glob("*.ipynb"):
        for source in Path(app.outdir, "_sources").rglob(notebook.name):
            shutil.copyfile(notebook, source)


def language_links(app, pagename, templatename, context, doctree) -> None:
    """Give the page template the same page in every edition (``context["editions"]``)."""
    language = app.config.language or "en"
    current = next((folder for code, folder, _ in EDITIONS if code == language), "")
    # up to the site's root: out of the page's folders, then out of its edition's folder
    up = "../" * (pagename.count("/") + (1 if current else 0))
    context["editions"] = [
        {
            "code": code,
            "label": label,
            "current": folder == current,
            "href": f"{up}{folder + '/' if folder else ''}{pagename}.html",
        }
        for code, folder, label in EDITIONS
    ]


def setup(app):
    glue_roles.retrieve_glue_data = retrieve_glue_data
    glue_directives.retrieve_glue_data = retrieve_glue_data
    # before Sphinx's toctree collector (priority 500) records the captions
    app.connect("doctree-read", translate_captions, priority=400)
    app.connect("html-page-context", language_links)
    app.connect("config-inited", add_theme_catalogue)
    app.connect("doctree-resolved", solution_titles)
    app.connect("build-finished", hard_coded_strings)
    # after sphinx-book-theme's buttons (priority 500)
    app.connect("html-page-context", translated_launch_buttons, priority=900)
    app.connect("build-finished", translated_downloads)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
