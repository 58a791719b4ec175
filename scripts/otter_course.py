"""The otter-grader course (make course): every chapter with exercises as an otter assignment, for
students on Colab and grading on Gradescope, from the same chapters and ``course.yml`` as the nbgrader
course (scripts/course.py).

For each chapter, ``otter/master/<chapter>.ipynb`` is the chapter in otter's master-notebook format and
``otter assign`` turns it into ``otter/<chapter>/student/<chapter>.ipynb`` (what the students get) and
``otter/<chapter>/autograder/`` (the solutions and ``<chapter>-autograder_*.zip``, the Gradescope
autograder with the hidden tests). Each exercise is one otter question worth its points, all or
nothing (as nbgrader scores a test cell):

- its stub cell is the solution cell: the book's stub, the book's solution between ``# BEGIN SOLUTION
  NO PROMPT`` and ``# END SOLUTION``, so the student's cell is the book's stub;
- a public test (the students run it with ``grader.check(label)``) runs the chapter's visible check,
  and a hidden test (only in the autograder) the exercise's hidden tests of ``course.yml`` (or the
  visible check again where it has none). Both run through ``grading.run_hidden`` loaded fresh from
  its file, with fresh copies of the checks: what a student's cell patched does not reach them;
- the chapter's check cells are left out (``grader.check`` runs them) and every other cell is kept,
  the Markdown plain (as in the nbgrader copies).

The student notebook needs nothing next to it: its second cell installs otter-grader where it is
missing (Colab) and writes the public tests to ``tests/`` when they are not there.

    python -m scripts.otter_course assign [--out _build/course/otter]    (make course runs it)
    python -m scripts.otter_course grade COURSE ASSIGNMENT    (grades COURSE/submitted/*/ASSIGNMENT)
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import shutil
import tempfile
from copy import deepcopy
from pathlib import Path

import nbformat
import yaml

from scripts import course as coursebuild
from scripts.coursework import ROOT, exercises, glued_values, is_solution, plain_markdown
from transformer_lib.tools.numerics import canonical_settings

OTTER_VERSION = "7.0.0"
BEGIN_SOLUTION, END_SOLUTION = "# BEGIN SOLUTION NO PROMPT", "# END SOLUTION"
# Replaced in the student notebook by the public tests that otter assign wrote.
PUBLIC_TESTS_PLACEHOLDER = "PUBLIC_TESTS = {}  # filled in by make course"
STRICT_CELL = (
    "# Graded copy: a failed check raises an AssertionError with its hint, and the hints do not give\n"
    "# the expected values; calling the library's own answer to an exercise raises.\n"
    "import os\n\n"
    "from transformer_lib.tools import grading\n\n"
    'os.environ["TRANSFORMER_LIB_STRICT_CHECKS"] = "1"\n'
    'os.environ["TRANSFORMER_LIB_GRADED"] = "1"\n'
    "grading.Guard(globals(), {known!r}.split(), always=[{references!r}])\n"
)
OTTER_CELL = """\
# Otter-grader: grader.check("<exercise>") runs an exercise's public tests; the last cell makes the
# zip to hand in. On Colab this installs otter-grader, and the public tests are written to tests/.
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

if importlib.util.find_spec("otter") is None:
    pip = [sys.executable, "-m", "pip", "install", "-q", "otter-grader=={version}"]
    if subprocess.run(pip, capture_output=True).returncode:
        raise SystemExit(
            "Could not install otter-grader (no internet?): connect this runtime to the "
            "internet, or run pip install otter-grader=={version}, then run this cell again."
        )

import otter

{placeholder}
for name, text in PUBLIC_TESTS.items():
    if not Path("tests", name).is_file():
        Path("tests").mkdir(exist_ok=True)
        Path("tests", name).write_text(text)
grader = otter.Notebook(tests_dir="tests")"""
# An otter test case: the visible check (public) or the hidden tests (hidden), run as nbgrader's
# hidden part runs them (scripts/course.py: HIDDEN_RUN), in the notebook's globals (env).
TEST = (
    "def test_{kind}(env):\n"
    + coursebuild.LOAD_GRADING
    + """\
    sources = {sources!r}
    known = {known!r}.split()
    options = dict(bar={bar!r}, always=[{references!r}], answers={answers!r}, public={public!r})
    grading.run_hidden(env, {label!r}, sources, known, **options)"""
)
HIDDEN_CONFIG = '""" # BEGIN TEST CONFIG\nhidden: true\n""" # END TEST CONFIG\n'


