"""The book's figures (issue 28): numbered by chapter with a caption in both editions, referred to by
links, stored sharp, and enlargeable on the site.

Every image output is a figure: its code cell's metadata gives ``mystnb.figure``, a caption and a name,
beside the alt text (tests/test_alt_text.py). On the built pages each chapter's figures read "Figure 4.1:",
"Figure 4.2:", ... ("图 4.1" in Chinese; book/_ext/numbering.py), every ``{numref}`` in the prose says
the number of the figure it links to, and every image links to its own file, which the browser shows at
full size (a tap on a phone). The stored PNGs are drawn at twice the size they are shown at
(``plotting.use_book_style``), so that they stay sharp on high-density screens and when enlarged.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from urllib.parse import unquote, urljoin

import pytest

from tests.sites import both_editions_built
from tests.test_alt_text import image_cells

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
CHAPTERS = [path for path in NOTEBOOKS if image_cells(path)]
NAME = re.compile(r"fig-[0-9]+[a-z]?-[a-z0-9-]+")
# "Figure 4.2:" in English, "图 4.2" in Chinese (the caption's prefix; Sphinx adds a space after it)
PREFIX = {"": "Figure {}:", "zh": "图 {}"}


def chapter_of(path: Path) -> str:
    """ "04_masks" -> "4", "09a_encoder_only" -> "9a", "10b_flash_attention" -> "10b"."""
    return re.match(r"0*(\d+[a-z]?)_", path.stem).group(1)


def figure_options(cell: dict) -> dict:
    return cell.get("metadata", {}).get("mystnb", {}).get("figure", {})


def png_size(data: str) -> tuple[int, int]:
    header = base64.b64decode(data[:64])
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_the_book_has_figures():
    assert len(CHAPTERS) >= 15 and sum(len(image_cells(path)) for path in CHAPTERS) >= 40


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption_and_a_name(path):
    problems = []
    for index, cell in image_cells(path):
        options = figure_options(cell)
        caption, name = str(options.get("caption", "")).strip(), str(options.get("name", ""))
        alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")
        if not caption.endswith(".") or len(caption.split()) < 4:
            problems.append(f"cell {index}: no caption of one sentence: {caption!r}")
        elif caption.rstrip(".") in alt:
            problems.append(f"cell {index}: the caption repeats the alt text: {caption!r}")
        if not NAME.fullmatch(name) or not name.startswith(f"fig-{path.stem.split('_')[0]}-"):
            problems.append(f"cell {index}: name {name!r} is not fig-{path.stem.split('_')[0]}-<words>")
        # MyST-NB makes a figure, with this caption and name, of every displayed output but glued values
        outputs = [
            o
            for o in cell["outputs"]
            if o["output_type"] in ("display_data", "execute_result") and "scrapbook" not in o.get("metadata", {})
        ]
        if len(outputs) != 1:
            problems.append(f"cell {index}: {len(outputs)} displayed outputs, a figure needs exactly one")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_figure_names_are_unique():
    names = [figure_options(cell).get("name") for path in CHAPTERS for _, cell in image_cells(path)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_figures_are_stored_at_twice_their_displayed_size(path):
    problems = []
    for index, cell in image_cells(path):
        for output in cell["outputs"]:
            if "image/png" not in output.get("data", {}):
                continue
            shown = output.get("metadata", {}).get("image/png", {})
            width, height = png_size(output["data"]["image/png"])
            if not shown:
                problems.append(f"cell {index}: {width}x{height} px with no displayed size (a 1x PNG)")
            elif abs(width - 2 * shown["width"]) > 1 or abs(height - 2 * shown["height"]) > 1:
                problems.append(f"cell {index}: {width}x{height} px shown at {shown['width']}x{shown['height']}")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def sites() -> Path:
    """Both editions as `make book` and `make book-zh` build them (shared: tests/sites.py)."""
    return both_editions_built() / "html"


def read_page(site: Path, edition: str, page: str):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup((site / edition / f"{page}.html").read_text(encoding="utf-8"), "html.parser")
    return soup.find("main") or soup


@pytest.mark.parametrize("edition", PREFIX, ids=lambda e: e or "en")
def test_figures_are_numbered_by_chapter_and_enlargeable(sites, edition):
    problems = []
    for path in CHAPTERS:
        page = f"book/{path.stem}"
        main = read_page(sites, edition, page)
        figures = main.select("figure")
        numbers = [f.select_one(".caption-number").get_text().strip() for f in figures if f.find("figcaption")]
        chapter = chapter_of(path)
        expected = [PREFIX[edition].format(f"{chapter}.{k}") for k in range(1, len(image_cells(path)) + 1)]
        if numbers != expected:
            problems.append(f"{page}: numbered {numbers}, expected {expected}")
        for figure in figures:
            image, link = figure.find("img"), figure.find("a", class_="image-reference")
            caption = figure.select_one(".caption-text")
            if caption is None or not caption.get_text().strip():
                problems.append(f"{page}#{figure.get('id')}: no caption text")
            if link is None or image is None or link.find("img") is not image:
                problems.append(f"{page}#{figure.get('id')}: the image does not link to itself")
                continue
            target = sites / edition / Path(urljoin(f"{page}.html", unquote(link["href"])))
            if link["href"] != image["src"] or not target.is_file():
                problems.append(f"{page}#{figure.get('id')}: links to {link['href']}, shows {image['src']}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("edition", PREFIX, ids=lambda e: e or "en")
def test_figure_references_link_to_their_figure_and_say_its_number(sites, edition):
    numbers: dict[tuple[str, str], str] = {}  # (page, figure id) -> "4.2"
    pages = {f"book/{path.stem}": read_page(sites, edition, f"book/{path.stem}") for path in NOTEBOOKS}
    for page, main in pages.items():
        for figure in main.select("figure[id]"):
            number = figure.select_one(".caption-number")
            if number is not None:
                numbers[page, figure["id"]] = re.search(r"\d+[a-z]?(\.\d+)?", number.get_text()).group(0)
    references, problems = 0, []
    for page, main in pages.items():
        for shown in main.select("a span.std-numref"):
            link = shown.find_parent("a")
            where, _, anchor = link["href"].partition("#")
            target = str(Path(urljoin(f"{page}.html", where or f"{Path(page).name}.html")).with_suffix(""))
            number = numbers.get((target, anchor))
            references += 1
            if number is None:
                problems.append(f"{page}: a reference to {link['href']}, which is no numbered figure")
            elif not re.search(rf"(?<![\d.]){re.escape(number)}(?![\d.])", shown.get_text()):
                problems.append(f"{page}: {shown.get_text()!r} links to figure {number}")
            elif shown.get_text().rstrip().endswith(":"):  # the caption's prefix: give the text, "Figure %s"
                problems.append(f"{page}: {shown.get_text()!r}, a reference without its own text")
    assert references >= 10, f"only {references} references to figures in the prose"
    assert not problems, "\n".join(problems)


def test_the_notebooks_stay_small():
    """2x figures, stored with a palette of 256 colours, cost about what 1x ones did (4.7 MB in all)."""
    total = sum(path.stat().st_size for path in NOTEBOOKS)
    assert total < 6_000_000, f"book/*.ipynb: {total:,} bytes"
