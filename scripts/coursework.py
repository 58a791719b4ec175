"""Coursework from the chapters: student copies (make student) and the nbgrader course (make course).

Both are generated from the book's notebooks, never edited by hand, so the site, the student copies
and the graded assignments cannot drift apart. A chapter's exercise is, in order of cells:

- a Markdown cell holding an ``{exercise}`` directive (its prompt, with a ``:label:``),
- code cells up to the solution: setup the exercise needs, then the **stub** the student fills in,
- the solution, between ``{solution-start}`` and ``{solution-end}`` (cells tagged ``solution``),
- the **check** cells: code cells right after the solution that call ``transformer_lib.tools.checks``.

A student copy keeps everything but the solutions, with outputs cleared and the Markdown that only the
website renders (MyST directives and roles) turned into plain Markdown that Jupyter and Colab show:
each exercise becomes a heading and its prompt, admonitions become quotes, glued numbers are pasted
from the stored run, citations become the bibliography's keys, and ``{only} html`` blocks (text meant
for the website) are dropped.

    python scripts/coursework.py student [--out _build/student]
"""

from __future__ import annotations

import argparse
import re
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
GLUE_PREFIX = "application/papermill.record/"

# A MyST directive fenced by backticks or colons: ```{name} arg, its :options:, its body, the same fence.
FENCE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}(?P<arg>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$\n?",
    re.M | re.S,
)
OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")
ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`]*)`")
ADMONITION_TITLES = {"note": "Note", "important": "Important", "tip": "Tip", "warning": "Warning", "hint": "Hint"}


@dataclass
class Exercise:
    """The cells of one exercise, as indices into the notebook's cells."""

    label: str
    prompt: int
    number: int
    setup: list[int] = field(default_factory=list)
    stub: int | None = None
    solution: list[int] = field(default_factory=list)
    checks: list[int] = field(default_factory=list)
    solution_start: int | None = None
    solution_end: int | None = None

    @property
    def markers(self) -> list[int]:
        """The ``{solution-start}`` and ``{solution-end}`` Markdown cells."""
        return [i for i in (self.solution_start, self.solution_end) if i is not None]


def is_solution(cell) -> bool:
    return "solution" in cell.metadata.get("tags", [])


def exercises(nb) -> list[Exercise]:
    """Every exercise of a chapter, in order."""
    found: list[Exercise] = []
    current: Exercise | None = None
    for i, cell in enumerate(nb.cells):
        source = cell.source
        if cell.cell_type == "markdown" and "{solution-start}" in source:
            current.solution_start = i
        elif cell.cell_type == "markdown" and "{solution-end}" in source:
            current.solution_end = i
        elif cell.cell_type == "markdown" and "{exercise}" in source:
            label = re.search(r"^:label:[ \t]*(\S+)", source, re.M)
            if not label:
                raise ValueError(f"an exercise without a :label: in cell {i}")
            current = Exercise(label.group(1), i, len(found) + 1)
            found.append(current)
        elif current is None:
            continue
        elif cell.cell_type == "code" and is_solution(cell):
            current.solution.append(i)
        elif cell.cell_type == "code" and current.solution_end is None:
            current.setup.append(i)
        elif cell.cell_type == "code" and (not current.checks or current.checks[-1] == i - 1):
            if current.checks or "checks." in source:
                current.checks.append(i)
        elif cell.cell_type == "markdown" and current.solution_end is not None:
            current = None
    for ex in found:
        if not ex.setup or not ex.solution or not ex.checks:
            raise ValueError(f"exercise {ex.label}: needs a stub, a solution and a check cell")
        ex.stub = ex.setup.pop()
    return found


def glued_values(nb) -> dict[str, str]:
    """The ``text/plain`` of every value the chapter glued (``tl.glue``), from the stored outputs."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name and GLUE_PREFIX + "text/plain" in out.get("data", {}):
                values[name] = out["data"][GLUE_PREFIX + "text/plain"]
    return values


def plain_markdown(text: str, glued: dict[str, str], number: dict[str, str]) -> str:
    """MyST that only the website renders, as Markdown that Jupyter and Colab show."""
    from myst_nb.core.variables import format_plain_text

    def directive(match: re.Match) -> str:
        name, arg = match["name"], match["arg"].strip()
        lines = match["body"].split("\n")
        options = {}
        while lines and OPTION.match(lines[0]):
            key, value = OPTION.match(lines[0]).groups()
            options[key] = value
            lines.pop(0)
        body = plain_markdown("\n".join(lines).strip("\n"), glued, number)
        if name == "exercise":
            return f"### Exercise {number[options['label']]}\n\n{body}\n"
        if name == "only":
            return ""
        if name in ADMONITION_TITLES or name == "admonition":
            title = arg or ADMONITION_TITLES.get(name, name.title())
            quoted = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
            return f"> **{title}**\n>\n{quoted}\n"
        raise ValueError(f"no plain Markdown for the directive {{{name}}}")

    def role(match: re.Match) -> str:
        name, content = match["role"], match["text"]
        if name.startswith("glue"):
            key, _, spec = content.partition(":")
            return format_plain_text(glued[key], spec) if spec else glued[key].strip("'\"")
        if name.startswith("cite"):
            keys = "; ".join(k.strip() for k in content.split(","))
            return f"[{keys}]"
        if name in ("ref", "numref", "doc", "term"):
            shown = re.match(r"(.*?)\s*<[^>]*>$", content)
            return shown.group(1) if shown else content
        raise ValueError(f"no plain Markdown for the role {{{name}}}")

    text = FENCE.sub(directive, text)
    return ROLE.sub(role, text)


def student_copy(nb):
    """A chapter without its solutions, outputs cleared, its Markdown plain (a new notebook)."""
    glued = glued_values(nb)
    found = exercises(nb)
    # numbered as on the site (book/_ext/numbering.py): "Exercise 4.2", the chapter's number from its title
    title = next(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    chapter = re.match(r"#\s+(\d+[a-z]?)\.", title)
    number = {ex.label: f"{chapter.group(1)}.{ex.number}" if chapter else str(ex.number) for ex in found}
    drop = {i for ex in found for i in [*ex.solution, *ex.markers]}
    copy = deepcopy(nb)
    cells = []
    for i, cell in enumerate(copy.cells):
        if i in drop or is_solution(cell):
            continue
        if cell.cell_type == "markdown":
            cell.source = plain_markdown(cell.source, glued, number).strip("\n")
        else:
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    copy.cells = cells
    return copy


def write_student_copies(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(BOOK.glob("*.ipynb")):
        target = out / path.name
        nbformat.write(student_copy(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("student", help="student copies without solutions")
    s.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    args = parser.parse_args()
    if args.command == "student":
        written = write_student_copies(args.out)
        print(f"{len(written)} student copies written to {args.out}")


if __name__ == "__main__":
    main()
