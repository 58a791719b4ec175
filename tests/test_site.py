"""The website: it builds with warnings as errors, and every page works in a real headless browser.

The browser part needs Chromium (Debian's `chromium`, driven by Playwright's Python package). Where it
is missing the browser tests are skipped, unless REQUIRE_BROWSER=1 (set by .ci/run), where they fail.
Screenshots for people to look at: `make screenshots` (scripts/screenshots.py).
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

import nbformat
import pytest
import yaml

from scripts.build_pdf import number_tree, serve
from scripts.translations import toc_pages
from tests.browser import accessibility_problems, chromium_session, require_chromium
from tests.sites import english_edition

ROOT = Path(__file__).resolve().parents[1]


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


def test_bibliography_is_sorted_with_one_link_per_entry(site):
    """Entries in the order of their authors' names as printed (BibTeX's braces ignored: the source
    article's "{Anonymous compilation}" sorted after Z), each with one link: an arXiv id, a DOI or a URL."""
    from bs4 import BeautifulSoup

    page = BeautifulSoup((site / "book" / "bibliography.html").read_text(encoding="utf-8"), "html.parser")
    entries = page.select("div.citation")
    assert len(entries) >= 30, f"{len(entries)} entries"
    labels = [e.find(class_="label").get_text(strip=True).strip("[]").casefold() for e in entries]
    first_authors = [label.split()[0].rstrip(",") for label in labels]  # then first names, years, titles
    assert first_authors == sorted(first_authors), f"not sorted by author: {labels}"
    # the source article was "collected from the web" without an address: it alone has no link
    links = {label: len(e.select("a[href^=http]")) for label, e in zip(labels, entries, strict=True)}
    wrong = {label: n for label, n in links.items() if n != (0 if label.startswith("anonymous") else 1)}
    assert not wrong, f"entries without exactly one link (an arXiv id, a DOI or a URL): {wrong}"


def test_no_plumbing_is_shown(site):
    """The notebooks' glue calls and nbval markers are the book's machinery: the pages' code leaves them
    out (book/_ext/plumbing.py), and keeps every other line of every code cell."""
    from bs4 import BeautifulSoup

    shown, in_notebooks = [], 0
    for page in PAGES:
        if not (ROOT / f"{page}.ipynb").is_file():
            continue
        cells = json.loads((ROOT / f"{page}.ipynb").read_text(encoding="utf-8"))["cells"]
        sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        in_notebooks += sum(s.count("tl.glue(") + s.count("# NBVAL_") for s in sources)
        html = BeautifulSoup((site / f"{page}.html").read_text(encoding="utf-8"), "html.parser")
        code = [pre.get_text() for pre in html.select("div.cell_input pre")]
        shown += [f"{page}: {line.strip()}" for text in code for line in text.splitlines() if "glue(" in line]
        shown += [f"{page}: {line.strip()}" for text in code for line in text.splitlines() if "NBVAL" in line]
        assert len(code) == len(sources), f"{page}: {len(code)} code cells shown of {len(sources)}"
        for source in sources:  # the first and last lines of every cell that is not only plumbing
            lines = [x for x in source.splitlines() if x.strip() and "glue(" not in x and "NBVAL" not in x]
            assert any(lines[0] in text for text in code), f"{page}: a line is missing: {lines[0]!r}"
    assert in_notebooks >= 100, f"only {in_notebooks} glue calls and markers: the test sees little"
    assert not shown, "plumbing shown to readers:\n" + "\n".join(shown[:10])


