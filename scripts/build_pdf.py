"""Print the built website as one PDF: the book's printable edition (`make pdf`).

The site (``_build/html``, from ``make book``) is served over a local HTTP server, so that MathJax (served
from the site itself, see ``book/_ext/offline_mathjax.py``), fonts and images load as they do online.
Every page of ``_toc.yml`` is opened in headless Chromium through Playwright, in the order of the table of
contents; the builder waits until MathJax has typeset every formula and the fonts have loaded, checks that
no formula is left as raw TeX, and prints the page with a print stylesheet (:data:`PRINT_CSS`): no sidebars,
navigation bar, buttons or previous/next links, and code and outputs wrap instead of running off the page.

The chapters are then merged with pypdf behind a title page and a table of contents whose page numbers
are the merged book's; a running footer (chapter title and page number, counted over the whole book) is
stamped onto every page after the title page, and the PDF gets bookmarks for the parts, the chapters and
every section in them (Chromium's outline of each page's headings).

Links stay links. A link within a page (an exercise, a section) is a named destination that Chromium
writes; a link to another page of the site (a citation, a chapter, the contents' entries) is printed as
an address under :data:`INTERNAL` and then pointed at the place in the book where its target was printed
(every element with an id gets a destination, see :data:`PREPARE_JS`). Links to other websites stay as
they are.

The PDF is tagged: Chromium writes each page's structure (headings, paragraphs, lists, tables, figures
with their alt text, links), and :func:`merge_structure` joins the pages' trees into the book's one tree,
in reading order, with the footers marked as artifacts.

Boxes stay whole where they fit: a code cell, an output, a table, a figure or a formula shorter than
:data:`KEEP_WHOLE` of a page is not split across pages (taller ones are, at line boundaries). Invisible
marks at the top and bottom of each box, read back from the printed page and then removed, check this,
and check that no page but a chapter's last is more than half blank: either is printed as a warning.

Solutions to the exercises are not printed by default: each solution keeps its title, marked as omitted,
so that handouts can go to students. ``--with-solutions`` prints them (an instructor's copy).

Usage (from the repository root, after ``make book``)::

    python scripts/build_pdf.py --site _build/html --out _build/pdf/transformer-book.pdf
"""

from __future__ import annotations

import argparse
import datetime
import functools
import html
import http.server
import io
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# Flags that work for the system Chromium in containers (see TOOLCHAIN.md); the browser test uses them too.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Page geometry, shared by the chapters, the front matter and the footer stamp.
PAGE_FORMAT = "A4"
MARGINS = {"top": "16mm", "bottom": "20mm", "left": "16mm", "right": "16mm"}
# The printable width of an A4 page within MARGINS, in CSS pixels (96 per inch): pages are loaded at this
# width, so that what is measured before printing (OVERFLOW_JS) is laid out as it will be printed.
PRINT_WIDTH_PX = round((210 - 16 - 16) / 25.4 * 96)
VIEWPORT = {"width": PRINT_WIDTH_PX, "height": 1400}

# Injected into every chapter after switching the page to print media. The themes' own print rules
# already drop some of the chrome; this removes the rest and makes the content fit the page width.
PRINT_CSS = """
/* Everything that is navigation or needs a mouse. */
.bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-content,
.bd-footer-article, .prev-next-footer, .prev-next-area, .skip-link, #pst-back-to-top, .search-button,
.search-button-field, .theme-switch-button, .sidebar-toggle, .article-header-buttons, .header-article-items,
.dropdown-launch-buttons, .dropdown-download-buttons, .copybtn, button.toggle-button, .headerlink,
#pst-skip-link, .pst-async-banner-revealer, .onlyprint, .thebe-launch-button, .thebelab-button,
.sbt-scroll-pixel-helper, .bd-search, dialog, .bd-sidebar, #jb-print-docs-body { display: none !important; }

/* The article takes the whole width of the page. Chromium prints shadows as images: none on paper. */
html, body { background: white !important; }
* { box-shadow: none !important; text-shadow: none !important; }
.admonition.toggle .admonition-title { padding-right: 0.6rem !important; }
.bd-container, .bd-container__inner, .bd-main, .bd-content, .bd-article-container, .bd-article,
.bd-page-width { max-width: none !important; width: auto !important; margin: 0 !important; padding: 0 !important;
  display: block !important; overflow: visible !important; }
body { font-size: 10.5pt !important; }

/* Code and outputs wrap at the page edge instead of being cut off. */
pre, pre code, div.highlight pre, .cell_output pre, .output pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere !important; word-break: break-word !important;
  overflow: visible !important; max-height: none !important; font-size: 8pt !important; line-height: 1.35 !important;
}
/* Outputs laid out in columns (cells tagged aligned-output: a table of numbers, tokens over their
   predictions) keep their lines, in a smaller type: 6 pt holds 130 columns across the page. */
.tag_aligned-output .cell_output pre {
  white-space: pre !important; overflow-wrap: normal !important; word-break: normal !important;
  font-size: 6pt !important;
}
div.highlight, .cell_output, .output, .cell_input, div.cell, .highlight-ipython3, .highlight-myst-ansi,
.output_html, div.output_area { overflow: visible !important; max-height: none !important; }

/* Tables of outputs and wide formulas shrink or wrap rather than run off the page. */
table { max-width: 100% !important; font-size: 8.5pt !important; }
table td, table th { overflow-wrap: anywhere; }
mjx-container[display="true"] { overflow: visible !important; max-width: 100% !important; }

/* Figures fit the width and are never split across pages. No taller than 2/5 of a page (104 mm of the 261
   printable), so that a figure pushed to the next page leaves less than half of a page blank. */
img { max-width: 100% !important; height: auto !important; break-inside: avoid; }
main img { max-height: 104mm !important; width: auto !important; }
figure, .cell_output img, mjx-container[display="true"] { break-inside: avoid; }
h1, h2, h3, h4, .admonition-title { break-after: avoid; }

/* The themes keep every code block on one page, inner frames included; a block that does not fit then
   leaves its outer frame empty at the bottom of one page and its text on the next. Inner frames may break;
   PREPARE_JS keeps the outer box of a short block whole (.pdf-whole), and lets a long one break. */
div.highlight, div[class*="highlight-"], pre, .bd-main .bd-content table { break-inside: auto !important; }
pre { orphans: 3; widows: 3; }
div.pdf-whole.pdf-box, .pdf-whole.pdf-box { break-inside: avoid !important; }
.pdf-box { position: relative !important; }
a.pdf-mark { position: absolute !important; left: 0; width: 1px; height: 1px; display: block !important; }

/* The book theme prints its own copy of the title and hides the article's: show the article's. */
.bd-article h1:first-of-type { display: block !important; }
"""

