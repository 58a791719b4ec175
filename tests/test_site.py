"""The website: it builds with warnings as errors, and every page works in a real headless browser.

The browser part needs Chromium (Debian's `chromium`, driven by Playwright's Python package). Where it
is missing the browser tests are skipped, unless REQUIRE_BROWSER=1 (set by .ci/run), where they fail.
Screenshots of every page go to _build/screenshots/ for people to look at.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
import time
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from scripts.build_pdf import serve
from tests.browser import chromium_session, require_chromium
from tests.sites import english_edition

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


PAGES = toc_pages()


@pytest.fixture(scope="module")
def site() -> Path:
    """The English site as `make book` builds it (`jupyter-book build -W -n`), built once per run for
    this file and tests/test_translations.py (tests/sites.py)."""
    out, status = english_edition()
    assert status["english"] == 0, f"jupyter-book build failed or warned:\n{status['english_log']}"
    return out / "html"


def test_book_builds_without_warnings(site):
    for page in PAGES:
        assert (site / f"{page}.html").is_file(), f"{page}.html was not built"
    assert (site / "mathjax" / "tex-mml-chtml.js").is_file(), "MathJax is not served from the site"


def test_internal_links_resolve(site):
    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.targets: list[str] = []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            url = attrs.get("href") if tag in ("a", "link") else attrs.get("src") if tag in ("img", "script") else None
            # the language switch leads to the other edition, built next to this one by make book-zh:
            # tests/test_translations.py builds both and follows it
            switch = "language-switch-link" in (attrs.get("class") or "")
            if url and not switch and not url.startswith(("http:", "https:", "mailto:", "#", "data:", "javascript:")):
                self.targets.append(url.split("#")[0].split("?")[0])

    broken = []
    for page in PAGES:
        html = site / f"{page}.html"
        parser = Links()
        parser.feed(html.read_text(encoding="utf-8"))
        broken += [f"{page}: {t}" for t in parser.targets if t and not (html.parent / t).resolve().exists()]
    assert not broken, "broken internal links:\n" + "\n".join(broken)


@pytest.fixture(scope="module")
def browser():
    with chromium_session() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def server(site):
    with serve(site) as url:
        yield url


@pytest.mark.parametrize("page_name", PAGES)
def test_page_in_browser(page_name, site, browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console_errors, failed = [], []
    page.on(
        "console",
        lambda msg: (
            console_errors.append(f"{msg.text} {msg.location.get('url', '')}".strip()) if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda err: console_errors.append(str(err)))
    page.on("requestfailed", lambda req: failed.append(req.url) if req.url.startswith(server) else None)
    page.on(
        "response",
        lambda resp: (
            failed.append(f"{resp.status} {resp.url}") if resp.url.startswith(server) and resp.status >= 400 else None
        ),
    )

    page.goto(f"{server}/{page_name}.html", wait_until="networkidle")
    if page.locator("script[src*='mathjax']").count():
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("MathJax.startup.promise")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{Path(page_name).name}.png"), full_page=True)

    assert not failed, f"failed requests for local resources: {failed}"
    assert not console_errors, f"console errors: {console_errors}"
    broken_images = page.evaluate(
        "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    assert not broken_images, f"images that did not load: {broken_images}"
    raw_math = page.locator("main .math:not(:has(mjx-container))").count()
    assert raw_math == 0, f"{raw_math} math elements were not rendered by MathJax"

    # every figure says what it shows (not its file name, which is all a screen reader had before)
    alts = page.evaluate("[...document.querySelectorAll('article img')].map(i => i.getAttribute('alt') || '')")
    bad_alts = [a for a in alts if len(a.split()) < 8 or "/_images/" in a or a.endswith((".png", ".svg"))]
    assert not bad_alts, f"images without a real alt text: {bad_alts}"
    # the accessibility audit: axe-core (bundled by axe-playwright-python, so it runs offline)
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    severe = [
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}x): {v['help']} e.g. {v['nodes'][0]['target']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]
    assert not severe, "accessibility violations:\n" + "\n".join(severe)
    # printed outputs wrap, and code lines fit the column: nothing scrolls sideways
    wide_blocks = page.evaluate(
        "[...document.querySelectorAll('article pre')].filter(e => e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.innerText.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '').slice(0, 90))"
    )
    assert not wide_blocks, f"code or outputs that scroll sideways at 1280 px (longest line): {wide_blocks}"
    # display math fits the column too
    wide_math = page.evaluate(
        "[...document.querySelectorAll('article mjx-container[display=\"true\"]')].filter(e => e.firstElementChild"
        " && e.firstElementChild.getBoundingClientRect().width > e.getBoundingClientRect().width + 2)"
        ".map(e => e.textContent.slice(0, 60))"
    )
    assert not wide_math, f"display equations wider than the column at 1280 px: {wide_math}"
    # and no page is wider than a phone's screen
    page.set_viewport_size({"width": 390, "height": 800})
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390, f"the page is {page_width} px wide on a 390 px phone screen"
    page.set_viewport_size({"width": 1280, "height": 900})

    # the language switch: the same page in the Chinese edition, built under this one (make book-zh)
    switch = page.locator("a.language-switch-link[hreflang='zh-CN']")
    expected = "../" * page_name.count("/") + f"zh/{page_name}.html"
    assert switch.count() == 1 and switch.get_attribute("href") == expected, "no link to the Chinese edition"

    if (ROOT / f"{page_name}.ipynb").is_file():
        assert page.locator(".cell_output").count() > 0, "code cells show no outputs"
        colab = page.locator("a[href^='https://colab.research.google.com/github/']")
        assert colab.count() >= 1, "no Open in Colab button"
        config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
        repo = config["url"].removeprefix("https://github.com/")
        expected = f"https://colab.research.google.com/github/{repo}/blob/{config['branch']}/{page_name}.ipynb"
        assert colab.first.get_attribute("href") == expected, "the Colab button and _config.yml disagree"
        assert page.locator(".solution.dropdown, details.solution, .solution").count() >= 3, "solutions missing"
    page.close()


def test_keyboard_reaches_the_sidebar_the_search_and_the_launch_buttons(site, browser, server):
    """Tab alone, from the top of a chapter, reaches a chapter link in the sidebar, the search and the
    button that opens the launch menu (Colab), and Enter on it shows the Colab link."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/book/05_multihead.html", wait_until="networkidle")
    reached = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        where = page.evaluate(
            """() => { const e = document.activeElement;
                 if (e.closest('.bd-sidebar-primary') && e.matches('a.reference')) return 'sidebar';
                 if (e.matches('.search-button__button')) return 'search';
                 if ((e.getAttribute('aria-label') || '').startsWith('Launch')) return 'launch';
                 return null; }"""
        )
        reached.add(where)
        if where == "launch":
            page.keyboard.press("Enter")
            colab = page.locator("a[href^='https://colab.research.google.com/']")
            colab.first.wait_for(state="visible", timeout=5000)
            break
    page.close()
    assert {"sidebar", "search", "launch"} <= reached, f"reached by Tab: {reached - {None}}"


