"""The Chinese edition: message catalogues, worksheets for translators, checks and the build.

The English prose of every page is extracted by Sphinx's gettext builder into one catalogue per
page, ``locales/zh_CN/LC_MESSAGES/book/<page>.po`` (kept in the repository), and applied when the
site is built with ``language = zh_CN``: code, outputs, figures and math are the English site's.

    python scripts/translations.py extract          English prose -> catalogues (new messages empty,
                                                    changed ones fuzzy with the old translation)
    python scripts/translations.py sheet PAGE       write _build/translate/PAGE.txt to translate in
    python scripts/translations.py apply PAGE       read the worksheet back into PAGE's catalogue
    python scripts/translations.py check [PAGE...]  untranslated, fuzzy or stale messages, markup
                                                    that differs, glossary terms not used, display
                                                    math not copied exactly
    python scripts/translations.py build            the Chinese site into _build/html/zh
    python scripts/translations.py parity           every Chinese page against its English page
                                                    (equations, code, outputs, figures, ...)
    python scripts/translations.py notebooks        the Chinese notebooks for Colab, NOTEBOOKS/<chapter>.ipynb:
                                                    the chapters with their Markdown translated

A worksheet holds one block per message: ``#### <n>``, the English text, a ``>>>>`` line, the
translation (empty where there is none yet). A block marked ``#### <n> fuzzy`` had its English
changed: its translation is the old one, to be updated; ``apply`` clears the mark.

Display math (``$$...$$``, ``\\begin{align}...``) is extracted like prose but is never translated:
its "translation" must be the English message, byte for byte. Sphinx leaves a message whose
translation equals its English alone; any other translation of a math block, even one that differs
only by a newline, is rebuilt as a reStructuredText literal block (``::`` and the text indented),
which MyST does not read, and the page shows ``::`` where the equation was. ``extract`` and
``apply`` copy math messages, ``check`` flags one that differs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "zh_CN"
LOCALES = ROOT / "locales"
CATALOGUES = LOCALES / LANGUAGE / "LC_MESSAGES"
# One site holds both editions: the Chinese one under the English one (make book builds _build/html).
SITE = ROOT / "_build" / "html" / "zh"
SHEETS = ROOT / "_build" / "translate"
# The glossary's Chinese terms, one a line: jieba (which splits Chinese text into words for Sphinx's
# search index) keeps each of them as one word, so that a search for 因果掩码 finds the pages using it.
SEARCH_TERMS = LOCALES / LANGUAGE / "search-terms.txt"
# The Chinese edition's bibliography: book/references.bib with the entries of this file in place of
# the English ones (the Chinese source article cited in Chinese), written before each Chinese build.
ZH_ENTRIES = LOCALES / LANGUAGE / "references.bib"
ZH_BIBLIOGRAPHY = ROOT / "_build" / "references-zh.bib"
# What the Chinese build sets besides the language (the site's name is configuration, not prose).
ZH_OVERRIDES = {
    "language": LANGUAGE,
    "html_search_options": {"dict": str(SEARCH_TERMS)},
    "bibtex_bibfiles": [str(ZH_BIBLIOGRAPHY)],
    "author": "本书编写组",
    "html_title": "Transformer：从零构建，逐一验证",
    # sphinx-togglebutton has no Chinese catalogue of its own
    "togglebutton_hint": "点击显示",
    "togglebutton_hint_hide": "点击隐藏",
}

# The book's Chinese terms (the glossary's pairs): where the English of a message uses the term,
# outside code and math, its translation uses the Chinese one.
TERMS = [
    (r"self-attention", "自注意力"),
    (r"multi-head attention", "多头注意力"),
    (r"masks?", "掩码"),
    (r"padding masks?", "填充掩码"),
    (r"residual connections?", "残差连接"),
    (r"layer normali[sz]ation", "层归一化"),
    (r"batch normali[sz]ation", "批归一化"),
    (r"positional encodings?", "位置编码"),
    (r"scaled dot-product attention", "缩放点积注意力"),
    (r"encoders?", "编码器"),
    (r"decoders?", "解码器"),
    (r"cross-attention", "交叉注意力"),
    (r"label smoothing", "标签平滑"),
    (r"beam search", "束搜索"),
    (r"KV cache", "KV 缓存"),
]

# Markup a translation must keep exactly: roles with their targets, inline code, inline and display
# math, link targets, substitutions.
MARKUP = [
    re.compile(r"\{[a-z:-]+\}`[^`]*`"),  # {glue:text}`key:fmt`, {cite:t}`key`, {ref}`label`
    re.compile(r"(?<![`}])(`+)(?!`)(.+?)(?<!`)\1(?!`)"),  # `code`, ``code``
    re.compile(r"\$\$.+?\$\$|(?<![\\$])\$[^$\s](?:[^$]*[^$\s\\])?\$"),  # $math$, $$math$$
    re.compile(r"\]\(([^)\s]+)\)"),  # [text](target)
]
SHOWN_TEXT = re.compile(r"^(\{(?:ref|numref|doc)\})`[^`<]*<([^>]+)>`$")
STRIP = re.compile(r"\{[a-z:-]+\}`[^`]*`|`+[^`]*`+|\$\$.+?\$\$|\$[^$]*\$|\]\([^)]*\)")
NUMBERED_TITLE = re.compile(r"^(\d+[a-z]?)\. ")
EMPHASIS = re.compile(r"(?<!\\)\*+")
# Full-width punctuation carries its own spacing: a space after it (or after the emphasis it closes)
# shows as a gap in the line.
SPACE_AFTER_FULL_WIDTH = re.compile(
    r"[\u3001\u3002\uff01\uff08\uff09\uff0c\uff1a\uff1b\uff1f\u300c-\u300f\u201c\u201d]\**[ \u00a0]+"
)


def is_punctuation(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P") or (ch.isascii() and not ch.isalnum() and not ch.isspace())


def broken_emphasis(text: str) -> list[str]:
    """Emphasis markers Markdown will not read as such, with their surroundings.

    CommonMark opens ``*``/``**`` only where it is left-flanking and closes it only where it is
    right-flanking; next to Chinese punctuation that fails where English has a space, as in
    ``**一元（unigram）**模型``: the closing ``**`` follows a bracket and precedes a letter, so it
    stays visible. (Move the punctuation outside: ``**一元**（unigram）模型``.)
    """
    text = STRIP.sub(lambda m: "x" * len(m.group(0)), text)
    found, open_runs = [], {}
    for run in EMPHASIS.finditer(text):
        before = text[run.start() - 1] if run.start() else " "
        after = text[run.end()] if run.end() < len(text) else " "
        left = not after.isspace() and (not is_punctuation(after) or before.isspace() or is_punctuation(before))
        right = not before.isspace() and (not is_punctuation(before) or after.isspace() or is_punctuation(after))
        opening = not open_runs.get(len(run.group(0)))
        if (opening and not left) or (not opening and not right):
            found.append(text[max(0, run.start() - 12) : run.end() + 12])
        open_runs[len(run.group(0))] = opening
    return found


def source_of(page: str) -> Path:
    """The source of a page: its notebook or its Markdown file."""
    name = page.removesuffix(".po").removeprefix("book/")
    notebook = ROOT / "book" / f"{name}.ipynb"
    return notebook if notebook.is_file() else ROOT / "book" / f"{name}.md"


def math_blocks(page: str) -> set[str]:
    """The display equations of a page as Sphinx extracts them: the contents of MyST's math blocks,
    found by MyST's own parser (with the book's extensions)."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    path = source_of(page)
    if not path.is_file():
        return set()
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        texts = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    else:
        texts = [path.read_text(encoding="utf-8")]
    config = MdParserConfig(enable_extensions={"dollarmath", "amsmath", "colon_fence", "deflist"})
    parser = create_md_parser(config, RendererHTML)
    return {
        t.content
        for text in texts
        for t in parser.parse(text)
        if t.type in ("math_block", "math_block_label", "amsmath")
    }


