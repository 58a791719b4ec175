"""The Chinese edition: every English message translated, the Chinese site built, every page opened.

The catalogues (locales/zh_CN/LC_MESSAGES/book/*.po) must hold a current translation of every message
of the English pages: a changed English sentence makes `test_every_message_is_translated` fail until
its translation is updated (README, *The Chinese edition*). The browser part needs Chromium, like
tests/test_site.py: skipped where it is missing, unless REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import collections
import functools
import gettext
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import sphinx.locale
import yaml

from scripts import translations
from tests.browser import accessibility_problems, chromium_session
from tests.sites import both_editions_built

ROOT = Path(__file__).resolve().parents[1]


PAGES = translations.toc_pages()


def test_every_message_is_translated():
    problems = translations.check([], against_english=True)
    assert not problems, "the Chinese catalogues are not current:\n" + "\n".join(problems[:40])


def test_a_changed_sentence_is_caught(tmp_path, monkeypatch):
    """The check sees an English message without its translation, and a translation whose markup
    (here a glued number) is not the English one's."""
    po = translations.catalogue("04_masks")
    catalog = translations.load(po)
    message = next(m for m in catalog if m.id.startswith("To block a key"))
    message.string = message.string.replace("$-\\infty$", "$-10^9$", 1)
    catalog.add("A sentence the catalogue has never seen.", "")
    monkeypatch.setattr(translations, "CATALOGUES", tmp_path)
    translations.save(catalog, translations.catalogue("04_masks"))
    problems = translations.problems_of("04_masks")
    assert any("untranslated: 'A sentence the catalogue has never seen.'" in p for p in problems)
    assert any("markup differs" in p and "To block a key" in p for p in problems)


def test_a_space_after_full_width_punctuation_is_caught(tmp_path, monkeypatch):
    """A bold lead-in written as English writes it, '**拆分。** 后文', leaves a gap after the full stop."""
    catalog = translations.load(translations.catalogue("05_multihead"))
    message = next(m for m in catalog if m.id.startswith("**Split.**"))
    assert message.string.startswith("**拆分**。"), message.string[:20]
    message.string = message.string.replace("**拆分**。", "**拆分。** ", 1)
    monkeypatch.setattr(translations, "CATALOGUES", tmp_path)
    translations.save(catalog, translations.catalogue("05_multihead"))
    problems = translations.problems_of("05_multihead")
    assert len(problems) == 1 and "a space after full-width punctuation" in problems[0], problems


def test_display_math_must_be_copied_exactly(tmp_path, monkeypatch):
    """An equation whose translation differs from its English only by the newlines around it (what the
    worksheet's round trip made of every equation) is flagged, and `apply` copies the English back:
    Sphinx rebuilds any other translation of a math block as a literal block that shows '::'."""
    math = translations.math_blocks("03_scaled_dot_product")
    assert len(math) == 3, f"chapter 3 has 3 display equations, MyST's parser found {len(math)}"
    catalog = translations.load(translations.catalogue("03_scaled_dot_product"))
    equation = next(m for m in catalog if m.id in math)
    equation.string = equation.id.strip("\n")
    monkeypatch.setattr(translations, "CATALOGUES", tmp_path)
    monkeypatch.setattr(translations, "SHEETS", tmp_path / "sheets")
    monkeypatch.setattr(translations, "NOTEBOOKS", tmp_path / "notebooks")
    translations.save(catalog, translations.catalogue("03_scaled_dot_product"))
    problems = translations.problems_of("03_scaled_dot_product")
    assert len(problems) == 1 and "display math not copied exactly" in problems[0], problems
    translations.sheet("03_scaled_dot_product")
    translations.apply("03_scaled_dot_product")
    assert translations.problems_of("03_scaled_dot_product") == []