# Solutions: only their title is printed, marked as omitted (the default); see MARK_SOLUTIONS_JS.
HIDE_SOLUTIONS_CSS = """
.solution.admonition > .admonition-title ~ * { display: none !important; }
.solution.admonition { padding-bottom: 0 !important; }
.solution.admonition > .admonition-title { margin-bottom: 0 !important; }
.print-omitted { font-weight: normal; font-style: italic; }
"""
MARK_SOLUTIONS_JS = """
() => {
  for (const title of document.querySelectorAll('.solution.admonition > .admonition-title')) {
    const note = document.createElement('span');
    note.className = 'print-omitted';
    note.textContent = ' (not printed: see the notebook or the online book)';
    title.appendChild(note);
  }
}
"""

# Solutions in full (--with-solutions): undo sphinx-togglebutton's collapsed state.
SHOW_SOLUTIONS_CSS = """
.solution.admonition { border-left: 0.2rem solid #999 !important; }
.admonition.toggle-hidden .admonition-title ~ *, .toggle-hidden {
  height: auto !important; opacity: 1 !important; visibility: visible !important; display: block !important;
}
"""

FRONT_CSS = """
@page { size: A4; margin: 0; }
body { margin: 0; font-family: "DejaVu Sans", "Liberation Sans", sans-serif; color: #1a1a1a; }
.sheet { box-sizing: border-box; width: 210mm; padding: 30mm 24mm 20mm; break-after: page; }
.title { height: 296mm; display: flex; flex-direction: column; justify-content: center; }
.title h1 { font-size: 30pt; line-height: 1.2; margin: 0 0 8mm; }
.title .author { font-size: 15pt; margin-bottom: 30mm; }
.title .note { font-size: 10pt; color: #444; line-height: 1.5; max-width: 140mm; }
.contents h1 { font-size: 22pt; margin: 0 0 10mm; }
.contents h2 { font-size: 11pt; text-transform: uppercase; letter-spacing: 0.05em; color: #555;
  margin: 7mm 0 2mm; }
.entry { display: flex; align-items: baseline; font-size: 11.5pt; margin: 1.6mm 0; color: inherit;
  text-decoration: none; }
.entry .name { flex: none; max-width: 140mm; }
.entry .dots { flex: 1; border-bottom: 1px dotted #888; margin: 0 2mm; transform: translateY(-1mm); }
.entry .page { flex: none; min-width: 8mm; text-align: right; }
"""

FOOTER_CSS = """
@page { size: A4; margin: 0; }
body { margin: 0; font-family: "DejaVu Sans", "Liberation Sans", sans-serif; }
.sheet { position: relative; width: 210mm; height: 296.9mm; overflow: hidden; break-after: page; }
.footer { position: absolute; left: 16mm; right: 16mm; bottom: 9mm; display: flex; justify-content: space-between;
  gap: 8mm; font-size: 8pt; color: #666; border-top: 0.4pt solid #bbb; padding-top: 1.5mm; }
.footer .chapter { overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
"""