def copy_math(cat, page: str) -> int:
    """Set every display equation's translation to its English, byte for byte; returns how many changed."""
    math = math_blocks(page)
    changed = 0
    for m in cat:
        if m.id in math and m.string != m.id:
            m.string = m.id
            m.flags.discard("fuzzy")
            changed += 1
    return changed


def load(path: Path):
    with path.open("rb") as f:
        return read_po(f, locale=LANGUAGE)


def save(catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=-1, omit_header=False, sort_output=False)


def sphinx(
    builder: str,
    out: Path,
    overrides: dict | None = None,
    fresh: bool = False,
    warnings_are_errors: bool = True,
    doctreedir: Path | None = None,
) -> int:
    """Build the book with Jupyter Book's Sphinx configuration (warnings are errors)."""
    from jupyter_book.sphinx import build_sphinx

    if str(ZH_BIBLIOGRAPHY) in (overrides or {}).get("bibtex_bibfiles", []):
        write_bibliography()
    confoverrides = {
        "external_toc_path": str(ROOT / "_toc.yml"),
        "latex_individualpages": False,
        "nitpicky": True,
        **(overrides or {}),
    }
    return build_sphinx(
        ROOT,
        out,
        # its own environment: the English build's (_build/.doctrees) holds the English doctrees
        doctreedir=doctreedir or out.parent / f".doctrees-{out.name}",
        use_external_toc=True,
        noconfig=True,
        path_config=str(ROOT / "_config.yml"),
        confoverrides=confoverrides,
        builder=builder,
        warningiserror=warnings_are_errors,
        keep_going=True,
        freshenv=fresh,
        verbosity=0,
        quiet=True,
        really_quiet=False,
    )