def test_exercises_are_numbered_by_chapter(site):
    """ "Exercise 4.2" (book/_ext/numbering.py), its solution "Solution to Exercise 4.2" linking to it,
    and the student copies number it the same way."""
    from bs4 import BeautifulSoup

    from scripts.coursework import student_copy

    counted = 0
    for page in PAGES:
        if not (ROOT / f"{page}.ipynb").is_file():
            continue
        chapter = re.match(r"(\d+[a-z]?)\.", source_title(page)).group(1)
        html = BeautifulSoup((site / f"{page}.html").read_text(encoding="utf-8"), "html.parser")
        exercises = html.select("div.exercise > p.admonition-title")
        expected = [f"Exercise {chapter}.{k}" for k in range(1, len(exercises) + 1)]
        assert [t.get_text(" ", strip=True) for t in exercises] == expected, page
        solutions = html.select("div.solution p.admonition-title")
        assert [" ".join(t.get_text(" ", strip=True).split()) for t in solutions] == [
            f"Solution to {e}" for e in expected
        ], page
        links = [t.find("a")["href"] for t in solutions]
        assert links == ["#" + e.parent["id"] for e in exercises], page
        copy = student_copy(nbformat.read(ROOT / f"{page}.ipynb", as_version=4))
        headings = re.findall(r"^### (Exercise \S+)", "\n".join(c.source for c in copy.cells), re.M)
        assert headings == expected, f"{page}: the student copy says {headings}"
        counted += len(exercises)
    assert counted >= 40, f"{counted} exercises"


def test_no_table_is_shown_twice_or_raw(site):
    """A Markdown table a chapter makes (chapter 9c's three families) is shown once, rendered: no output
    prints its pipes, and each rendered output table appears once on its page."""
    from bs4 import BeautifulSoup

    rendered = 0
    for page in PAGES:
        html = BeautifulSoup((site / f"{page}.html").read_text(encoding="utf-8"), "html.parser")
        raw = [
            pre.get_text()
            for pre in html.select("div.cell_output pre")
            if re.search(r"^\|(?:-+\|)+$", pre.get_text(), re.M)
        ]
        assert not raw, f"{page}: a Markdown table printed as text:\n{raw[0][:300]}"
        tables = [t.get_text(" ", strip=True) for t in html.select("div.cell_output table")]
        assert len(tables) == len(set(tables)), f"{page}: a table shown twice"
        rendered += len(tables)
    assert rendered >= 1, "no chapter renders a table in its outputs: the test sees nothing"


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
    # printed outputs wrap, and code lines fit the column: nothing scrolls sideways
    wide_blocks = page.evaluate(
        "[...document.querySelectorAll('article pre')].filter(e => e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.innerText.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '').slice(0, 90))"
    )
    assert not wide_blocks, f"code or outputs that scroll sideways at 1280 px (longest line): {wide_blocks}"
    # aligned outputs keep their columns: not wrapped, fitted to the column and still legible
    aligned = page.evaluate(
        "[...document.querySelectorAll('.tag_aligned-output div.cell_output pre')]"
        ".map(p => [getComputedStyle(p).whiteSpace, parseFloat(getComputedStyle(p).fontSize)])"
    )
    assert all(space == "pre" and size >= 8 for space, size in aligned), f"aligned outputs wrapped: {aligned}"
    # display math fits the column too
    wide_math = page.evaluate(
        "[...document.querySelectorAll('article mjx-container[display=\"true\"]')].filter(e => e.firstElementChild"
        " && e.firstElementChild.getBoundingClientRect().width > e.getBoundingClientRect().width + 2)"
        ".map(e => e.textContent.slice(0, 60))"
    )
    assert not wide_math, f"display equations wider than the column at 1280 px: {wide_math}"
    # one search box, and no empty header bar above the page
    searches = "[...document.querySelectorAll('.search-button-field, .search-button')].filter(e =>"
    searches += " e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden').length"
    assert page.evaluate(searches) == 1, f"{page.evaluate(searches)} search boxes at 1280 px"
    assert page.evaluate("document.querySelector('.bd-header').offsetHeight") == 0, "an empty header bar"
    # and no page is wider than a phone's screen
    page.set_viewport_size({"width": 390, "height": 800})
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390, f"the page is {page_width} px wide on a 390 px phone screen"
    assert page.evaluate(searches) == 1, f"{page.evaluate(searches)} search boxes at 390 px"
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
        # the setup cell is folded to one line (book/_ext/setup_cell.py), its code a click away
        setup = page.locator(".setup-cell details")
        assert setup.count() == 1, f"{setup.count()} folded setup cells"
        assert setup.evaluate("d => !d.open") and not setup.locator("pre").is_visible(), "the setup code shows"
        assert "pick the device" in setup.locator("summary").inner_text()
        setup.locator("summary").click()
        assert "# Setup:" in setup.locator("pre").inner_text(), "the folded cell is not the setup cell"
    # the accessibility audit, last since it changes the page: axe-core (bundled, so it runs offline)
    severe = accessibility_problems(page)
    assert not severe, "accessibility violations:\n" + "\n".join(severe)
    page.close()