def raw(text: str):
    return nbformat.v4.new_raw_cell(text)


def assignment_config(name: str) -> str:
    config = {
        "name": name,
        "requirements": "requirements.txt",
        "init_cell": False,  # the chapter's second cell makes the grader (OTTER_CELL)
        "check_all_cell": False,
        "export_cell": {"pdf": False, "run_tests": False},
        "generate": {"pdf": False, "show_stdout": True},
        "run_tests": False,  # make test grades the book's solutions (tests/test_course.py)
        "tests": {"files": True, "ok_format": False},
    }
    return "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)


def question(nb, ex, course: coursebuild.Course, known: str) -> list:
    """The otter cells of one exercise: the question, its solution cell, its public and hidden tests."""
    visible = coursebuild.visible_check(nb, ex)
    hidden = (course.hidden_tests.get(ex.label) or "").strip() or visible
    common = {
        "label": ex.label,
        "known": known,
        "bar": list(course.library_answers.get(ex.label, [])),
        "references": coursebuild.REFERENCES,
        "answers": coursebuild.defined_names(nb.cells[ex.stub].source),
    }
    solution = "\n\n".join(nb.cells[i].source for i in ex.solution)
    stub = nbformat.v4.new_code_cell(f"{nb.cells[ex.stub].source}\n{BEGIN_SOLUTION}\n{solution}\n{END_SOLUTION}")
    points = course.points_of(ex.label)
    return [
        raw(f"# BEGIN QUESTION\nname: {ex.label}\npoints: {points}\nall_or_nothing: true"),
        raw("# BEGIN SOLUTION"),
        stub,
        raw("# END SOLUTION"),
        raw("# BEGIN TESTS"),
        nbformat.v4.new_code_cell(TEST.format(kind="public", sources=[visible], public=True, **common)),
        nbformat.v4.new_code_cell(HIDDEN_CONFIG + TEST.format(kind="hidden", sources=[hidden], public=False, **common)),
        raw("# END TESTS"),
        raw("# END QUESTION"),
    ]


def master_notebook(name: str, nb, course: coursebuild.Course):
    """The chapter as an otter master notebook (a new notebook)."""
    glued = glued_values(nb)
    found = exercises(nb)
    number = {ex.label: ex.number for ex in found}
    stubs = {ex.stub: ex for ex in found}
    left_out = {i for ex in found for i in [*ex.solution, *ex.markers, *ex.checks]}
    known = coursebuild.known_hashes(nb, course)
    copy = deepcopy(nb)
    setup = next(c for c in copy.cells if c.cell_type == "code")
    cells = [raw(assignment_config(name))]
    for i, cell in enumerate(copy.cells):
        if i in left_out or is_solution(cell):
            continue
        if i in stubs:
            cells += question(nb, stubs[i], course, known)
            continue
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if cell.cell_type == "markdown":
            cell.source = plain_markdown(cell.source, glued, number).strip("\n")
        cells.append(cell)
        if cell is setup:
            cell.source = coursebuild.pinned_setup(cell.source, course)
            otter = OTTER_CELL.format(version=OTTER_VERSION, placeholder=PUBLIC_TESTS_PLACEHOLDER)
            strict = STRICT_CELL.format(known=known, references=coursebuild.REFERENCES)
            cells += [nbformat.v4.new_code_cell(otter), nbformat.v4.new_code_cell(strict)]
    copy.cells = cells
    for cell in copy.cells:
        cell.metadata.pop("tags", None)  # the book's tags (remove-input and the like) mean nothing here
    return copy


def embed_public_tests(student: Path) -> None:
    """Put the public tests that otter assign wrote next to the student notebook into its otter cell."""
    nb = nbformat.read(student, as_version=4)
    tests = {p.name: p.read_text() for p in sorted((student.parent / "tests").glob("*.py"))}
    cell = next(c for c in nb.cells if PUBLIC_TESTS_PLACEHOLDER in c.source)
    text = "PUBLIC_TESTS = " + json.dumps(tests, indent=4, ensure_ascii=False)
    cell.source = cell.source.replace(PUBLIC_TESTS_PLACEHOLDER, text)
    nbformat.write(nb, student)


def requirements(course: coursebuild.Course) -> str:
    """What the Gradescope image installs besides otter-grader: the book's torch and the term's library."""
    torch = re.search(r"^torch==\S+$", (ROOT / "requirements.txt").read_text(), re.M)[0]
    return f"{torch}\n{course.library}\n"