BIB_ENTRY = re.compile(r"^@\w+\{([^,]+),.*?^\}\n", flags=re.M | re.S)


def write_bibliography() -> None:
    """book/references.bib with the Chinese edition's entries in place of the English ones."""
    chinese = {m.group(1): m.group(0) for m in BIB_ENTRY.finditer(ZH_ENTRIES.read_text(encoding="utf-8"))}
    english = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = {m.group(1) for m in BIB_ENTRY.finditer(english)}
    if set(chinese) - keys:
        sys.exit(f"translations: {ZH_ENTRIES.name} has entries the English bibliography lacks: {set(chinese) - keys}")
    ZH_BIBLIOGRAPHY.parent.mkdir(parents=True, exist_ok=True)
    ZH_BIBLIOGRAPHY.write_text(BIB_ENTRY.sub(lambda m: chinese.get(m.group(1), m.group(0)), english), encoding="utf-8")


def templates(pot_dir: Path) -> int:
    """Extract the English prose into ``pot_dir`` (one .pot per page); returns Sphinx's status."""
    return sphinx("gettext", pot_dir, fresh=True)


def extract() -> None:
    """Bring every catalogue up to date with the English pages (sphinx-intl update)."""
    pot_dir = ROOT / "_build" / "gettext"
    if templates(pot_dir):
        sys.exit("translations: the gettext build failed")
    from sphinx_intl.basic import update

    status = update(str(LOCALES), str(pot_dir), (LANGUAGE,), line_width=-1, ignore_obsolete=True)
    print(f"catalogues: {status}")
    write_search_terms()
    write_notebooks()
    for page in pages():
        cat = load(catalogue(page))
        if copy_math(cat, page):
            save(cat, catalogue(page))


def glossary_terms() -> list[str]:
    """The Chinese terms of the glossary's entries (``term (中文、中文; ...)``), in its order: the ones
    written in Chinese characters only."""
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    terms: list[str] = []
    for chinese in re.findall(r"^\S.*\(([^()]*[\u4e00-\u9fff][^()]*)\)\s*$", text, flags=re.M):
        for term in re.split(r"[、;,，；]\s*", chinese):
            # jieba's words are runs of Chinese characters; one character is too short to index
            if re.fullmatch(r"[\u4e00-\u9fff]{2,}", term.strip()) and term.strip() not in terms:
                terms.append(term.strip())
    return terms


def write_search_terms() -> None:
    SEARCH_TERMS.write_text("".join(f"{term}\n" for term in glossary_terms()), encoding="utf-8")


def catalogue(page: str) -> Path:
    name = page.removesuffix(".po").removeprefix("book/")
    return CATALOGUES / "book" / f"{name}.po"


def pages() -> list[str]:
    return sorted(p.stem for p in (CATALOGUES / "book").glob("*.po"))


def sheet(page: str) -> Path:
    """Write the worksheet of a page: every message, its translation, fuzzy ones marked."""
    cat = load(catalogue(page))
    blocks = []
    for n, m in enumerate((m for m in cat if m.id), start=1):
        mark = " fuzzy" if m.fuzzy else ""
        blocks.append(f"#### {n}{mark}\n{m.id}\n>>>>\n{m.string or ''}\n")
    out = SHEETS / f"{Path(catalogue(page)).stem}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(blocks), encoding="utf-8")
    return out