def test_chinese_notebooks_are_current():
    """The Chinese notebooks (for Colab and the download button) are the English chapters with their
    Markdown translated: written from the current notebooks and catalogues, every translation placed,
    code cells and outputs the English notebook's, every Markdown cell with English prose in Chinese."""
    chapters = translations.chapters()
    assert len(chapters) == len(list((ROOT / "book").glob("*.ipynb")))
    for page in chapters:
        text, left = translations.chinese_notebook(page)
        committed = translations.NOTEBOOKS / f"{page}.ipynb"
        assert committed.is_file() and committed.read_text(encoding="utf-8") == text, (
            f"{committed.name} is not current: run `.venv/bin/python scripts/translations.py notebooks`"
        )
        assert not left, f"{page}: translations not placed in the notebook: {left[:5]}"
        english = json.loads(translations.source_of(page).read_text(encoding="utf-8"))["cells"]
        chinese = json.loads(text)["cells"]
        assert [c for c in chinese if c["cell_type"] != "markdown"] == [
            c for c in english if c["cell_type"] != "markdown"
        ], f"{page}: code or outputs differ"
        for en, zh in zip(english, chinese, strict=True):
            prose = translations.STRIP.sub(" ", "".join(en["source"]))
            if en["cell_type"] == "markdown" and len(re.findall(r"\b[a-z]{3,}\b", prose)) > 3:
                assert re.search(r"[\u4e00-\u9fff]", "".join(zh["source"])), f"{page}: left in English: {prose[:80]!r}"


