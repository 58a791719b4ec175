"""The book's own checks: every chapter listed exists and was executed, setup cells agree with the config."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def toc_files(node) -> list[str]:
    files = []
    if isinstance(node, dict):
        if "file" in node:
            files.append(node["file"])
        for value in node.values():
            files.extend(toc_files(value))
    elif isinstance(node, list):
        for item in node:
            files.extend(toc_files(item))
    return files


def resolve(entry: str) -> Path:
    for suffix in ("", ".ipynb", ".md"):
        path = ROOT / f"{entry}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(entry)


ENTRIES = [TOC["root"], *toc_files(TOC.get("parts", []))]
NOTEBOOKS = sorted(p for p in (ROOT / "book").glob("*.ipynb"))


def code_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]


@pytest.mark.parametrize("entry", ENTRIES)
def test_every_toc_entry_exists(entry):
    assert resolve(entry).is_file(), f"_toc.yml lists {entry}, which does not exist"


def test_every_notebook_is_in_the_toc():
    listed = {resolve(e) for e in ENTRIES}
    orphans = [p.name for p in NOTEBOOKS if p not in listed]
    assert not orphans, f"notebooks missing from _toc.yml: {orphans}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_was_executed_in_order(path):
    # nbval silently skips cells without an execution count, so a notebook saved without outputs would pass.
    cells = code_cells(path)
    counts = [c.get("execution_count") for c in cells]
    assert None not in counts, f"{path.name}: code cells {[i for i, n in enumerate(counts) if n is None]} never ran"
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: not executed top to bottom in one run: {counts}"
    errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"{path.name} stores an error output: {errors[0]['ename']}"


SETUP_URL = re.compile(r'"TRANSFORMER_LIB_SOURCE",\s*"git\+([^"]+)"')


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_installs_from_the_configured_repository(path):
    setup = "".join(code_cells(path)[0]["source"])
    assert "import transformer_lib" in setup, f"{path.name}: the first code cell must be the setup cell"
    match = SETUP_URL.search(setup)
    assert match, f"{path.name}: the setup cell does not install transformer_lib from the repository"
    assert match.group(1) == CONFIG["repository"]["url"], (
        f"{path.name} installs from {match.group(1)}, but _config.yml's repository.url is "
        f"{CONFIG['repository']['url']}: they must be the same"
    )


def test_setup_cells_are_identical():
    setups = {"".join(code_cells(p)[0]["source"]) for p in NOTEBOOKS}
    assert len(setups) == 1, "every chapter must start with the same setup cell"


# A tqdm bar part-way (0-99 %): a refresh that a terminal or Jupyter would have overwritten.
PARTIAL_BAR = re.compile(r"(?<![\d.])\d{1,2}%\|")
# What tqdm measures on the machine that ran the notebook: its times ([00:02<00:00) and speed (240.77it/s).
MACHINE_SPEED = re.compile(r"\[\d\d:\d\d<|\d(?:it/s|s/it)\b")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_hold_no_progress_bar_remnants(path):
    """`make execute` stores what Jupyter shows (its second pass coalesces the streams): a progress bar's
    final state, not one line per refresh and no carriage returns that the site would print as lines,
    and without the build machine's times and speed (transformer_lib.training.loop.BAR_FORMAT)."""
    remnants = []
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        for output in cell.get("outputs", []):
            if output["output_type"] != "stream":
                continue
            text = "".join(output["text"])
            if "\r" in text or PARTIAL_BAR.search(text) or MACHINE_SPEED.search(text):
                line = next(x for x in text.replace("\r", "\n").splitlines() if x.strip())
                remnants.append(f"cell {index}: {line[:80]!r}")
    assert not remnants, f"{path.name}: progress-bar remnants (run `make execute`):\n" + "\n".join(remnants)


COLUMNS = 86  # what a code cell or an output holds at 1280 px (book/_static/book.css)