# --- The printable edition (make pdf, scripts/build_pdf.py) ---

# What raw TeX leaves in a PDF's text when MathJax has not typeset it: delimiters, dollars, macros.
TEX_TOKEN = re.compile(r"\\[A-Za-z]+|\\[()\[\]]|\$")
# Macros that MathJax draws as one Unicode character, which a PDF's text then holds.
MATH_GLYPHS = {r"\sqrt": "√", r"\top": "⊤", r"\cdot": "⋅", r"\sum": "∑", r"\times": "×", r"\infty": "∞"}


def source_title(page: str) -> str:
    """The first `# ` heading of a page of _toc.yml, from its notebook or Markdown source."""
    path = ROOT / f"{page}.ipynb"
    if path.is_file():
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
    title = re.search(r"^# (.+)$", text, re.MULTILINE).group(1)
    return re.sub(r"[`*]", "", title).strip()


def flat(text: str) -> str:
    """Text compared across line breaks and ligatures (pypdf gives "ﬁ" for fi)."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


class TextOutsideMath(HTMLParser):
    """A page's text, less its formulas (`.math` elements) and scripts: what may legitimately look like TeX."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})

    def __init__(self):
        super().__init__()
        self.skipping: list[bool] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            classes = (dict(attrs).get("class") or "").split()
            self.skipping.append(tag in ("script", "style", "head") or "math" in classes)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.skipping:
            self.skipping.pop()

    def handle_data(self, data):
        if not any(self.skipping):
            self.parts.append(data)


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="module")
def book_pdf(chromium, site, tmp_path_factory):
    """The printable edition, built from the test's site as `make pdf` builds it (its time is printed)."""
    out = tmp_path_factory.mktemp("pdf") / "book.pdf"
    started = time.perf_counter()
    command = [sys.executable, str(ROOT / "scripts" / "build_pdf.py"), "--site", str(site), "--out", str(out)]
    result = subprocess.run(
        [*command, "--chromium", chromium],
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, f"build_pdf.py failed:\n{(result.stdout + result.stderr)[-8000:]}"
    assert "warning:" not in result.stdout, f"content is cut off at the page edge:\n{result.stdout}"
    print(f"make pdf: {seconds:.0f} s, {out.stat().st_size / 1e6:.1f} MB")
    from pypdf import PdfReader

    return PdfReader(out)


@pytest.fixture(scope="module")
def pdf_text(book_pdf) -> list[str]:
    """Every page's text, extracted once (pypdf takes about half a minute for the whole book)."""
    return [page.extract_text() for page in book_pdf.pages]


def test_pdf_has_every_chapter_in_order(book_pdf, pdf_text):
    pages = [flat(text) for text in pdf_text]
    assert len(PAGES) + 2 <= len(pages) <= 30 * len(PAGES), f"{len(pages)} pages for {len(PAGES)} chapters"

    contents = next(i for i, text in enumerate(pages) if text.startswith("Contents"))
    assert contents <= 2, "the table of contents is not at the front"
    outline = {item.title: book_pdf.get_destination_page_number(item) for item in flatten(book_pdf.outline)}
    starts = []
    for page in PAGES:
        title = flat(source_title(page))
        listed = re.search(re.escape(title) + r" (\d+)\b", pages[contents])
        assert listed, f"the table of contents does not list {title!r}:\n{pages[contents]}"
        start = int(listed.group(1)) - 1
        # A chapter's first page has its heading; its footer holds only the page number, not the title.
        assert start < len(pages) and title in pages[start], f"{title!r} is not on page {start + 1}, as listed"
        assert outline.get(title) == start, f"the bookmark for {title!r} does not point at page {start + 1}"
        starts.append(start)
    assert starts == sorted(starts) and len(set(starts)) == len(starts), "chapters out of the order of _toc.yml"
    unnumbered = [i + 1 for i in range(1, len(pages)) if not re.search(rf"\b{i + 1}$", pages[i])]
    assert not unnumbered, f"pages without their page number in the footer: {unnumbered}"


def flatten(outline):
    for item in outline:
        yield from flatten(item) if isinstance(item, list) else [item]


def test_pdf_math_is_typeset(pdf_text, site):
    """MathJax typeset every formula: no TeX source is left in the text, and its glyphs are there.

    Text extracted from a PDF holds what was drawn. A formula MathJax did not typeset is drawn as its
    source, `\\(\\sqrt{d_k}\\)` or `$\\sqrt{d_k}$`; a typeset one as glyphs (√, d, k). Code and outputs may
    contain backslashes and dollars of their own (a regex, a matplotlib label), so every TeX-looking
    token of the PDF must occur at least as often in the site's text outside its formulas.
    """
    text = "\n".join(pdf_text)
    allowed, math_source = collections.Counter(), ""
    for page in PAGES:
        html = (site / f"{page}.html").read_text(encoding="utf-8")
        parser = TextOutsideMath()
        parser.feed(html)
        allowed += collections.Counter(TEX_TOKEN.findall("".join(parser.parts)))
        math_source += " ".join(re.findall(r'class="math[^"]*">(.*?)</', html, re.DOTALL))
    raw = collections.Counter(TEX_TOKEN.findall(text)) - allowed
    assert not raw, f"TeX source printed instead of typeset math: {dict(raw)}"

    used = {macro: glyph for macro, glyph in MATH_GLYPHS.items() if re.search(re.escape(macro) + r"\b", math_source)}
    assert len(used) >= 3, f"the book's formulas use few of {list(MATH_GLYPHS)}: choose other glyphs"
    missing = [f"{macro} ({glyph})" for macro, glyph in used.items() if glyph not in text]
    assert not missing, f"typeset math missing from the PDF: {missing}"


def test_pdf_links_leave_the_build_server(book_pdf):
    """Links in the PDF go to the web; none points at the temporary server the pages were printed from."""
    local = []
    for number, page in enumerate(book_pdf.pages, start=1):
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            uri = str(action.get_object().get("/URI", "")) if action else ""
            if uri.startswith(("http://127.0.0.1", "http://localhost")):
                local.append(f"page {number}: {uri}")
    assert not local, "links to the build server:\n" + "\n".join(local[:10])