@dataclass
class Entry:
    """One page of the table of contents (_toc.yml), and where it lands in the book."""

    page: str  # the source path without suffix, as in _toc.yml: "book/03_scaled_dot_product"
    part: str | None  # the caption of its part, None for the root page
    title: str = ""  # the page's first heading, read from the rendered page
    pdf: bytes = b""  # the page printed on its own
    pages: int = 0  # how many PDF pages it takes
    start: int = 0  # its first page in the book, counting from 1 (the title page)
    dests: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (its page from 0, top in pt)
    outline: list[tuple[int, str, int, float]] = field(default_factory=list)  # (depth, title, page, top)


@dataclass
class Book:
    """What the builder made, for callers that want to inspect it (the tests do)."""

    out: Path
    entries: list[Entry]
    front_pages: int
    total_pages: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    links: int = 0  # links resolved to places in the book
    boxes: dict[str, int] = field(default_factory=dict)  # boxes kept whole, and long ones split, counted
    tags: int = 0  # elements of the structure tree (the tagged PDF)


def read_toc(toc_file: Path) -> list[Entry]:
    """The pages of a Jupyter Book table of contents, in reading order, with their part captions."""
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    entries = [Entry(page=toc["root"], part=None)]
    for part in toc.get("parts", []):
        entries += [Entry(page=chapter["file"], part=part.get("caption")) for chapter in part["chapters"]]
    return entries


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve a folder over HTTP on a free local port; yields the base URL."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def find_chromium(explicit: str | None = None) -> str:
    path = explicit or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        sys.exit("build_pdf: Chromium is not installed (apt-get install -y chromium), or pass --chromium PATH")
    return path


