"""Serve MathJax 3 from the built site instead of a CDN, so math renders offline.

The MathJax files come from the ``django-static-mathjax`` package (MathJax 3.2.2, no dependencies),
which requirements.txt installs. They are copied into a ``mathjax/`` folder at the site's root after
the build; they are not put in ``_static``, whose files Jupyter Book would load on every page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mathjax

SOURCE = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
# The combined TeX/MathML/CommonHTML component, its fonts, and what it loads on demand.
PARTS = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "a11y", "ui")
FOLDER = "mathjax"


def use_local_mathjax(app, config) -> None:
    # Sphinx puts a relative mathjax_path under _static/; step out of it to the site's root.
    config.mathjax_path = f"../{FOLDER}/tex-mml-chtml.js"


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / FOLDER
    for part in PARTS:
        src, dst = SOURCE / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def setup(app):
    app.connect("config-inited", use_local_mathjax)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