def read_sheet(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    text = path.read_text(encoding="utf-8")
    for block in re.split(r"^#### \d+(?: fuzzy)?\n", text, flags=re.M)[1:]:
        english, _, chinese = block.partition("\n>>>>\n")
        entries[english] = chinese.strip("\n")
    return entries


def apply(page: str, path: Path | None = None) -> int:
    """Copy a worksheet's translations into the catalogue; returns how many were set."""
    po = catalogue(page)
    cat = load(po)
    entries = read_sheet(path or SHEETS / f"{po.stem}.txt")
    count = 0
    for m in cat:
        if m.id and entries.get(m.id):
            m.string = entries[m.id]
            m.flags.discard("fuzzy")
            count += 1
    copy_math(cat, page)  # equations are copied, never translated (the worksheet trims newlines)
    save(cat, po)
    if source_of(page).suffix == ".ipynb":
        write_notebooks([page])
    return count


def markup(text: str) -> Counter:
    """The markup of a message, each piece counted. Roles are taken out first: the backtick that
    closes a role must not open an inline code span."""
    found = Counter()
    for i, pattern in enumerate(MARKUP):
        for match in pattern.finditer(text):
            # a reference's shown text is prose, to translate: only its target must stay
            found[SHOWN_TEXT.sub(r"\1`<\2>`", match.group(0))] += 1
        if i == 0:
            text = pattern.sub(" ", text)
    return found


def problems_of(page: str, english: set[str] | None = None) -> list[str]:
    """Everything wrong with one catalogue, one sentence each."""
    po = catalogue(page)
    cat = load(po)
    found = []
    ids = set()
    math = math_blocks(page)
    for m in cat:
        if not m.id:
            continue
        ids.add(m.id)
        short = m.id if len(m.id) < 70 else m.id[:67] + "..."
        if m.id in math:
            if m.string != m.id or m.fuzzy:
                found.append(
                    f"{po.name}: display math not copied exactly (the page would show '::' for it; "
                    f"`scripts/translations.py apply {po.stem}` copies it): {short!r}"
                )
            continue
        if not m.string:
            found.append(f"{po.name}: untranslated: {short!r}")
            continue
        if m.fuzzy:
            found.append(f"{po.name}: fuzzy (its English changed; update the translation): {short!r}")
        missing = markup(m.id) - markup(m.string)
        extra = markup(m.string) - markup(m.id)
        if missing or extra:
            found.append(
                f"{po.name}: markup differs in {short!r}: missing {sorted(missing)}, not in the English {sorted(extra)}"
            )
        numbered = NUMBERED_TITLE.match(m.id)
        if numbered and not m.string.startswith(f"{numbered.group(1)}\\. "):
            found.append(
                f"{po.name}: the title {short!r} must start with '{numbered.group(1)}\\. ' "
                "(the backslash keeps Markdown from reading it as a list)"
            )
        for space in SPACE_AFTER_FULL_WIDTH.finditer(m.string):
            context = m.string[max(0, space.start() - 12) : space.end() + 6]
            found.append(
                f"{po.name}: a space after full-width punctuation in {short!r}: {context!r} "
                "(for a bold lead-in, put the punctuation after the emphasis: **拆分**。后文)"
            )
        for context in broken_emphasis(m.string):
            found.append(f"{po.name}: emphasis Markdown will not render in {short!r}: {context!r}")
        prose = STRIP.sub(" ", m.id)
        for term, chinese in TERMS:
            if re.search(rf"(?<![\w-]){term}(?![\w-])", prose, flags=re.I) and chinese not in m.string:
                found.append(f"{po.name}: {short!r} uses {term!r}: its translation should say {chinese}")
    for m in cat.obsolete.values():
        found.append(f"{po.name}: stale message (no longer in the English): {m.id[:67]!r}")
    if english is not None:
        for msgid in sorted(english - ids):
            found.append(f"{po.name}: not in the catalogue (run `make translations`): {msgid[:67]!r}")
        for msgid in sorted(ids - english):
            found.append(f"{po.name}: stale message (no longer in the English): {msgid[:67]!r}")
    return found


def english_messages(pot_dir: Path) -> dict[str, set[str]]:
    result = {}
    for pot in sorted((pot_dir / "book").glob("*.pot")):
        result[pot.stem] = {m.id for m in load(pot) if m.id}
    return result


def check(selected: list[str], against_english: bool) -> list[str]:
    english = None
    if against_english:
        with tempfile.TemporaryDirectory() as tmp:
            if templates(Path(tmp) / "pot"):
                return ["the gettext build failed"]
            english = english_messages(Path(tmp) / "pot")
        missing = sorted(set(english) - set(pages()))
        if missing:
            return [f"no catalogue for {', '.join(missing)} (run `make translations`)"]
    found = []
    for page in selected or pages():
        found += problems_of(page, None if english is None else english[page])
    for page in chapters():
        notebook = NOTEBOOKS / f"{page}.ipynb"
        if not notebook.is_file() or notebook.read_text(encoding="utf-8") != chinese_notebook(page)[0]:
            found.append(f"{notebook.name}: the Chinese notebook is not current (scripts/translations.py notebooks)")
    terms = "".join(f"{term}\n" for term in glossary_terms())
    if not SEARCH_TERMS.is_file() or SEARCH_TERMS.read_text(encoding="utf-8") != terms:
        found.append(f"{SEARCH_TERMS.name} is not the glossary's terms (run `make translations`)")
    return found


def build() -> int:
    # its environment outside the published site
    return sphinx("html", SITE, ZH_OVERRIDES, fresh=True, doctreedir=ROOT / "_build" / ".doctrees-zh")


# The features of a page that a translation keeps: (tag, class or "[id]") -> name.
FEATURES = {
    ("div", "math"): "display equations",
    ("span", "math"): "inline math",
    ("div", "cell_input"): "code cells",
    ("div", "cell_output"): "outputs",
    ("img", ""): "figures",
    ("table", ""): "tables",
    ("div", "exercise"): "exercises",
    ("div", "solution"): "solutions",
    ("span", "pasted-text"): "glued values",
    ("section", "[id]"): "section anchors",
}


def structure(html: str) -> dict[str, list[str]]:
    """What a translation must not change in a built page: its equations, code, outputs, figures,
    tables, exercises, glued values and section anchors (inside the article, the theme aside)."""
    from bs4 import BeautifulSoup

    start, end = html.find("<article"), html.rfind("</article>")
    article = BeautifulSoup(html[start:end] if 0 <= start < end else "", "html.parser")

    found: dict[str, list[str]] = {feature: [] for feature in FEATURES.values()}
    for element in article.find_all(["div", "span", "img", "table", "section"]):
        classes = element.get("class") or []
        for (tag, css), feature in FEATURES.items():
            if element.name == tag and (not css or css in classes or (css == "[id]" and element.get("id"))):
                if feature in ("display equations", "inline math", "code cells", "glued values"):
                    value = " ".join(element.get_text().split())
                elif feature == "outputs":
                    value = str(len(element.find_all(True)))
                elif feature == "tables":
                    value = str(len(element.find_all("tr")))
                elif feature == "figures":
                    value = element.get("src", "")
                else:
                    value = element.get("id", "")
                found[feature].append(value)
    # a translation may reorder a sentence's formulas and numbers
    found["inline math"].sort()
    found["glued values"].sort()
    return found


def parity(english: Path, chinese: Path) -> list[str]:
    """How the Chinese page differs from the English one in anything but its prose, one line each;
    an equation shown as '::' (a math block that Sphinx rebuilt as a literal block) is named as such."""
    en, zh = (structure(p.read_text(encoding="utf-8")) for p in (english, chinese))
    found = []
    literal = sum(text in ("\\[::\\]", "::") for text in zh["display equations"])
    if literal:
        found.append(f"{chinese.name}: {literal} display equation(s) shown as '::' (a math message translated)")
    for feature, items in en.items():
        if items != zh[feature]:
            differing = next((i for i, (a, b) in enumerate(zip(items, zh[feature], strict=False)) if a != b), None)
            detail = (
                "" if differing is None else f"; first difference at #{differing + 1}: {zh[feature][differing][:60]!r}"
            )
            found.append(f"{chinese.name}: {feature}: English {len(items)}, Chinese {len(zh[feature])}{detail}")
    return found


def site_parity(english_site: Path, chinese_site: Path, names: list[str]) -> list[str]:
    """`parity` for every page (names as in _toc.yml, without .html)."""
    found = []
    for name in names:
        en, zh = english_site / f"{name}.html", chinese_site / f"{name}.html"
        if not zh.is_file():
            found.append(f"{name}: no Chinese page")
        elif en.is_file():
            found += parity(en, zh)
    return found


# The chapters in Chinese, for Colab and the download button: the English notebooks with the prose of
# their Markdown cells replaced by the catalogues' translations; code, outputs and metadata unchanged.
NOTEBOOKS = LOCALES / LANGUAGE / "notebooks"
OPTION_LINE = re.compile(r"^:[\w-]+:.*$")


def markdown_parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    config = MdParserConfig(enable_extensions={"dollarmath", "amsmath", "colon_fence", "deflist"})
    return create_md_parser(config, RendererHTML)


def translate_markdown(text: str, translations: dict[str, str], used: set[str]) -> str:
    """A Markdown cell with each message the catalogue translates (a paragraph, a heading, a list item's
    text, a directive's title and body) replaced by its translation; the rest (code, math, markup
    around the messages) as it was. Sphinx's message of a block is its text with newlines as spaces."""
    out, cursor = text, 0

    def replace(source: str, target: str) -> bool:
        nonlocal out, cursor
        # the block's lines as they stand in the cell, with whatever indentation or quote marks
        pattern = r"\n[ \t>]*".join(re.escape(line) for line in source.split("\n"))
        match = re.compile(pattern).search(out, cursor)
        if match:
            out = out[: match.start()] + target + out[match.end() :]
            cursor = match.start() + len(target)
        return bool(match)

    for token in markdown_parser().parse(text):
        if token.type == "inline" and token.content:
            message = token.content.replace("\n", " ").strip()
            if translations.get(message) and replace(token.content, translations[message]):
                used.add(message)
        elif token.type in ("fence", "colon_fence") and token.info.startswith("{"):
            title = token.info.split("}", 1)[1].strip()
            if title and translations.get(title) and replace(title, translations[title]):
                used.add(title)
            lines = token.content.split("\n")
            while lines and OPTION_LINE.match(lines[0]):
                lines.pop(0)
            body = "\n".join(lines).strip("\n")
            if body:
                replace(body, translate_markdown(body, translations, used))
    return out


def chinese_notebook(page: str) -> tuple[str, list[str]]:
    """A chapter's Chinese notebook (as written to NOTEBOOKS) and the catalogue's messages it leaves in
    English: none but display equations (copied, not translated), the prose of Markdown outputs
    (chapter 9c's table), which stay the English notebook's, as every output does, and the figures'
    captions, which live in the code cells' metadata (shown by the site, not by Jupyter or Colab)."""
    path = source_of(page)
    notebook = json.loads(path.read_text(encoding="utf-8"))
    translations = {m.id: m.string for m in load(catalogue(page)) if m.id and m.string and not m.fuzzy}
    used: set[str] = set(math_blocks(page))
    for cell in notebook["cells"]:
        caption = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption")
        if caption:
            used.add(caption.strip())
        for output in cell.get("outputs", []):
            markdown = output.get("data", {}).get("text/markdown")
            if markdown:
                tokens = markdown_parser().parse("".join(markdown))
                used |= {t.content.replace("\n", " ").strip() for t in tokens if t.type == "inline"}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            text = translate_markdown("".join(cell["source"]), translations, used)
            cell["source"] = text.splitlines(keepends=True)
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    return text, sorted(set(translations) - used)


def chapters() -> list[str]:
    return [page for page in pages() if source_of(page).suffix == ".ipynb"]


def write_notebooks(selected: list[str] | None = None) -> list[str]:
    """Write the chapters' Chinese notebooks; returns the messages left in English, page by page."""
    NOTEBOOKS.mkdir(parents=True, exist_ok=True)
    missed = []
    for page in selected or chapters():
        text, left = chinese_notebook(page)
        (NOTEBOOKS / f"{page}.ipynb").write_text(text, encoding="utf-8")
        missed += [f"{page}: {m[:70]!r}" for m in left]
    return missed


# Latin-letter words that stay in the Chinese pages: names (of people, models, libraries, formats) and
# the field's terms that Chinese text writes in Latin letters, one a line.
LATIN_ALLOWED = LOCALES / LANGUAGE / "latin-allowed.txt"
LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9'’._+-]*(?:[ \u00a0]+[A-Za-z][A-Za-z0-9'’._+-]*)*")
# Where English stays in a Chinese page: code, math, outputs (printed by the shared code), glued
# values, the switch's "English", the bibliography's entries, the citations' author names and the
# glossary's English terms (the entries that pair them with the Chinese ones).
NOT_PROSE_TAGS = ["script", "style", "head", "pre", "code", "kbd", "samp", "svg", "math", "noscript", "template"]
NOT_PROSE_CLASSES = ["math", "cell_input", "cell_output", "pasted-text", "language-switch", "citation"]
SCANNED_ATTRIBUTES = ["title", "aria-label", "placeholder", "alt", "data-bs-title"]
GLOSS = re.compile(r"（[^（）]*）")
# a chapter's or an exercise's number: "9a", "练习 9a.2"
NUMBERED = re.compile(r"\d+[a-z](?:\.\d+)?\b")