def count_pages(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def uri_of(annotation) -> str:
    """The address a link annotation opens ("" for a link within the PDF)."""
    action = annotation.get("/A")
    return str(action.get_object().get("/URI", "")) if action else ""


def mark_of(annotation) -> str | None:
    """The address after MARK of an invisible mark's link annotation, else None."""
    uri = uri_of(annotation)
    return uri[len(MARK) :] if uri.startswith(MARK) else None


def read_printed(entry: Entry, url: str) -> tuple[list[str], dict[str, int]]:
    """Read back what Chromium printed for ``entry``: its page count, named destinations and outline (into ``entry``),
    and where its boxes' marks landed. Returns the warnings (a short box split across pages, a page other
    than the last more than half blank) and the boxes counted by kind."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(entry.pdf))
    entry.pages = len(reader.pages)
    for name, dest in reader.named_destinations.items():
        entry.dests[name.lstrip("/")] = (reader.get_destination_page_number(dest), float(dest.top or 0))

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                entry.outline.append((depth, item.title, reader.get_destination_page_number(item), float(item.top)))

    walk(reader.outline, 0)
    tops, bottoms, kinds, lowest = {}, {}, {}, {}
    for number, page in enumerate(reader.pages):
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            mark = mark_of(annotation)
            if mark is None:
                continue
            box, where, kind = mark.split("/")
            (tops if where == "top" else bottoms)[box] = number
            kinds[box] = kind
            y = float(annotation["/Rect"][1])
            lowest[number] = min(lowest.get(number, y), y)
    warnings, counted = [], {"whole": 0, "long": 0, "long split": 0}
    for box, kind in kinds.items():
        first, last = tops.get(box), bottoms.get(box)
        if kind == "text" or first is None or last is None:
            continue
        counted[kind] += 1
        if first != last and kind == "whole":
            warnings.append(
                f"{url}: a box shorter than {KEEP_WHOLE:.0%} of a page is split, pages {first + 1}-{last + 1}"
            )
        counted["long split"] += kind == "long" and first != last
    spanning = {n for box in tops if box in bottoms for n in range(tops[box], bottoms[box])}
    height = float(reader.pages[0].mediabox.height)
    middle = (height - mm_to_pt(MARGINS["top"]) + mm_to_pt(MARGINS["bottom"])) / 2
    for number in range(len(reader.pages) - 1):
        if number not in spanning and lowest.get(number, height) > middle:
            warnings.append(f"{url}: page {number + 1} of {len(reader.pages)} is more than half blank")
    return warnings, counted


def mm_to_pt(length: str) -> float:
    return float(length.removesuffix("mm")) / 25.4 * 72


# Run in the page once MathJax has finished: formulas MathJax did not typeset, and TeX delimiters left
# in the text outside code (what a reader would see if MathJax had not run).
RAW_MATH_JS = """
() => {
  const main = document.querySelector('main') || document.body;
  const untypeset = main.querySelectorAll('.math:not(:has(mjx-container))').length;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const raw = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest('pre, code, script, style, mjx-container, .highlight')) continue;
    const text = node.textContent;
    const tex = /\\\\\\(|\\\\\\[|\\$\\$|\\\\(frac|sqrt|mathrm|text|cdot|sum|top)\\b/;
    if (tex.test(text)) raw.push(text.trim().slice(0, 80));
  }
  return {untypeset, raw};
}
"""

# Run in the page before printing: elements wider than the article (what print would cut off).
OVERFLOW_JS = """
() => {
  const main = document.querySelector('main') || document.body;
  const width = main.getBoundingClientRect().right + 1;
  const wide = [];
  for (const el of main.querySelectorAll('pre, table, img, mjx-container, .cell_output, .output, p, li')) {
    const box = el.getBoundingClientRect();
    if (box.right > width || el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible')
      wide.push(el.tagName.toLowerCase() + ': ' + (el.textContent || el.src || '').trim().slice(0, 60));
  }
  return wide;
}
"""

# Where links to the book's own pages are printed (then resolved to places in the PDF), and where the
# invisible marks that measure the printed boxes point (then removed).
INTERNAL = "https://book.invalid/"
MARK = "https://mark.invalid/"
# A box shorter than this share of the printable height is kept on one page.
KEEP_WHOLE = 0.45
PRINTABLE_HEIGHT_PX = round((297 - 16 - 20) / 25.4 * 96)

# Run in the page before printing. Links to other pages of the site go to INTERNAL + their path (the
# temporary server's address would be useless in a PDF). Chromium writes a named destination for every
# target of a link within the page, so a hidden link to every id makes each a destination that links
# from other pages can be resolved to. Boxes get a mark at their top and bottom (box number, "top" or
# "bottom"), and a short box is kept whole. Returns the number of boxes marked.
PREPARE_JS = """
([origin, internal, mark, keepWhole]) => {
  // a figure's link to its own image (to enlarge it on the site) has nothing to show on paper
  for (const a of document.querySelectorAll('a.image-reference')) a.removeAttribute('href');
  for (const a of document.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href');
    if (a.href.startsWith(origin + '/') && !href.startsWith('#')) a.href = internal + a.href.slice(origin.length + 1);
  }
  const main = document.querySelector('main') || document.body;
  const anchors = document.createElement('div');
  anchors.style.display = 'none';
  for (const el of main.querySelectorAll('[id]')) {
    const a = document.createElement('a');
    a.href = '#' + el.id;
    anchors.appendChild(a);
  }
  main.appendChild(anchors);
  // boxes kept whole where short; text (paragraphs, items, headings) only marked, for the blank-page check
  const whole = 'div.cell_input, div.cell_output, table, figure, div.math, .admonition, div[class*="highlight-"]';
  const text = 'p, li, dt, dd, h1, h2, h3, h4, .citation, blockquote';
  const found = [...main.querySelectorAll(whole + ', ' + text)].filter(el => el.offsetParent !== null);
  const boxes = [...new Set(found.map(el => el.tagName === 'TABLE' ? el.parentElement : el))];
  const inBox = new Set(boxes);
  let n = 0;
  for (const box of boxes) {
    let outer = box.parentElement;
    while (outer && !inBox.has(outer)) outer = outer.parentElement;
    if (outer) continue;  // inside another box: the outer one is measured
    box.classList.add('pdf-box');
    const kind = box.matches(text) ? 'text' : box.getBoundingClientRect().height <= keepWhole ? 'whole' : 'long';
    if (kind === 'whole') box.classList.add('pdf-whole');
    for (const where of ['top', 'bottom']) {
      const m = document.createElement('a');
      m.className = 'pdf-mark';
      m.href = `${mark}${n}/${where}/${kind}`;
      m.style[where] = '0';
      box.appendChild(m);
    }
    n += 1;
  }
  return n;
}
"""


def print_page(browser, url: str, origin: str, with_solutions: bool, timeout_ms: int) -> tuple[str, bytes, list[str]]:
    """Open one page, let MathJax finish, print it. Returns (first heading, PDF bytes, warnings)."""
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(url, wait_until="networkidle", timeout=timeout_ms)
        if page.locator("script[src*='mathjax']").count():
            page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=timeout_ms)
            page.evaluate("MathJax.startup.promise")
        page.emulate_media(media="print")
        page.add_style_tag(content=PRINT_CSS + (SHOW_SOLUTIONS_CSS if with_solutions else HIDE_SOLUTIONS_CSS))
        if not with_solutions:
            page.evaluate(MARK_SOLUTIONS_JS)
        page.evaluate(
            "Promise.all([...document.images].map(i => { i.loading = 'eager';"
            " return i.complete ? null : new Promise(r => { i.onload = i.onerror = r; }); }))"
        )
        page.evaluate("document.fonts.ready.then(() => null)")

        math = page.evaluate(RAW_MATH_JS)
        if math["untypeset"] or math["raw"]:
            raise RuntimeError(
                f"{url}: MathJax left {math['untypeset']} formulas untypeset; raw TeX in the text: {math['raw'][:5]}"
            )
        heading = page.locator("main h1").first
        title = " ".join(heading.inner_text().split()) if heading.count() else page.title()
        warnings = [f"{url}: content wider than the page: {w}" for w in page.evaluate(OVERFLOW_JS)]
        page.evaluate(PREPARE_JS, [origin, INTERNAL, MARK, KEEP_WHOLE * PRINTABLE_HEIGHT_PX])
        pdf = page.pdf(format=PAGE_FORMAT, print_background=True, margin=MARGINS, outline=True, tagged=True)
        return title, pdf, warnings
    finally:
        page.close()


def front_matter_html(book_title: str, author: str, entries: list[Entry], with_solutions: bool, built: str) -> str:
    """The title page and the table of contents, as one HTML document."""
    solutions = (
        "Solutions to the exercises are printed after each exercise."
        if with_solutions
        else "Solutions to the exercises are not printed: they are in the notebooks and in the online book."
    )
    e = html.escape
    rows, part = [], object()
    for entry in entries:
        if entry.part != part and entry.part:
            rows.append(f"<h2>{e(entry.part)}</h2>")
        part = entry.part
        page = str(entry.start) if entry.start else "000"
        rows.append(
            f'<a class="entry" href="{INTERNAL}{e(entry.page)}.html"><span class="name">{e(entry.title)}</span>'
            f'<span class="dots"></span><span class="page">{page}</span></a>'
        )
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>{FRONT_CSS}</style></head><body>
<section class="sheet title"><h1>{e(book_title)}</h1><div class="author">{e(author)}</div>
<div class="note"><p>The printed edition of the book's website: every chapter with its code and the outputs
that the tests check. The notebooks run on a laptop or in Colab.</p><p>{e(solutions)}</p>
<p>{e(built)}</p></div></section>
<section class="sheet contents"><h1>Contents</h1>{"".join(rows)}</section>
</body></html>"""


def footer_html(labels: list[tuple[str, str]]) -> str:
    """One A4 sheet per book page with nothing on it but the running footer (left label, page number)."""
    e = html.escape
    sheets = "".join(
        f'<div class="sheet"><div class="footer"><span class="chapter">{e(left)}</span>'
        f"<span>{e(right)}</span></div></div>"
        for left, right in labels
    )
    head = f'<meta charset="utf-8"><style>{FOOTER_CSS}</style>'
    return f"<!doctype html><html><head>{head}</head><body>{sheets}</body></html>"


def print_html(browser, content: str, tagged: bool = False) -> bytes:
    page = browser.new_page()
    try:
        page.set_content(content, wait_until="load")
        page.evaluate("document.fonts.ready.then(() => null)")
        return page.pdf(prefer_css_page_size=True, print_background=True, tagged=tagged)
    finally:
        page.close()


def number_tree(node) -> list[tuple[int, object]]:
    """The (key, value) pairs of a PDF number tree (a /ParentTree), its /Kids walked."""
    node = node.get_object()
    nums = node.get("/Nums", [])
    pairs = [(int(nums[i]), nums[i + 1]) for i in range(0, len(nums), 2)]
    for kid in node.get("/Kids", []):
        pairs += number_tree(kid)
    return pairs


def merge_structure(writer, readers: list, language: str) -> int:
    """One structure tree (the tags a screen reader follows) for the merged book, from the trees that
    Chromium wrote into each printed page and that pypdf's merge leaves behind.

    Each page's tree is copied under the book's /Document as a /Part, in order; pypdf points the copies'
    page references at the merged pages, since it has copied those pages already. Keys that tie a page's
    marked content (and a link's annotation) to its elements, /StructParents and /StructParent, restart
    at 0 in every printed page: they are shifted so that the book's /ParentTree holds them all. Elements
    that point at an annotation the merge dropped (the boxes' marks) are dropped too. Returns the number of
    structure elements."""
    from pypdf.generic import (
        ArrayObject,
        BooleanObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    on_pages = {
        ref.get_object().indirect_reference.idnum
        for page in writer.pages
        for ref in page.get("/Annots") or []
        if hasattr(ref, "idnum")
    }
    root = writer._add_object(DictionaryObject({NameObject("/Type"): NameObject("/StructTreeRoot")}))
    document = writer._add_object(
        DictionaryObject({NameObject("/Type"): NameObject("/StructElem"), NameObject("/S"): NameObject("/Document")})
    )
    parts, nums, offset, elements = ArrayObject(), ArrayObject(), 0, 0

    holder: dict[int, object] = {}  # a dropped /NonStruct's object number -> the element that took its kids
    dropped: set[int] = set()  # elements left with nothing (links to the boxes' marks)

    def adopt(element_ref, parent_ref) -> bool:
        """Point the copied element and its descendants at their parents; False if it held nothing but
        dropped annotations."""
        nonlocal elements
        element = element_ref.get_object()
        element[NameObject("/P")] = parent_ref
        kids = element.get("/K")
        elements += 1
        if kids is None:
            return True
        kept = ArrayObject()
        for kid in kids if isinstance(kids, list) else [kids]:
            kept += take(kid, element_ref)
        element[NameObject("/K")] = kept
        if not kept:
            dropped.add(element_ref.idnum)
            elements -= 1
        return bool(kept)

    def take(kid, element_ref) -> list:
        """What ``kid`` leaves in its parent's /K. A /NonStruct (a grouping without meaning: Chromium
        writes one for nearly every span of highlighted code, most of the tree) gives its kids to the
        parent instead, which keeps the PDF's size near the untagged one."""
        target = kid.get_object() if hasattr(kid, "get_object") else kid
        if not isinstance(target, dict):
            return [kid]  # a marked-content id on the parent's page
        if target.get("/Type") == "/OBJR":
            return [kid] if target.raw_get("/Obj").idnum in on_pages else []
        if "/S" not in target:
            return [kid]  # a marked-content reference (/MCR) with its own page
        if target["/S"] != "/NonStruct" or not hasattr(kid, "idnum"):
            return [kid] if adopt(kid, element_ref) else []
        holder[kid.idnum] = element_ref
        page = target.raw_get("/Pg") if "/Pg" in target else None
        parent_page = element_ref.get_object().raw_get("/Pg") if "/Pg" in element_ref.get_object() else None
        out = []
        kids = target.get("/K")
        for sub in kids if isinstance(kids, list) else [] if kids is None else [kids]:
            if isinstance(sub, int) and (parent_page is None or parent_page.idnum != page.idnum):
                sub = DictionaryObject(
                    {NameObject("/Type"): NameObject("/MCR"), NameObject("/Pg"): page, NameObject("/MCID"): sub}
                )
            out += take(sub, element_ref)
        return out

    pages = list(writer.pages)
    first = 0
    for reader in readers:
        count = len(reader.pages)
        tree = reader.root_object.get("/StructTreeRoot")
        if tree is not None:
            tree = tree.get_object()
            top = tree.get("/K")
            for kid in top if isinstance(top, list) else [top]:
                copy = kid.clone(writer, ignore_fields=("/P",)).indirect_reference
                copy.get_object()[NameObject("/S")] = NameObject("/Part")
                if adopt(copy, document):
                    parts.append(copy)
            pairs = number_tree(tree["/ParentTree"]) if "/ParentTree" in tree else []
            for key, value in pairs:
                nums += [NumberObject(key + offset), value.clone(writer, ignore_fields=("/P",))]
            # pypdf leaves these keys out of the pages and annotations it copies: set them, shifted
            copies = writer._id_translated.get(id(reader), {})  # a source object's number -> its copy's
            for source, page in zip(reader.pages, pages[first : first + count], strict=True):
                if "/StructParents" in source:
                    page[NameObject("/StructParents")] = NumberObject(source["/StructParents"] + offset)
                for ref in source.get("/Annots") or []:
                    annotation, copy = ref.get_object(), copies.get(ref.idnum)
                    if "/StructParent" in annotation and copy in on_pages:
                        number = NumberObject(annotation["/StructParent"] + offset)
                        writer.get_object(copy)[NameObject("/StructParent")] = number
            offset += max((key for key, _ in pairs), default=-1) + 1
        first += count
    # the parent tree names, for each marked content, its element: the kept one that took it over
    for i in range(1, len(nums), 2):
        value = nums[i].get_object()
        if isinstance(value, list):
            for j, ref in enumerate(value):
                if hasattr(ref, "idnum") and ref.idnum in holder:
                    value[j] = holder[ref.idnum]
        elif hasattr(nums[i], "idnum") and nums[i].idnum in holder:
            nums[i] = holder[nums[i].idnum]
    nums = ArrayObject(
        item
        for key, value in zip(nums[::2], nums[1::2], strict=True)
        if not (hasattr(value, "idnum") and value.idnum in dropped)
        for item in (key, value)
    )
    document.get_object()[NameObject("/P")] = root
    document.get_object()[NameObject("/K")] = parts
    root.get_object()[NameObject("/K")] = document
    root.get_object()[NameObject("/ParentTree")] = writer._add_object(DictionaryObject({NameObject("/Nums"): nums}))
    root.get_object()[NameObject("/ParentTreeNextKey")] = NumberObject(offset)
    catalog = writer.root_object
    catalog[NameObject("/StructTreeRoot")] = root
    catalog[NameObject("/MarkInfo")] = DictionaryObject({NameObject("/Marked"): BooleanObject(True)})
    catalog[NameObject("/Lang")] = TextStringObject(language)
    catalog[NameObject("/ViewerPreferences")] = DictionaryObject({NameObject("/DisplayDocTitle"): BooleanObject(True)})
    return elements + 1


def drop_unreachable(writer) -> None:
    """Remove the objects nothing reachable from the catalog points at (the /NonStruct elements that
    merge_structure unlinked still point at each other, so pypdf's own count of references keeps
    them)."""
    from pypdf.generic import IndirectObject

    seen, todo = set(), [writer.root_object.indirect_reference, writer._info.indirect_reference]
    while todo:
        item = todo.pop()
        if isinstance(item, IndirectObject):
            if item.pdf is not writer or item.idnum in seen:
                continue
            seen.add(item.idnum)
            item = item.get_object()
        if isinstance(item, dict):
            todo += item.values()
        elif isinstance(item, list):
            todo += item
    for index in range(len(writer._objects)):  # pypdf's own way to drop an object (None)
        if index + 1 not in seen:
            writer._objects[index] = None


def as_artifact(page) -> None:
    """Mark a footer sheet's drawing as an artifact (page furniture, not content) before it is stamped
    onto a tagged page: a screen reader skips it, and the page holds no untagged content."""
    from pypdf.generic import DecodedStreamObject

    stream = DecodedStreamObject()
    stream.set_data(b"/Artifact BMC\n" + page.get_contents().get_data() + b"\nEMC\n")
    page.replace_contents(stream)


def provenance() -> str:
    """A line for the title page: when, and from which commit, this edition was printed."""
    date = datetime.date.today().isoformat()
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"Printed on {date}" + (f" from commit {commit}." if commit else ".")


def resolve_links(writer, entries: list[Entry], front_pages: int) -> int:
    """Point the merged book's links at places in the book: a page's links to its own ids (named
    destinations, which every page names alike: "summary", "exercises") and links to other pages (under
    INTERNAL) become explicit destinations; the boxes' marks are removed. Returns how many links point
    into the book. A link to an id that no page printed goes to the top of its page."""
    from pypdf.generic import ArrayObject, FloatObject, NameObject, NullObject

    by_page = {f"{entry.page}.html": entry for entry in entries}
    owner = [None] * front_pages + [entry for entry in entries for _ in range(entry.pages)]

    def place(entry: Entry, anchor: str):
        number, top = entry.dests.get(anchor, (0, None))
        top = FloatObject(top) if top is not None else NullObject()
        page = writer.pages[entry.start - 1 + number].indirect_reference
        return ArrayObject([page, NameObject("/XYZ"), NullObject(), top, NullObject()])

    links = 0
    for number, page in enumerate(writer.pages):
        kept = []
        for ref in page.get("/Annots") or []:
            annotation = ref.get_object()
            if mark_of(annotation) is not None:
                continue
            uri = uri_of(annotation)
            dest = annotation.get("/Dest")
            if uri.startswith(INTERNAL):
                path, _, anchor = uri[len(INTERNAL) :].partition("#")
                target = by_page.get(path)
                if target is None:
                    raise ValueError(f"a link to {path!r}, which is not a page of the book")
                annotation[NameObject("/Dest")] = place(target, anchor)
                del annotation["/A"]
                links += 1
            elif dest is not None and not isinstance(dest, ArrayObject) and owner[number] is not None:
                annotation[NameObject("/Dest")] = place(owner[number], str(dest).lstrip("/"))
                links += 1
            kept.append(ref)
        if "/Annots" in page:
            page[NameObject("/Annots")] = ArrayObject(kept)
    return links


def build_pdf(
    site: Path,
    out: Path,
    toc_file: Path = ROOT / "_toc.yml",
    config_file: Path = ROOT / "_config.yml",
    with_solutions: bool = False,
    chromium: str | None = None,
    timeout_s: float = 120,
    log=print,
) -> Book:
    """Print every page of the site listed in ``toc_file`` and merge them into ``out``."""
    import pikepdf
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import Fit

    started = time.perf_counter()
    site, out = Path(site), Path(out)
    entries = read_toc(toc_file)
    missing = [e.page for e in entries if not (site / f"{e.page}.html").is_file()]
    if missing:
        raise FileNotFoundError(f"{site} lacks {missing}: build the site first (make book)")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    book_title, author = config.get("title", "The book"), config.get("author", "")
    warnings: list[str] = []
    boxes: dict[str, int] = {}

    with serve(site) as origin, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(chromium), args=CHROMIUM_FLAGS)
        try:
            for entry in entries:
                t0 = time.perf_counter()
                entry.title, entry.pdf, page_warnings = print_page(
                    browser, f"{origin}/{entry.page}.html", origin, with_solutions, int(timeout_s * 1000)
                )
                box_warnings, counted = read_printed(entry, f"{entry.page}.html")
                warnings += page_warnings + box_warnings
                for kind, n in counted.items():
                    boxes[kind] = boxes.get(kind, 0) + n
                log(f"  {entry.page}: {entry.pages} pages ({time.perf_counter() - t0:.1f} s)")

            # The front matter's length fixes the chapters' first pages, which go into the front matter:
            # lay it out with placeholder numbers first, then with the real ones (same length).
            built = provenance()
            front = print_html(browser, front_matter_html(book_title, author, entries, with_solutions, built))
            front_pages = count_pages(front)
            start = front_pages + 1
            for entry in entries:
                entry.start, start = start, start + entry.pages
            front = print_html(
                browser, front_matter_html(book_title, author, entries, with_solutions, built), tagged=True
            )
            if count_pages(front) != front_pages:
                raise RuntimeError("the table of contents changed length once page numbers were filled in")
            total = start - 1

            labels = [("", "")] + [(book_title, str(n)) for n in range(2, front_pages + 1)]
            for entry in entries:
                # A chapter's first page shows its title as a heading: the footer carries only the number.
                labels += [(entry.title if i else "", str(entry.start + i)) for i in range(entry.pages)]
            # a writer, so that each sheet's drawing can be marked as an artifact (as_artifact)
            footers = PdfWriter(clone_from=io.BytesIO(print_html(browser, footer_html(labels))))
            if len(footers.pages) != total:
                raise RuntimeError(f"footer sheets: {len(footers.pages)} pages for a book of {total}")
        finally:
            browser.close()

    writer = PdfWriter()
    # kept until the structure trees are merged: pypdf maps their objects to its copies by the reader
    readers = [PdfReader(io.BytesIO(front))] + [PdfReader(io.BytesIO(entry.pdf)) for entry in entries]
    writer.append(readers[0])
    for reader in readers[1:]:
        # the chapters' own outlines and named destinations are rebuilt below, once for the whole book
        writer.append(reader, import_outline=False)
    for number, page in enumerate(writer.pages):
        if number:  # no footer on the title page
            footer = footers.pages[number]
            as_artifact(footer)
            page.merge_page(footer)
            page.compress_content_streams()  # merging leaves them uncompressed

    links = resolve_links(writer, entries, front_pages)
    writer.root_object.pop("/Names", None)  # each chapter's "summary" and "exercises": links no longer use them
    first_page = (site / f"{entries[0].page}.html").read_text(encoding="utf-8")
    language = (re.search(r'<html[^>]*\blang="([^"]+)"', first_page) or [None, "en"])[1].replace("_", "-")
    tags = merge_structure(writer, readers, language)

    writer.add_outline_item(title="Contents", page_number=1)
    parents: dict[str | None, object] = {None: None}
    for entry in entries:
        if entry.part not in parents:
            parents[entry.part] = writer.add_outline_item(title=entry.part, page_number=entry.start - 1)
        chapter = writer.add_outline_item(title=entry.title, page_number=entry.start - 1, parent=parents[entry.part])
        # the page's own outline, its headings: the first (the chapter's title) is the chapter's bookmark
        levels = {0: chapter}
        for depth, title, page, top in entry.outline[1:] if entry.outline else []:
            parent = levels.get(depth - 1, chapter) if depth else chapter
            levels[depth] = writer.add_outline_item(
                title=title, page_number=entry.start - 1 + page, parent=parent, fit=Fit.xyz(top=top)
            )
    writer.page_mode = "/UseOutlines"
    writer.add_metadata({"/Title": book_title, "/Author": author, "/Creator": "scripts/build_pdf.py"})
    drop_unreachable(writer)
    writer.compress_identical_objects()

    out.parent.mkdir(parents=True, exist_ok=True)
    merged = io.BytesIO()
    writer.write(merged)
    # pypdf writes each object on its own; the tags are thousands of small ones. qpdf (pikepdf) packs
    # them into compressed object streams: the tagged book is then no larger than the untagged one was.
    with pikepdf.open(merged) as pdf, tempfile.NamedTemporaryFile(dir=out.parent, suffix=".pdf", delete=False) as tmp:
        pdf.save(tmp, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    Path(tmp.name).replace(out)
    return Book(out, entries, front_pages, total, time.perf_counter() - started, warnings, links, boxes, tags)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html", help="the built site (make book)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "transformer-book.pdf")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml", help="the table of contents to follow")
    parser.add_argument("--with-solutions", action="store_true", help="print the solutions (instructor's copy)")
    parser.add_argument("--chromium", help="the Chromium executable (default: chromium on PATH)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds allowed to load one page")
    args = parser.parse_args(argv)

    print(f"Printing {args.site} with Chromium:")
    book = build_pdf(
        args.site,
        args.out,
        args.toc,
        with_solutions=args.with_solutions,
        chromium=args.chromium,
        timeout_s=args.timeout,
    )
    for warning in book.warnings:
        print(f"warning: {warning}")
    size = book.out.stat().st_size / 1e6
    print(f"PDF written: {book.out} ({book.total_pages} pages, {size:.1f} MB, {book.seconds:.0f} s)")
    kept, split = book.boxes.get("whole", 0), book.boxes.get("long split", 0)
    print(f"{book.links} links into the book; {kept} short boxes kept whole, {split} long ones split")
    print(f"tagged: {book.tags:,} structure elements")
    return 0


if __name__ == "__main__":
    sys.exit(main())