def test_chinese_pages_launch_the_chinese_notebooks(sites):
    """A Chinese chapter's Colab button opens its Chinese notebook in the repository, its download
    button gives that notebook; the English chapter's buttons keep the English one."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    colab = f"https://colab.research.google.com/github/{config['url'].removeprefix('https://github.com/')}"
    colab += f"/blob/{config['branch']}/"
    for page in translations.chapters():
        notebook = translations.NOTEBOOKS.relative_to(ROOT) / f"{page}.ipynb"
        zh = (sites / "html" / "zh" / "book" / f"{page}.html").read_text(encoding="utf-8")
        assert f'href="{colab}{notebook.as_posix()}"' in zh, f"{page}: the Colab button does not open {notebook}"
        en = (sites / "html" / "book" / f"{page}.html").read_text(encoding="utf-8")
        assert f'href="{colab}book/{page}.ipynb"' in en, f"{page}: the English Colab button changed"
        assert 'href="../_sources/book/' + page + '.ipynb"' in zh
        download = sites / "html" / "zh" / "_sources" / "book" / f"{page}.ipynb"
        assert download.read_bytes() == (ROOT / notebook).read_bytes(), (
            f"{page}: the download is not the Chinese notebook"
        )


@pytest.fixture(scope="module")
def sites() -> Path:
    """One site with both editions, as `make book` and `make book-zh` build them: html/ and html/zh/
    (built once per run for this file and tests/test_site.py: tests/sites.py)."""
    return both_editions_built()


def test_chinese_edition_builds_every_page(sites):
    for page in PAGES:
        assert (sites / "html" / "zh" / f"{page}.html").is_file(), f"{page}.html was not built"


# A chapter named in prose (book/_ext/chapter_links.py): "chapter 4", "chapters 9a, 9b and 9c", "第 4 章".
MENTION = re.compile(r"\b[Cc]hapters?\s+\d|第\s*\d+[a-d]?(?:\s*(?:[、和至到及与–-]|,)\s*\d+[a-d]?)*\s*章")
# Where a mention is not prose: code, outputs, headings, glossary terms, the page's scripts.
NOT_PROSE = ["a", "pre", "code", "h1", "h2", "h3", "h4", "dt", "script", "style", "mjx-container"]


def chapter_pages() -> dict[str, str]:
    """Chapter number -> page: "4" -> "book/04_masks", and "9" -> 9a (the first of its parts)."""
    found = {}
    for page in PAGES:
        if (ROOT / f"{page}.ipynb").is_file():
            first = json.loads((ROOT / f"{page}.ipynb").read_text(encoding="utf-8"))["cells"][0]
            found[re.match(r"# (\d+[a-z]?)\.", "".join(first["source"]))[1]] = page
    for number in sorted(found):
        found.setdefault(number.rstrip("abcd"), found[number])
    return found


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_every_chapter_mention_is_a_link_to_that_chapter(sites, edition):
    """No "chapter N" (第 N 章) stays plain text in the prose of either edition, and each link goes to
    the chapter its number names: a page that loses the extension, or a link to the wrong chapter, fails."""
    from bs4 import BeautifulSoup

    folder = sites / "html" / ("zh" if edition == "zh" else "")
    numbered, plain, wrong, links = chapter_pages(), [], [], 0
    for page in PAGES:
        main = BeautifulSoup((folder / f"{page}.html").read_text(encoding="utf-8"), "html.parser").select_one("main")
        plain += [f"{page}: {t.strip()[:80]}" for t in main.find_all(string=MENTION) if not t.find_parent(NOT_PROSE)]
        for link in main.select("a.chapter-link"):
            number = re.search(r"\d+[a-d]?", link.get_text())[0]
            target = link["href"].split("#")[0] or Path(page).name + ".html"
            links += 1
            if target != Path(numbered[number]).name + ".html":
                wrong.append(f"{page}: {link.get_text()!r} -> {link['href']}")
    assert not plain, "chapters named in plain text:\n" + "\n".join(plain[:20])
    assert not wrong, "links to the wrong chapter:\n" + "\n".join(wrong[:20])
    assert links >= 100, f"only {links} links to chapters: the test sees little"


def used(words: str, prose: str, names: list[str]) -> bool:
    """Whether ``words`` occur in ``prose`` as a term of their own: whole words in English, and not as
    part of a longer glossary name (掩码 in 因果掩码, mask in padding mask), which links to its own entry."""
    text = prose.casefold()
    for name in sorted(names, key=len, reverse=True):
        if len(name) > len(words) and words.casefold() in name.casefold():
            text = text.replace(name.casefold(), " ")
    if re.search(r"[\u4e00-\u9fff]", words):
        return words.casefold() in text
    return re.search(rf"(?<![\w-]){re.escape(words.casefold())}(?![\w-])", text) is not None


def output(node) -> bool:
    """Whether ``node`` is in a cell's output (a notebook's Markdown output too): not prose."""
    return node.find_parent("div", class_="cell_output") is not None


def letters(text: str) -> str:
    """The letters and digits of a text, TeX commands left out: a definition as the glossary page
    shows it (its math in TeX) and as a hover title (its math plain) compared."""
    return "".join(re.findall(r"[A-Za-z0-9\u4e00-\u9fff]", re.sub(r"\\[a-zA-Z]+", "", text)))


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_glossary_terms_are_linked_at_first_use_with_their_definition(sites, edition):
    """In every chapter of either edition, the first use of a glossary term in the prose links to its
    entry, with the definition's first sentence as the title a browser shows on hover
    (book/_ext/glossary_links.py); no term is linked twice on a page, and no use of the linked words
    comes before the link."""
    from bs4 import BeautifulSoup, NavigableString

    folder = sites / "html" / ("zh" if edition == "zh" else "")
    glossary = BeautifulSoup((folder / "book" / "glossary.html").read_text(encoding="utf-8"), "html.parser")
    entries = {dt["id"]: " ".join(dt.find_next_sibling("dd").get_text(" ").split()) for dt in glossary.select("dt[id]")}
    names = [n for dt in glossary.select("dt[id]") for n in re.split(r"\s*[,;，；、]\s*", dt.get_text().split(" (")[0])]
    total = 0
    for page in PAGES:
        if not (ROOT / f"{page}.ipynb").is_file():
            continue
        main = BeautifulSoup((folder / f"{page}.html").read_text(encoding="utf-8"), "html.parser").select_one("main")
        anchors, prose = [], ""
        for node in main.descendants:
            if getattr(node, "name", None) == "a" and "term-link" in node.get("class", []):
                href, words = node["href"], " ".join(node.get_text().split())
                assert href.startswith("glossary.html#"), f"{page}: {href}"
                anchor = href.split("#")[1]
                assert anchor in entries, f"{page}: {words!r} links to a term the glossary does not have: {anchor}"
                title = node["title"]
                assert "\\" not in title and letters(entries[anchor]).startswith(letters(title)[:12]), (
                    f"{page}: {words!r}: the title {title!r} is not its definition's first sentence"
                )
                assert not used(words, prose, names), f"{page}: {words!r} is used before its link"
                anchors.append(anchor)
            elif isinstance(node, NavigableString) and not node.find_parent(NOT_PROSE) and not output(node):
                prose += " ".join(node.split()) + " | "  # a name split by markup (*Multi-head* attention) is not one
        assert anchors, f"{page}: no glossary term linked"
        assert len(anchors) == len(set(anchors)), f"{page}: a term linked twice: {anchors}"
        total += len(anchors)
    assert total >= 80, f"only {total} glossary links: the test sees little"


def test_every_chinese_page_has_the_english_pages_structure(sites):
    """Only the prose is translated: each Chinese page has its English page's display equations (none a
    literal '::'), inline math, code cells, outputs, figures, tables, exercises, glued values and anchors."""
    problems = translations.site_parity(sites / "html", sites / "html" / "zh", PAGES)
    assert not problems, "the Chinese pages differ from the English ones:\n" + "\n".join(problems)
    english = [translations.structure((sites / "html" / f"{p}.html").read_text()) for p in PAGES]
    counted = {feature: sum(len(page[feature]) for page in english) for feature in english[0]}
    assert min(counted.values()) > 0, f"a feature the comparison never sees in the English pages: {counted}"


def test_no_english_left_in_the_chinese_pages(sites):
    """Visible text and attributes (tooltips, labels, the search box) of every Chinese page hold no Latin
    letters outside code, math, outputs, citations, glosses and the allow-list of names and terms."""
    leftovers = translations.latin_leftovers(sites / "html" / "zh", PAGES)
    listed = [f"{run} ({', '.join(sorted(pages)[:3])})" for run, pages in sorted(leftovers.items())]
    assert not leftovers, "English in the Chinese pages (translate it, or allow a name):\n" + "\n".join(listed)
    # the same scan sees the English pages' prose and theme strings: what it guards against
    english = translations.latin_leftovers(sites / "html", ["book/04_masks"])
    assert {"title: Link to this heading", "placeholder: Search this book"} <= set(english)
    assert any(len(run.split()) > 10 for run in english), "the scan misses sentences"

    masks = (sites / "html" / "zh" / "book" / "04_masks.html").read_text(encoding="utf-8")
    solutions = re.findall(r'<p class="admonition-title">(<a [^>]*>[^<]*</a>[^<]*)</p>', masks)
    numbered = [re.fullmatch(r"<a [^>]*>练习 4\.(\d)</a>的解答", t) for t in solutions]
    assert [int(m.group(1)) if m else None for m in numbered] == [1, 2, 3, 4], solutions
    intro = (sites / "html" / "zh" / "book" / "intro.html").read_text(encoding="utf-8")
    assert "佚名汇编, 2024" in intro and "Anonymous" not in intro, "the Chinese source article is not cited in Chinese"
    assert "作者： 本书编写组" in intro


def test_parity_catches_a_broken_catalogue(sites, tmp_path, monkeypatch):
    """One page built into a temporary folder with a catalogue whose equation lost its newlines (the fault
    that showed '::' for all 17 equations): the comparison with the English page reports that equation and
    nothing else. (A one-page build: its citations have no bibliography, hence warnings allowed; 4 s.)"""
    page = "03_scaled_dot_product"
    shutil.copytree(translations.LOCALES, tmp_path / "locales", ignore=shutil.ignore_patterns("*.mo", "notebooks"))
    po = tmp_path / "locales" / translations.catalogue(page).relative_to(translations.LOCALES)
    catalog = translations.load(po)
    equation = next(m for m in catalog if m.id in translations.math_blocks(page))
    equation.string = equation.id.strip("\n")
    translations.save(catalog, po)
    (tmp_path / "_toc.yml").write_text(f"format: jb-book\nroot: book/{page}\n")
    overrides = {
        **translations.ZH_OVERRIDES,
        "external_toc_path": str(tmp_path / "_toc.yml"),
        "locale_dirs": [str(tmp_path / "locales")],
    }
    # Sphinx keeps the catalogues it loaded for the whole process: without this, the fixture's ones would win
    monkeypatch.setattr(sphinx.locale, "translators", collections.defaultdict(gettext.NullTranslations))
    assert translations.sphinx("html", tmp_path / "html-zh", overrides, fresh=True, warnings_are_errors=False) == 0
    problems = translations.parity(
        sites / "html" / "book" / f"{page}.html", tmp_path / "html-zh" / "book" / f"{page}.html"
    )
    assert len(problems) == 2, problems
    assert "1 display equation(s) shown as '::'" in problems[0]
    assert "display equations: English 3, Chinese 3; first difference at #" in problems[1]


@pytest.fixture(scope="module")
def browser():
    with chromium_session() as chromium:
        yield chromium


# How README.md says to serve the site: the test serves its own build the same way.
SERVE = "python3 -m http.server -d _build/html"


@pytest.fixture(scope="module")
def server(sites):
    """The site served with README's command (its folder the test's build, on a free port)."""
    assert SERVE in (ROOT / "README.md").read_text(encoding="utf-8"), "README.md no longer says how to serve the site"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [*SERVE.replace("_build/html", str(sites / "html")).split(), "--bind", "127.0.0.1", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/book/intro.html", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


# Renders a CJK string and the same number of private-use characters, which no font has: if the two
# look the same, the CJK characters were drawn as the missing-glyph box ("tofu").
GLYPHS = """() => {
  const probe = (text) => {
    const span = document.createElement('span');
    span.textContent = text;
    span.style.cssText = 'font-size: 32px; position: fixed; top: 0; left: 0; background: white';
    document.body.appendChild(span);
    return span;
  };
  return [probe('注意力掩码'), probe('\\ue000\\ue001\\ue002\\ue003\\ue004')].map((s, i) => {
    s.id = 'glyph-probe-' + i;
    return s.getBoundingClientRect().width;
  });
}"""


@pytest.mark.parametrize("page_name", PAGES)
def test_chinese_page_in_browser(page_name, browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}") if req.url.startswith(server) else None)
    page.goto(f"{server}/zh/{page_name}.html", wait_until="networkidle")
    if page.locator("script[src*='mathjax']").count():
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("MathJax.startup.promise")

    assert not errors, f"console errors or failed requests: {errors}"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    title = page.locator("main h1").first.inner_text()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in title), f"the page title is not translated: {title!r}"
    setup = page.locator(".setup-cell summary")
    if setup.count():  # a chapter's folded setup cell says what it does in Chinese
        assert "选择设备" in setup.inner_text(), f"the setup cell's summary: {setup.inner_text()!r}"
    raw_math = page.locator("main .math:not(:has(mjx-container))").count()
    assert raw_math == 0, f"{raw_math} math elements were not rendered by MathJax"
    shown = page.locator("main mjx-container[display='true']").all_inner_texts()
    assert not any(text.strip() == "::" for text in shown), "a display equation is shown as '::'"

    captions = page.locator(".bd-sidebar .caption-text").all_inner_texts()
    untranslated = [c for c in captions if not any("\u4e00" <= ch <= "\u9fff" for ch in c)]
    assert captions and not untranslated, f"sidebar captions not translated: {untranslated}"
    severe = accessibility_problems(page)
    assert not severe, "accessibility violations:\n" + "\n".join(severe)

    page.evaluate(GLYPHS)
    cjk, tofu = (page.locator(f"#glyph-probe-{i}").screenshot() for i in range(2))
    assert cjk != tofu, "Chinese characters are drawn as boxes: no CJK font (apt-get install fonts-wqy-microhei)"

    # the language switch leads to the same page and section in English, and the English page leads back
    anchor = page.evaluate("[...document.querySelectorAll('article section[id]')].map(s => s.id).pop()")
    page.goto(f"{server}/zh/{page_name}.html#{anchor}")
    switch = page.locator("a.language-switch-link[hreflang='en']")
    assert switch.count() == 1, "no link to the English edition"
    switch.click()
    page.wait_for_load_state()
    assert page.url == f"{server}/{page_name}.html#{anchor}", f"the English link went to {page.url}"
    if page.locator("script[src*='mathjax']").count():
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("MathJax.startup.promise")
    english = page.locator("main mjx-container[display='true']").count()
    assert len(shown) == english, f"MathJax drew {len(shown)} display equations here, {english} in English"
    back = page.locator("a.language-switch-link[hreflang='zh-CN']")
    assert back.count() == 1, "the English page has no link to the Chinese edition"
    back.click()
    page.wait_for_load_state()
    assert page.url == f"{server}/zh/{page_name}.html#{anchor}", f"the Chinese link went to {page.url}"
    page.close()


@functools.cache
def article_texts(site: Path) -> dict[str, tuple[str, str]]:
    """Each page's article text outside its headings, and its headings' text (parsed once per site)."""
    from bs4 import BeautifulSoup

    texts = {}
    for name in PAGES:
        html = (site / f"{name}.html").read_text(encoding="utf-8")
        article = BeautifulSoup(html[html.find("<article") : html.rfind("</article>")], "html.parser")
        headings = article.find_all(["h1", "h2", "h3", "h4", "h5", "h6"])
        titles = " ".join(h.get_text() for h in headings)
        for heading in headings:
            heading.decompose()
        texts[name] = (article.get_text(), titles)
    return texts


def pages_using(site: Path, term: str) -> tuple[set[str], set[str]]:
    """The pages whose article text uses a term outside its headings, and those whose headings use it."""
    texts = article_texts(site)
    return {n for n, (body, _) in texts.items() if term in body}, {n for n, (_, t) in texts.items() if term in t}


@pytest.mark.parametrize("term", ["因果掩码", "多头注意力", "残差连接"])
def test_chinese_search_finds_the_pages_using_a_term(term, sites, browser, server):
    """Typed into the Chinese site's search box, a glossary term finds every page that uses it in its
    text, not only the page it titles (without jieba, Sphinx indexes no Chinese word at all)."""
    body, titled = pages_using(sites / "html" / "zh", term)
    assert len(body - titled) >= 3, f"{term} is used by too few pages to test the search: {body}"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/zh/book/intro.html", wait_until="networkidle")
    page.locator("button.search-button__button:visible").first.click()
    page.keyboard.type(term)
    page.keyboard.press("Enter")
    page.wait_for_url("**/search.html?q=*")
    # the status line is written when every result is shown; Sphinx's _pulse_status is no sign of it: a
    # pulse already scheduled when the search stops sets it from -1 back to 0, and it pulses on for ever
    page.wait_for_function("() => typeof Search !== 'undefined' && Search.status && Search.status.innerText")
    hrefs = page.locator("#search-results ul.search li a").evaluate_all("links => links.map(a => a.href)")
    found = {href.split("/zh/")[1].split(".html")[0] for href in hrefs if "/zh/" in href}
    page.close()
    assert body | titled <= found, f"the search for {term} missed {sorted((body | titled) - found)}; found {found}"


def test_the_switch_keeps_the_section_being_read(browser, server):
    """Without an anchor in the address, the switch opens the other edition at the section on screen
    (a section in the middle of chapter 8, the longest page, scrolled to the top of the window)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    middle = """() => { const leaves = [...document.querySelectorAll('article section[id]')]
        .filter(s => !s.querySelector('section')); return leaves[Math.floor(leaves.length / 2)].id; }"""
    for start, other, hreflang in (
        ("zh/book/08_transformer", "book/08_transformer", "en"),
        ("book/08_transformer", "zh/book/08_transformer", "zh-CN"),
    ):
        page.goto(f"{server}/{start}.html", wait_until="networkidle")
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("MathJax.startup.promise")  # typeset math changes the page's height
        section = page.evaluate(middle)
        page.evaluate(f"document.getElementById('{section}').scrollIntoView()")
        assert page.evaluate("window.scrollY") > 5000, "the section is not far down the page"
        # a click where the reader sees the link (the header stays on screen); Playwright's own click
        # would first scroll the sticky header's link "into view", leaving the section
        box = page.evaluate(
            f"(() => {{ const r = document.querySelector(\"a.language-switch-link[hreflang='{hreflang}']\")"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        assert 0 < box[1] < 100, "the switch is not on screen at the section"
        # the page is idle before the click: wait for the navigation the click starts, not the load state
        with page.expect_navigation(wait_until="networkidle"):
            page.mouse.click(*box)
        assert page.url == f"{server}/{other}.html#{section}", f"the switch went to {page.url}"
        top = page.evaluate(f"document.getElementById('{section}').getBoundingClientRect().top")
        assert abs(top) < 100, f"the other edition opened {top:.0f} px away from the section"
    page.close()


# The chapters with an interactive attention view (transformer_lib.tools.attention_view), and how many.
ATTENTION_VIEWS = {
    "book/01_self_attention": 1,
    "book/05_multihead": 1,
    "book/08_transformer": 1,
    "book/09b_decoder_only": 1,
}


@pytest.mark.parametrize("edition", ["en", "zh"])
@pytest.mark.parametrize("page_name", sorted(ATTENTION_VIEWS))
def test_hovering_an_attention_view_reads_the_weight(page_name, edition, sites, browser, server):
    """Each view draws its grid (queries x keys), its selectors switch layer and head, and pointing at a
    cell reads that query, key and weight, the chapter's number (the data the notebook stored); its
    labels are the edition's. Print leaves it out (the heatmap stays)."""
    prefix = "zh/" if edition == "zh" else ""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{server}/{prefix}{page_name}.html", wait_until="networkidle")
    views = page.locator(".attention-view")
    assert views.count() == ATTENTION_VIEWS[page_name], f"{page_name}: {views.count()} attention views"
    for n in range(views.count()):
        view = views.nth(n)
        data = json.loads(view.get_attribute("data-attention"))
        layers, heads = len(data["weights"]), len(data["weights"][0])
        layer, head = layers - 1, heads - 1
        selects = view.locator("select")
        assert selects.count() == (layers > 1) + (heads > 1), "a selector for each of layer and head"
        if layers > 1:
            selects.nth(0).select_option(index=layer)
        if heads > 1:
            selects.nth(selects.count() - 1).select_option(index=head)
        queries, keys = len(data["queries"]), len(data["keys"])
        assert view.locator("td").count() == queries * keys, "one cell a query and key"
        q, k = queries - 1, 0
        view.locator(f"td[data-query='{q}'][data-key='{k}']").hover()
        said = view.locator(".attention-view-readout").inner_text()
        weight = data["weights"][layer][head][q][k]
        query_word, key_word = ("查询", "键") if edition == "zh" else ("query", "key")
        assert f"{query_word} {data['queries'][q]} → {key_word} {data['keys'][k]}: {weight:.3f}" in said, said
        other = view.locator(f"td[data-query='{q}'][data-key='{keys - 1}']")
        other.hover()
        assert f"{weight:.3f}" not in view.locator(".attention-view-readout").inner_text() or (
            data["weights"][layer][head][q][keys - 1] == weight
        ), "the readout did not follow the pointer"
    page.emulate_media(media="print")
    assert not views.first.is_visible(), "the interactive view is printed"
    page.close()