def needs_alignment(cell) -> bool:
    """An output laid out in columns (two lines or more with a run of spaces inside them), one of those
    lines wider than the column: wrapped, it would lose its columns. (A long line of prose or a repr
    wraps.)"""
    lines = []
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if output["output_type"] == "stream":
            lines += "".join(output["text"]).splitlines()
        elif not {"text/html", "image/png", "text/markdown"} & set(data):
            lines += "".join(data.get("text/plain", "")).splitlines()
    columns = [line for line in lines if re.search(r"\S {2,}\S", line)]
    return any(len(line) > COLUMNS for line in columns) and len(columns) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_aligned_outputs_are_tagged_to_keep_their_columns(path):
    """A wide output in columns is tagged `aligned-output`, which the site shows unwrapped and fitted to
    the column (book/_static/fit_outputs.js); a tag on any other cell is stale."""
    wrong = []
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        tagged = "aligned-output" in cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "code" and needs_alignment(cell) != tagged:
            wrong.append(f"cell {index}: {'stale tag' if tagged else 'wide columns without the tag'}")
    assert not wrong, f"{path.name}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_titles_carry_their_numbers(path):
    """The prose says "chapter 5" and "chapter 9b": the page titles (and so the sidebar) say it too."""
    number, letter = re.match(r"(\d+)([a-z]?)_", path.name).groups()
    title = json.loads(path.read_text())["cells"][0]["source"][0]
    assert title.startswith(f"# {int(number)}{letter}. "), f"{path.name}: title {title!r}"


def test_references_to_exercises_have_their_own_text():
    """An exercise without a number is titled "Exercise", so a bare {ref} to it reads "Exercise"."""
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            bare = re.findall(r"\{ref\}`(ch[\w-]+)`", "".join(cell["source"]))
            assert not bare, f"{path.name}: write {{ref}}`text <{bare[0]}>` instead of a bare reference"


# At a 1,280 px window the site's code column shows about 86 monospace characters: a longer line makes
# its code block scroll sideways. The formatter (ruff, line length 80) does not wrap comments or strings.
CODE_COLUMN = 86


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_lines_fit_the_column(path):
    too_long = [
        f"cell {index}: {line!r} ({len(line)} characters)"
        for index, cell in enumerate(json.loads(path.read_text())["cells"])
        if cell["cell_type"] == "code"
        for line in "".join(cell["source"]).splitlines()
        if len(line) > CODE_COLUMN
    ]
    assert not too_long, (
        f"{path.name}: code lines longer than {CODE_COLUMN} characters scroll sideways on the site "
        "(wrap the comment or split the string):\n" + "\n".join(too_long)
    )


# The site's text column is about 688 px wide; a wider image is scaled down to it. Figures are drawn
# at 110 dpi with 10-point text (`plotting.use_book_style`), 15.3 px tall at full size. At most 880 px
# wide (8 inches), that text is shown at least 12 px tall: the size of the page's small print (code and
# outputs, 0.76 em of 16 px). Wider figures shrink their lettering below it.
FIGURE_MAX_PX = 880


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_keep_their_text_legible(path):
    wide = []
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                # the size shown: a 2x PNG (plotting.use_book_style) says it in its metadata
                shown = output.get("metadata", {}).get("image/png", {})
                width = shown.get("width") or int.from_bytes(base64.b64decode(png[:64])[16:20], "big")
                if width > FIGURE_MAX_PX:
                    wide.append(f"cell {index}: {width} px")
    assert not wide, f"{path.name}: figures wider than {FIGURE_MAX_PX} px (8 in at 110 dpi): {wide}"


def test_the_instructors_timing_table_is_the_measured_one():
    """book/instructors.md's table of chapter times is written by `scripts/chapter_times.py table` from
    the measurements in benchmarks/chapter_times.json: every chapter measured, the table that file's,
    and the introduction's claim: every chapter under a minute and a half of CPU time, most under a
    minute."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("chapter_times", ROOT / "scripts" / "chapter_times.py")
    chapter_times = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chapter_times)
    assert set(chapter_times.TITLES) == {p.stem for p in NOTEBOOKS}, "scripts/chapter_times.py: TITLES"
    times = json.loads(chapter_times.TIMES.read_text())
    missing = set(chapter_times.TITLES) - set(times)
    assert not missing, f"not measured: run `python scripts/chapter_times.py measure {' '.join(sorted(missing))}`"
    text = (ROOT / "book" / "instructors.md").read_text()
    assert chapter_times.table_in(text) == chapter_times.render(times), (
        "the table is not the measurements': run `python scripts/chapter_times.py table`"
    )
    slow = {name: t["cpu_s"] for name, t in times.items() if t["cpu_s"] >= 90}
    assert not slow, f"chapters taking a minute and a half or more: {slow}"
    under_a_minute = [name for name, t in times.items() if t["cpu_s"] < 60]
    assert len(under_a_minute) > len(times) / 2, f"most chapters should take less than a minute: {times}"