def test_the_audit_sees_one_faint_token_among_thousands(site, browser, server):
    """The audit keeps one token of each look (tests/browser.py): a single token made faint, the last of
    the longest chapter's code, is a look of its own and fails it."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/book/08_transformer.html", wait_until="networkidle")
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("MathJax.startup.promise")
    page.evaluate(
        "[...document.querySelectorAll('div.cell_input div.highlight pre span.n')].pop().style.color = '#ddd'"
    )
    problems = accessibility_problems(page)
    page.close()
    assert len(problems) == 1 and problems[0].startswith("color-contrast (serious, 1x)"), problems


def test_search_results_quote_the_prose(site, browser, server):
    """A search's results quote the article around the word (book/_static/search_snippets.js), not the
    printed table of contents that the theme puts first in the page's main element."""
    from bs4 import BeautifulSoup

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/search.html?q=padding", wait_until="networkidle")
    # the status line is written when every result is shown (Sphinx's _pulse_status can restart after it)
    page.wait_for_function("() => typeof Search !== 'undefined' && Search.status && Search.status.innerText")
    results = page.locator("#search-results ul.search li").evaluate_all(
        "items => items.map(li => [li.querySelector('a').href, (li.querySelector('p.context') || {}).innerText])"
    )
    page.close()
    checked = 0
    for href, snippet in results:
        name = href.split(server + "/")[1].split(".html")[0]
        if not snippet or name not in PAGES:
            continue
        article = BeautifulSoup((site / f"{name}.html").read_text(encoding="utf-8"), "html.parser").find("article")
        for link in article.select(".headerlink"):  # the "#" after each heading, which the search drops too
            link.decompose()
        quoted = " ".join(snippet.strip(".").split())[:60]
        prose = " ".join(article.get_text().split())
        assert quoted in prose, f"{name}: the snippet is not prose: {snippet[:120]!r}"
        checked += 1
    assert checked >= 5, f"{checked} snippets checked of {len(results)} results"


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
    """Text compared across line breaks, ligatures ("ﬁ" for fi) and Sphinx's curly apostrophes."""
    return " ".join(unicodedata.normalize("NFKC", text).replace("\u2019", "'").split())


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
def printed_book(chromium, site, tmp_path_factory):
    """The printable edition, built from the test's site as `make pdf` builds it (its time is printed),
    and what the builder printed."""
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

    return PdfReader(out), result.stdout, out


@pytest.fixture(scope="module")
def book_pdf(printed_book):
    return printed_book[0]