def latin_runs(html: str) -> list[tuple[str, str]]:
    """The runs of Latin letters in a Chinese page's visible text and attributes, outside code, math,
    outputs, citations and the glosses in full-width brackets (融合内核（fused kernel））, as
    (where, run) pairs; one-letter runs (a variable, an item's a.) are left out."""
    from bs4 import BeautifulSoup, Comment, Doctype

    soup = BeautifulSoup(html, "html.parser")
    for element in soup.find_all(NOT_PROSE_TAGS):
        element.decompose()
    others = ", a[href*='bibliography.html#'], dl.glossary > dt"
    for element in soup.select(", ".join(f".{css}" for css in NOT_PROSE_CLASSES) + others):
        element.decompose()
    found = []
    texts = [("text", str(t)) for t in soup.find_all(string=True) if not isinstance(t, (Comment, Doctype))]
    # a glossary link's title is its definition, checked where it is written (the glossary page)
    texts += [
        (a, e[a])
        for e in soup.find_all(True)
        for a in SCANNED_ATTRIBUTES
        if e.get(a) and not (a == "title" and "term-link" in (e.get("class") or []))
    ]
    for where, text in texts:
        for run in LATIN_RUN.findall(NUMBERED.sub("", GLOSS.sub("", text))):
            run = run.rstrip(".-")
            if len(run) > 1:
                found.append((where, run))
    return found