def write_otter(out: Path, course: coursebuild.Course, books: list[tuple[str, nbformat.NotebookNode]]) -> None:
    """``out/master/<chapter>.ipynb`` and, by ``otter assign``, ``out/<chapter>/{student,autograder}``."""
    shutil.rmtree(out, ignore_errors=True)
    master = out / "master"
    master.mkdir(parents=True)
    (master / "requirements.txt").write_text(requirements(course))
    for name, nb in books:
        path = master / f"{name}.ipynb"
        nbformat.write(master_notebook(name, nb, course), path)
        assign(path, out / name)
        embed_public_tests(out / name / "student" / f"{name}.ipynb")
        # otter names the zip by the time it was made: one name, so that the instructions can give it
        (zipped,) = (out / name / "autograder").glob(f"{name}-autograder_*.zip")
        zipped.rename(zipped.with_name(f"{name}-autograder.zip"))


def assign(master: Path, result: Path) -> None:
    """``otter assign --no-pdfs master result``, in this process (otter reads its files next to the master)."""
    from otter.assign import main as otter_assign

    here = Path.cwd()
    os.chdir(master.parent)
    try:
        with contextlib.redirect_stdout(io.StringIO()) as said:
            otter_assign(master.name, str(result.resolve()), no_pdfs=True, no_run_tests=True)
    except Exception as error:
        raise RuntimeError(f"otter assign {master.name} failed: {error}\n{said.getvalue()}") from error
    finally:
        os.chdir(here)


def autograder(course_dir: Path, assignment: str) -> Path:
    """The Gradescope autograder zip of ``assignment`` that ``make course`` wrote into ``course_dir``."""
    return course_dir / "otter" / assignment / "autograder" / f"{assignment}-autograder.zip"


def grade(course_dir: Path, assignment: str) -> dict[str, dict[str, float]]:
    """Grade every ``submitted/<student>/<assignment>/<assignment>.ipynb`` of ``course_dir`` (where
    ``scripts.lms`` files an LMS download) with ``otter run`` and the assignment's autograder zip, in
    this environment, one thread and the canonical numerics. Writes ``otter/grades/<assignment>.csv``
    (a row a student: the total, then the points of each exercise) and returns the same by student;
    what each test printed is in ``otter/feedback/<assignment>/<student>.json`` (otter's results).
    A student whose folder holds no ``<assignment>.ipynb`` scores 0."""
    from otter.run import main as otter_run

    os.environ.update(canonical_settings())  # the grading kernels inherit them
    zipped = autograder(course_dir, assignment).resolve()
    labels = [p.stem for p in sorted((course_dir / "otter" / assignment / "autograder" / "tests").glob("*.py"))]
    scores: dict[str, dict[str, float]] = {}
    for folder in sorted((course_dir / "submitted").glob(f"*/{assignment}")):
        student, notebook = folder.parent.name, folder / f"{assignment}.ipynb"
        scores[student] = dict.fromkeys(labels, 0.0)
        if notebook.is_file():
            with tempfile.TemporaryDirectory() as results, contextlib.redirect_stdout(io.StringIO()):
                otter_run(str(notebook), autograder=str(zipped), output_dir=results, no_logo=True)
                feedback = course_dir / "otter" / "feedback" / assignment / f"{student}.json"
                feedback.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(Path(results) / "results.json", feedback)
                found = json.loads(feedback.read_text())["tests"]
            scores[student].update({t["name"]: float(t["score"]) for t in found if t["name"] in labels})
    out = course_dir / "otter" / "grades" / f"{assignment}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "score", *labels])
        for student, points in scores.items():
            writer.writerow([student, sum(points.values()), *points.values()])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("assign", help="write every chapter's otter assignment")
    write.add_argument("--out", type=Path, default=ROOT / "_build" / "course" / "otter")
    marks = commands.add_parser("grade", help="grade COURSE/submitted/*/ASSIGNMENT with otter run")
    marks.add_argument("course", type=Path)
    marks.add_argument("assignment")
    args = parser.parse_args()
    if args.command == "grade":
        scores = grade(args.course, args.assignment)
        print(f"{len(scores)} submissions graded: {args.course / 'otter' / 'grades' / args.assignment}.csv")
        return
    books = coursebuild.chapters()
    course = coursebuild.load_course({ex.label for _, nb in books for ex in exercises(nb)})
    write_otter(args.out, course, books)
    print(f"{len(books)} otter assignments in {args.out}")


if __name__ == "__main__":
    main()