@pytest.fixture(scope="module")
def pdf_text(printed_book) -> list[str]:
    """Every page's text, extracted once, by PDFium (2 s for the whole book; pypdf took 40 s)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(printed_book[2])
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def test_pdf_has_every_chapter_in_order(book_pdf, pdf_text):
    pages = [flat(text) for text in pdf_text]
    assert len(PAGES) + 2 <= len(pages) <= 30 * len(PAGES), f"{len(pages)} pages for {len(PAGES)} chapters"

    contents = next(i for i, text in enumerate(pages) if text.startswith("Contents"))
    assert contents <= 2, "the table of contents is not at the front"
    outline = {flat(item.title): book_pdf.get_destination_page_number(item) for item in flatten(book_pdf.outline)}
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
            # nor at the addresses the builder prints links into the book and its marks under
            if uri.startswith(("http://127.0.0.1", "http://localhost", "https://book.invalid", "https://mark.invalid")):
                local.append(f"page {number}: {uri}")
    assert not local, "links to the build server:\n" + "\n".join(local[:10])


def test_pdf_is_navigable(printed_book, pdf_text):
    """Links into the book go where they say: the contents' entries to their chapters' first pages, the
    citations to the bibliography; bookmarks reach the sections; short boxes are kept whole (the builder
    warns of a split one, or of a page more than half blank, and the fixture fails on any warning)."""
    from pypdf.generic import ArrayObject

    reader, log, _ = printed_book
    targets = []  # (page of the link, page it goes to)
    for number, page in enumerate(reader.pages):
        for annotation in page.get("/Annots") or []:
            dest = annotation.get_object().get("/Dest")
            if isinstance(dest, ArrayObject):
                targets.append((number, reader.get_page_number(dest[0].get_object())))
    # issue 28's bar: more than 500 (571 measured, with the chapter and glossary links of book/_ext)
    assert len(targets) > 500, f"{len(targets)} links into the book"
    pages = [flat(text) for text in pdf_text]
    contents = next(i for i, text in enumerate(pages) if text.startswith("Contents"))
    listed = [re.search(re.escape(flat(source_title(p))) + r" (\d+)\b", pages[contents]) for p in PAGES]
    starts = sorted(int(found.group(1)) - 1 for found in listed)
    from_contents = sorted(to for where, to in targets if where == contents)
    assert from_contents == starts, "the contents' links do not go to the pages they list"
    bibliography = next(i for i, text in enumerate(pages) if text.startswith(flat(source_title("book/bibliography"))))
    cited = [to for where, to in targets if where > contents and to >= bibliography]
    assert len(cited) >= 50, f"{len(cited)} citations link to the bibliography"

    def depth(items, level=1):
        return max((depth(i, level + 1) if isinstance(i, list) else level for i in items), default=level)

    outline = list(flatten(reader.outline))
    assert depth(reader.outline) >= 3, "bookmarks stop at the chapters"
    assert len(outline) >= 10 * len(PAGES), f"{len(outline)} bookmarks for {len(PAGES)} pages"
    kept = int(re.search(r"(\d+) short boxes kept whole", log).group(1))
    assert kept >= 500, f"only {kept} code cells, outputs, tables, figures and formulas were checked"


def test_pdf_is_tagged(printed_book, site):
    """The book's one structure tree, joined from Chromium's tags of each printed page
    (scripts/build_pdf.py, merge_structure): a /Part per page in reading order under one /Document, the
    chapters' headings, every figure with the alt text the site has, and each page's marked content tied
    to elements of that page (the merge shifts the keys that restart at 0 in every printed page: a wrong
    shift points a page at another page's elements). qpdf finds nothing wrong in the file."""
    import pikepdf
    from bs4 import BeautifulSoup

    reader, _, path = printed_book
    catalog = reader.trailer["/Root"]
    assert catalog["/MarkInfo"]["/Marked"] and catalog["/Lang"] == "en"
    document = catalog["/StructTreeRoot"]["/K"].get_object()
    assert document["/S"] == "/Document" and len(document["/K"]) == len(PAGES) + 1  # the front matter too
    kinds, alts, todo = {}, 0, [document]
    while todo:
        element = todo.pop()
        kinds[element["/S"]] = kinds.get(element["/S"], 0) + 1
        alts += element["/S"] == "/Figure" and bool(element.get("/Alt"))
        kids = element.get("/K", [])
        for kid in kids if isinstance(kids, list) else [kids]:
            kid = kid.get_object() if hasattr(kid, "get_object") else kid
            if isinstance(kid, dict) and "/S" in kid:
                todo.append(kid)
    assert kinds["/Part"] == len(PAGES) + 1 and kinds["/H1"] >= len(PAGES)
    assert "/NonStruct" not in kinds, "the meaningless groupings are folded into their parents"
    images = 0
    for page in PAGES:
        article = BeautifulSoup((site / f"{page}.html").read_text(encoding="utf-8"), "html.parser").select_one(
            "article"
        )
        images += sum(1 for image in article.find_all("img") if image.get("alt", "").strip())
    assert alts == images, f"{alts} figures with alt text in the PDF, {images} images with alt text on the site"

    parents = dict(number_tree(catalog["/StructTreeRoot"]["/ParentTree"]))
    for number, page in enumerate(reader.pages):
        listed = parents[int(page["/StructParents"])].get_object()
        on = {
            e.get_object().raw_get("/Pg").idnum for e in listed if hasattr(e, "get_object") and "/Pg" in e.get_object()
        }
        assert on <= {page.indirect_reference.idnum}, f"page {number + 1} names elements of other pages"
    with pikepdf.open(path) as pdf:
        assert pdf.check_pdf_syntax() == []