def latin_leftovers(site: Path, names: list[str]) -> dict[str, set[str]]:
    """The Latin-letter runs of the Chinese pages that the allow-list does not hold, with their pages."""
    allowed = set(LATIN_ALLOWED.read_text(encoding="utf-8").splitlines())
    found: dict[str, set[str]] = {}
    for name in names:
        for where, run in latin_runs((site / f"{name}.html").read_text(encoding="utf-8")):
            if run not in allowed:
                found.setdefault(f"{where}: {run}", set()).add(name)
    return found


def toc_pages() -> list[str]:
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"], *(chapter["file"] for part in toc["parts"] for chapter in part["chapters"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("extract")
    sub.add_parser("build")
    sub.add_parser("parity")
    sub.add_parser("notebooks")
    for name in ("sheet", "apply"):
        sub.add_parser(name).add_argument("page")
    c = sub.add_parser("check")
    c.add_argument("pages", nargs="*")
    c.add_argument("--english", action="store_true", help="also compare with freshly extracted English (8 s)")
    args = parser.parse_args()
    if args.command == "extract":
        extract()
    elif args.command == "build":
        sys.exit(build())
    elif args.command == "notebooks":
        missed = write_notebooks()
        print(f"{len(chapters())} notebooks in {NOTEBOOKS.relative_to(ROOT)}")
        print("\n".join(f"not in a Markdown cell: {m}" for m in missed))
    elif args.command == "parity":
        found = site_parity(ROOT / "_build" / "html", SITE, toc_pages())
        print("\n".join(found) or "every Chinese page has the English page's equations, code, outputs and figures")
        sys.exit(1 if found else 0)
    elif args.command == "sheet":
        print(sheet(args.page))
    elif args.command == "apply":
        print(f"{apply(args.page)} translations set in {catalogue(args.page)}")
    else:
        found = check(args.pages, args.english)
        print("\n".join(found) or "all messages translated, markup and terms kept")
        sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
