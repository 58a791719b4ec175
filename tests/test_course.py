"""The nbgrader course (make course): every chapter an assignment, and a class graded from start to end.

(a) Structure, every chapter: each exercise is one solution cell (the book's stub, then the book's
solution between nbgrader's markers) and one graded test cell (the book's check, worth the points of
course.yml, after a hidden part); everything else is locked and its Markdown plain. The release copies
hold the stubs and the visible checks only. The hidden tests pass on the book's solutions and fail on
the stubs.

(b) A class on chapter 4, run as book/instructors.md says: release, a roster, submissions in nbgrader's
``submitted/<student>/<assignment>/`` layout, ``autograde``, ``export``, ``generate_feedback``. The
students: one hands in the release untouched, one solves half the exercises (the book's solution cells
pasted in), one solves all, one has an exercise cell that raises, one games the grader (a test cell
replaced by ``pass``, another deleted, strict checks turned off), one hands in no notebook, one
renames the notebook. The grading kernels talk over Unix sockets (tests/kernels.py says why).
"""

from __future__ import annotations

import ast
import csv
import html
import json
import linecache
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import torch
import yaml
from nbgrader.utils import compute_checksum

import transformer_lib as tl
from scripts import course as coursebuild
from scripts.coursework import exercises
from tests.classroom import (
    ATTACKS,
    CHAPTER,
    LIBRARY_CALLS,
    MADE_UP,
    PATCH,
    STRICT_OFF,
    TRAINING,
    WARNING,
    expected_scores,
    solution_of,
)
from transformer_lib.tools import checks, grading
from transformer_lib.tools.numerics import canonical_settings

ROOT = Path(__file__).resolve().parents[1]
NBGRADER = Path(sys.prefix) / "bin" / "nbgrader"
CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))
# The hidden tests that need no state of their chapter (the training tasks' find the trained model).
HIDDEN_TESTS = sorted(
    label
    for label, test in yaml.safe_load((ROOT / "course.yml").read_text())["hidden_tests"].items()
    if "globals()" not in test
)
# What the website renders and Jupyter shows raw (as tests/test_student.py checks the student copies).
WEBSITE_ONLY = re.compile(r"```\{|:::\{|\{[\w:-]+\}`|^:(?:label|nonumber|class):|solutions are hidden", re.M)
# Printed by the all-solved student's last exercise cell: the transport of the kernel that grades it.
# It also prints the threads and a canonical setting the kernel got from nbgrader_config.py (the class is
# graded from an environment without the canonical numerics).
KERNEL_PROBE = """
import json
from ipykernel.connect import get_connection_info

print("kernel transport:", json.loads(get_connection_info())["transport"])
print("threads:", torch.get_num_threads(), os.environ.get("ATEN_CPU_CAPABILITY"))"""


@pytest.fixture(autouse=True)
def _ungraded(monkeypatch):
    """What running a graded copy's code in this process changes (the environment, stderr, tripwires in
    the library), undone after each test."""
    for name in ("TRANSFORMER_LIB_STRICT_CHECKS", "TRANSFORMER_LIB_GRADED"):
        monkeypatch.setenv(name, os.environ.get(name, "0"))
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    # The patcher's code, run in this process, replaces these; other test files (tests/test_checks.py)
    # run later in the same worker and need the real ones.
    for name in ("check_function", "check_value"):
        monkeypatch.setattr(checks, name, getattr(checks, name))
    monkeypatch.setattr(checks.CheckResult, "__post_init__", checks.CheckResult.__post_init__)
    yield
    grading.unguard()


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def by_grade_id(nb) -> dict:
    return {grade_id(c): c for c in nb.cells if grade_id(c)}


def checks_of(book, ex) -> str:
    return "\n\n".join(book.cells[i].source for i in ex.checks)


def read(path: Path):
    return nbformat.read(path, as_version=4)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``make course`` into a fresh folder, with the chapters and course.yml as they were read for it."""
    books = dict(coursebuild.chapters())
    out = tmp_path_factory.mktemp("course")
    started = time.perf_counter()
    subprocess.run(
        ["make", "-s", "course", f"VENV={sys.prefix}", f"COURSE={out}"], cwd=ROOT, check=True, capture_output=True
    )
    print(f"make course: {time.perf_counter() - started:.1f} s")
    settings = coursebuild.load_course({ex.label for nb in books.values() for ex in exercises(nb)})
    return out, books, settings


def test_every_chapter_is_an_assignment(built):
    out, books, _ = built
    assert sorted(books) == CHAPTERS, "a chapter without exercises"
    assert (out / "nbgrader_config.py").is_file()
    for kind in ("source", "release"):
        assert sorted(p.name for p in (out / kind).iterdir()) == CHAPTERS, f"{kind}/ is not one folder a chapter"
        for name in CHAPTERS:
            assert (out / kind / name / f"{name}.ipynb").is_file(), f"{kind}/{name}/{name}.ipynb is missing"
    # and for otter-grader (tests/test_otter.py grades them): the student notebook and the autograder zip
    for name in CHAPTERS:
        assert (out / "otter" / name / "student" / f"{name}.ipynb").is_file(), f"otter: {name} for the students"
        assert (out / "otter" / name / "autograder" / f"{name}-autograder.zip").is_file(), f"otter: {name}'s zip"


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ("points: {default: 1, ch4-subsequant: 2}", "names exercises that no chapter has: ch4-subsequant"),
        ("points: {default: 0}", "the points of default must be a positive number, got 0"),
        ("points: {default: 1}\nlibrary: git+https://x/y", r"library must install .* ending in @v\d"),
    ],
)
def test_course_yml_names_only_exercises_and_positive_points(settings, error, tmp_path):
    (tmp_path / "course.yml").write_text(f"course_id: c\n{settings}\n")
    with pytest.raises(ValueError, match=error):
        coursebuild.load_course({"ch4-subsequent"}, tmp_path / "course.yml")


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_exercise_is_one_solution_cell_and_one_graded_test_cell(name, built):
    out, books, settings = built
    book, source = books[name], read(out / "source" / name / f"{name}.ipynb")
    meta = [c.metadata["nbgrader"] for c in source.cells]
    known = coursebuild.known_hashes(book, settings)
    first = coursebuild.STRICT_CELL.format(known=known, references=coursebuild.REFERENCES)
    assert source.cells[0].source == first, "strict checks and the guard first"
    found = exercises(book)
    assert [m["grade_id"] for m in meta if m["solution"]] == [ex.label for ex in found]
    assert [m["grade_id"] for m in meta if m["grade"]] == [f"{ex.label}-check" for ex in found]
    assert all(m["locked"] for m in meta if not (m["solution"] or m["grade"])), "the rest must be read-only"
    cells = by_grade_id(source)
    for ex in found:
        solution, test = cells[ex.label], cells[f"{ex.label}-check"]
        stub = book.cells[ex.stub].source
        assert solution.source == f"{stub}\n### BEGIN SOLUTION\n{solution_of(book, ex)}\n### END SOLUTION"
        assert test.metadata["nbgrader"]["points"] == settings.points_of(ex.label), f"{ex.label}: points"
        assert test.source.startswith(f"### BEGIN HIDDEN TESTS\n{coursebuild.STRICT_AGAIN}\n")
        visible = coursebuild.visible_check(book, ex)
        assert test.source.endswith(f"### END HIDDEN TESTS\n{visible}"), f"{ex.label}: not the check"
        last = ast.parse(visible).body[-1]
        bare = isinstance(last, ast.Expr) and getattr(last.value, "func", None) != "print"
        bare = bare and not (isinstance(last.value, ast.Call) and getattr(last.value.func, "id", "") == "print")
        assert not bare, f"{ex.label}: the check ends on a bare expression (nbgrader reads it as a partial grade)"
        # every graded cell has a hidden part: the visible check again with fresh checks, then course.yml's
        hidden = test.source.split("### END HIDDEN TESTS")[0]
        assert "grading.run_hidden(" in hidden and repr(ex.label) in hidden, ex.label
        if ex.label in settings.hidden_tests:
            assert repr(settings.hidden_tests[ex.label].strip()) in hidden, f"{ex.label}: its hidden tests"
        for i in ex.checks:  # nbgrader scores a test cell that writes to stderr as failed
            assert not [o for o in book.cells[i].outputs if o.get("name") == "stderr"], f"{ex.label} warns"


@pytest.mark.parametrize("name", CHAPTERS)
def test_the_release_has_the_stubs_and_checks_and_plain_markdown(name, built):
    out, books, _ = built
    book, release = books[name], read(out / "release" / name / f"{name}.ipynb")
    cells = by_grade_id(release)
    text = "\n".join(c.source for c in release.cells)
    for ex in exercises(book):
        # nbgrader puts the (empty) code stub where the solution was: the stub and one blank line
        assert cells[ex.label].source == f"{book.cells[ex.stub].source}\n", f"{ex.label}: not the book's stub"
        visible = coursebuild.visible_check(book, ex)
        assert cells[f"{ex.label}-check"].source == visible, f"{ex.label}: not the book's check"
        assert solution_of(book, ex) not in text, f"{ex.label}: the release holds the solution"
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "def hidden_tests", "run_hidden"):
        assert marker not in text, f"the release holds {marker}"
    markdown = "\n".join(c.source for c in release.cells if c.cell_type == "markdown")
    assert not WEBSITE_ONLY.findall(markdown), f"MyST that Jupyter shows raw: {WEBSITE_ONLY.findall(markdown)}"
    assert "### Exercise 1" in markdown, "the exercise prompts are plain headings"


def test_a_check_cell_ends_on_a_statement():
    assert coursebuild.ends_on_a_statement("r = f(\n    1,\n)\nr") == "r = f(\n    1,\n)\nprint(r)"
    assert coursebuild.ends_on_a_statement("checks.f(\n    x,\n)") == "print(checks.f(\n    x,\n))"
    assert coursebuild.ends_on_a_statement("print(x)") == "print(x)"
    assert coursebuild.ends_on_a_statement("if x:\n    y") == "if x:\n    y"


def run_hidden_tests(label: str, answer: str, books: dict, settings) -> dict:
    """The exercise's hidden tests of course.yml, run as a graded copy runs them
    (``grading.run_hidden``), after ``answer`` in a namespace of its own (the exercises in
    HIDDEN_TESTS need no state of their chapter). Returns the namespace."""
    prelude = (
        "import math\nimport os\nimport torch\nimport torch.nn.functional as F\nimport transformer_lib as tl\n"
        "from transformer_lib.data.tokens import IGNORE\n"  # chapter 8's solutions use it
    )
    namespace: dict = {"__name__": "__main__"}
    exec(prelude + answer, namespace)
    book, ex = exercise(books, label)
    hidden = settings.hidden_tests[label].strip()
    grading.run_hidden(
        namespace,
        label,
        [hidden],
        [grading.cell_hash(hidden)],
        bar=settings.library_answers.get(label, []),
        always=[coursebuild.REFERENCES],
        answers=coursebuild.defined_names(book.cells[ex.stub].source),
    )
    return namespace


def exercise(books: dict, label: str):
    return next((nb, ex) for nb in books.values() for ex in exercises(nb) if ex.label == label)


@pytest.mark.parametrize("label", HIDDEN_TESTS)
def test_hidden_tests_pass_on_the_book_solution_and_fail_on_the_stub(label, built, monkeypatch, capsys):
    _, books, settings = built
    book, ex = exercise(books, label)
    monkeypatch.setenv("TRANSFORMER_LIB_STRICT_CHECKS", "0")  # the hidden part sets it to 1 itself
    namespace = run_hidden_tests(label, solution_of(book, ex), books, settings)
    assert f"\u2705 {label}: the hidden tests pass." in capsys.readouterr().out
    assert "hidden_tests" not in namespace, "the hidden tests leave names behind in the chapter"
    with pytest.raises(AssertionError, match=r"not implemented yet.*\(hidden test\)"):
        run_hidden_tests(label, book.cells[ex.stub].source, books, settings)


def test_patching_the_checks_does_not_reach_the_hidden_tests(built, monkeypatch):
    """The patcher: CheckResult and check_function of the imported checks made to pass everything."""
    _, books, settings = built
    book, ex = exercise(books, "ch4-subsequent")
    patch = (
        "from transformer_lib.tools import checks\n"
        "checks.CheckResult.__post_init__ = lambda self: None\n"
        "checks.check_function = lambda *args, **kwargs: checks.CheckResult(True, 'ok')\n"
    )
    with pytest.raises(AssertionError, match="not implemented yet"):
        run_hidden_tests("ch4-subsequent", patch + book.cells[ex.stub].source, books, settings)


@pytest.mark.parametrize(
    ("label", "answer", "barred"),
    [
        (
            "ch4-subsequent",
            "from transformer_lib import subsequent_mask as mask\n\nsubsequent_mask = mask",
            "subsequent",
        ),
        ("ch4-leak", "def fixed_causal_mask(size):\n    return tl.subsequent_mask(size)", "subsequent"),
        (
            "ch4-padding",
            "def mask_from_lengths(lengths, width):\n    return tl.padding_mask(lengths, width)",
            "padding",
        ),
    ],
)
def test_an_answer_that_calls_the_library_scores_nothing(label, answer, barred, built, monkeypatch):
    """The library caller: an answer that calls the library's own function fails the hidden tests with
    the reason; the library still works for the chapter's own code afterwards."""
    _, books, settings = built
    with pytest.raises(AssertionError, match=rf"your \w+ (is|calls) transformer_lib's {barred}"):
        run_hidden_tests(label, answer, books, settings)
    assert tl.subsequent_mask(2).tolist() == [[True, False], [True, True]], "the library still works"


def test_references_are_barred_from_the_students_cells():
    """An answer computed with transformer_lib.tools.references (value exercises such as ch5-params)
    raises in the student's cell; the same code in a cell of the chapter (its hash known) runs."""
    code = "from transformer_lib.tools import references\nn = references.attention_parameter_count(8, 2)"
    namespace = {"__name__": "__main__"}
    grading.Guard(namespace, [], always=[coursebuild.REFERENCES])
    with pytest.raises(AssertionError, match=r"your code calls transformer_lib's tools\.references\.attention_"):
        exec(code, namespace)
    filename = "<a cell of the chapter>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    grading.Guard(namespace, [grading.cell_hash(code)], always=[coursebuild.REFERENCES])
    exec(compile(code, filename, "exec"), namespace)
    assert namespace["n"] == 8 * 8 * 4 + 4 * 8, "the chapter's own cells call the references"


def nbgrader(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in the course folder, as an instructor types it. nbgrader runs ``alembic`` by
    name, so this Python's bin/ goes first on PATH; the canonical numerics that conftest.py sets are
    left out: the generated nbgrader_config.py sets them for the grading kernels."""
    env = {k: v for k, v in os.environ.items() if k not in canonical_settings()}
    env["PATH"] = f"{NBGRADER.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run([str(NBGRADER), *args], cwd=root, env=env, capture_output=True, text=True)
    if check and done.returncode:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class GradedClass:
    """The class after `autograde`, `export` and `generate_feedback`, and what each student did."""

    root: Path
    log: str  # what `nbgrader autograde` wrote, for the whole class
    renamed: subprocess.CompletedProcess  # `nbgrader autograde --student renamed`
    scores: dict[str, float]  # by student, from the exported CSV
    points: dict[str, float]  # by exercise label, in order
    gamed: str  # the exercise whose test cell the gaming student replaced by `pass`
    gamed_check: object  # that cell, as handed in
    deleted: str  # the exercise whose test cell the gaming student deleted
    raising: str  # the exercise whose cell raises in the raising student's notebook

    def feedback(self, student: str) -> str:
        """The text of a student's feedback page, without its HTML tags (which split the tracebacks)."""
        page = (self.root / "feedback" / student / CHAPTER / f"{CHAPTER}.html").read_text(encoding="utf-8")
        return html.unescape(re.sub(r"<[^>]+>", "", page))

    def autograded(self, student: str):
        return read(self.root / "autograded" / student / CHAPTER / f"{CHAPTER}.ipynb")


@pytest.fixture(scope="module")
def graded_class(built, tmp_path_factory) -> GradedClass:
    """Chapter 4 released from the course that `make course` wrote, handed in by seven students, graded."""
    out, books, settings = built
    root = tmp_path_factory.mktemp("class").resolve()
    shutil.copy(out / "nbgrader_config.py", root)
    shutil.copytree(out / "source" / CHAPTER, root / "source" / CHAPTER)
    with (root / "nbgrader_config.py").open("a") as config:  # Unix sockets: tests/kernels.py says why
        config.write(f'\nc.KernelManager.transport = "ipc"\nc.KernelManager.ip = "{root / "kernel"}"\n')
    nbgrader(root, "generate_assignment", CHAPTER, "--force")
    students = ["untouched", "half", "all", "raises", "games", "missing", "renamed", *ATTACKS]
    (root / "roster.csv").write_text("id\n" + "\n".join(students) + "\n")
    nbgrader(root, "db", "student", "import", "roster.csv")

    book = books[CHAPTER]
    found = exercises(book)
    labels = [ex.label for ex in found]
    release = read(root / "release" / CHAPTER / f"{CHAPTER}.ipynb")

    def handed_in(solved, deleted=(), **sources):
        """The release with the book's solutions of ``solved``, cells replaced by ``sources`` (by
        grade id) and the cells of ``deleted`` removed."""
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        cells = by_grade_id(nb)
        for ex in found:
            if ex.label in solved:
                cells[ex.label].source = solution_of(book, ex)
        for cell_id, text in sources.items():
            cells[cell_id].source = text
        nb.cells = [c for c in nb.cells if grade_id(c) not in deleted]
        return nb

    def submit(student: str, nb, filename: str = f"{CHAPTER}.ipynb") -> None:
        folder = root / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / filename)

    gamed, raising, deleted = labels[0], labels[1], labels[2]
    # The raising student's function is wrong, and trying it out in the exercise cell raises.
    name = re.match(r"def (\w+)", book.cells[found[1].stub].source)[1]
    bug = f"def {name}(*args):\n    return torch.ones(3) + torch.ones(4)\n\n\n{name}()"
    # The gaming student leaves one exercise unsolved, turns strict checks off (in the locked cell and
    # in the exercise's), replaces its test cell by `pass` and deletes the test cell of a solved one.
    turned_off = {"strict-checks": STRICT_OFF, gamed: f"{book.cells[found[0].stub].source}\n{STRICT_OFF}"}
    games = handed_in(set(labels) - {gamed}, [f"{deleted}-check"], **turned_off, **{f"{gamed}-check": "pass"})
    submit("untouched", release)
    submit("half", handed_in(labels[: len(labels) // 2]))
    submit("all", handed_in(labels, **{labels[-1]: solution_of(book, found[-1]) + "\n" + KERNEL_PROBE}))
    submit("raises", handed_in(labels, **{raising: bug}))
    submit("games", games)
    # The attacks of issue 25: the patcher solves nothing and makes the imported checks pass everything;
    # the library caller answers every exercise with the library's own function; the warning writer
    # solves everything, one answer writing a warning and a line to stderr.
    first = found[0]
    submit("patcher", handed_in(set(), **{first.label: f"{book.cells[first.stub].source}\n{PATCH}"}))
    submit("caller", handed_in(set(), **LIBRARY_CALLS))
    warned = solution_of(book, first).replace("):\n", f"):\n{WARNING}", 1)
    submit("warns", handed_in(labels, **{first.label: f"import sys\nimport warnings\n\n{warned}"}))
    (root / "submitted" / "missing" / CHAPTER).mkdir(parents=True)
    (root / "submitted" / "missing" / CHAPTER / f"{CHAPTER}.html").write_text("an export, not the notebook")

    started = time.perf_counter()
    autograde = nbgrader(root, "autograde", CHAPTER)
    print(f"autograde, 8 submissions of {CHAPTER}: {time.perf_counter() - started:.1f} s")
    submit("renamed", handed_in(labels), filename=f"{CHAPTER} (1).ipynb")
    renamed = nbgrader(root, "autograde", CHAPTER, "--student", "renamed", check=False)
    nbgrader(root, "export", "--to", "grades.csv")
    nbgrader(root, "generate_feedback", CHAPTER)
    with (root / "grades.csv").open() as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    return GradedClass(
        root=root,
        log=autograde.stdout + autograde.stderr,
        renamed=renamed,
        scores=scores,
        points={label: float(settings.points_of(label)) for label in labels},
        gamed=gamed,
        gamed_check=by_grade_id(games)[f"{gamed}-check"],
        deleted=deleted,
        raising=raising,
    )


def test_scores_are_the_points_of_the_solved_exercises(graded_class):
    """Every student's score, as tests/classroom.py has it: the otter class (tests/test_otter.py) must
    get the same. The patcher and the library caller get nothing; the warning writer every point."""
    expected = expected_scores(graded_class.points, graded_class.gamed, graded_class.raising)
    assert {student: graded_class.scores[student] for student in expected} == expected


def test_the_attacks_are_told_why(graded_class):
    patcher = graded_class.feedback("patcher")
    assert "not implemented yet" in patcher and "(hidden test)" in patcher, "the hidden test's hint, labelled"
    caller = graded_class.feedback("caller")
    assert "your subsequent_mask calls transformer_lib's subsequent_mask" in caller
    assert "your decoder_self_attention_mask calls transformer_lib's tools.references" in caller
    assert "a warning from a correct answer" in graded_class.feedback("warns"), "the warning is shown"


def test_the_book_solutions_run_without_an_error(graded_class):
    cells = graded_class.autograded("all").cells
    errors = [c.source for c in cells if any(o.output_type == "error" for o in c.get("outputs", []))]
    assert not errors, f"cells of the course notebook that raise with the book's solutions: {errors}"


def test_feedback_shows_each_check_hint_and_no_hidden_test(graded_class):
    for student in ("untouched", "half", "all", "raises", "games"):
        text = graded_class.feedback(student)
        assert "HIDDEN TESTS" not in text and "def hidden_tests" not in text, f"{student}: hidden tests shown"
        assert ("\u274c" in text) == (student != "all"), f"{student}'s feedback: the ❌ hints"
        assert ("\u2705" in text) == (student != "untouched"), f"{student}'s feedback: the ✅ lines"
    assert "not implemented yet" in graded_class.feedback("untouched")
    raised = graded_class.feedback("raises")
    assert "RuntimeError: The size of tensor a" in raised, "the error of the exercise cell"
    assert "raised RuntimeError on the case" in raised, "the check's hint"


def test_changed_locked_cells_are_restored_and_a_deleted_test_cell_put_back(graded_class):
    """nbgrader logs each changed checksum and grades with the gradebook's copy of the cell (with its
    hidden part, which turns strict checks on again): the gamed exercise earns nothing, the solved
    exercise whose test cell was deleted earns its points."""
    gamed, log = graded_class.gamed, graded_class.log
    changed = compute_checksum(graded_class.gamed_check)
    assert re.search(rf"cell {gamed}-check has changed! \(should be: \w+, got: {changed}\)", log), log
    assert "Attribute 'checksum' for cell strict-checks has changed!" in log
    assert f"Missing grade cell {graded_class.deleted}-check encountered, adding to notebook" in log
    source = by_grade_id(read(graded_class.root / "source" / CHAPTER / f"{CHAPTER}.ipynb"))
    graded = by_grade_id(graded_class.autograded("games"))
    assert graded[f"{gamed}-check"].source == source[f"{gamed}-check"].source
    assert graded["strict-checks"].source == source["strict-checks"].source
    points = graded_class.points
    assert graded_class.scores["games"] == sum(points.values()) - points[gamed]


def test_a_submission_without_the_notebook_scores_zero(graded_class):
    """No notebook of the assignment's name: a warning, no grading, no feedback; the roster gives it 0."""
    root = graded_class.root
    assert f"No notebooks were matched by '{root}/submitted/missing/{CHAPTER}/*.ipynb'" in graded_class.log
    assert not (root / "autograded" / "missing").exists()
    assert not (root / "feedback" / "missing").exists()
    assert graded_class.scores["missing"] == 0


def test_a_renamed_notebook_is_skipped_and_scores_zero(graded_class):
    renamed = graded_class.renamed
    assert renamed.returncode != 0, "autograde reports the student it could not grade"
    skipped = f"Skipping unknown notebook: {graded_class.root}/submitted/renamed/{CHAPTER}/{CHAPTER} (1).ipynb"
    assert skipped in renamed.stdout + renamed.stderr
    assert graded_class.scores["renamed"] == 0


def probed(graded_class) -> str:
    """What the all-solved student's notebook printed, its streams joined (nbgrader joins them too)."""
    cells = graded_class.autograded("all").cells
    return "".join(
        o.get("text", "") for c in cells for o in c.get("outputs", []) if "kernel transport" in o.get("text", "")
    )


def test_the_grading_kernels_use_unix_sockets(graded_class):
    assert "kernel transport: ipc\n" in probed(graded_class)


def test_the_grading_kernels_run_one_thread_and_the_canonical_numerics(graded_class):
    assert "threads: 1 default\n" in probed(graded_class)


@pytest.fixture(scope="module")
def training_class(built, tmp_path_factory) -> dict[str, float]:
    """Chapter 2 handed in by two students who solve every exercise, one of whom types in the accuracy
    of the training task (ch2-learned-positions) instead of training the model: the made-up answer."""
    out, books, _ = built
    root = tmp_path_factory.mktemp("training").resolve()
    shutil.copy(out / "nbgrader_config.py", root)
    shutil.copytree(out / "source" / TRAINING, root / "source" / TRAINING)
    with (root / "nbgrader_config.py").open("a") as config:
        config.write(f'\nc.KernelManager.transport = "ipc"\nc.KernelManager.ip = "{root / "kernel"}"\n')
    nbgrader(root, "generate_assignment", TRAINING, "--force")
    book = books[TRAINING]
    release = read(root / "release" / TRAINING / f"{TRAINING}.ipynb")
    for student, made_up in (("solved", False), ("madeup", True)):
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        cells = by_grade_id(nb)
        for ex in exercises(book):  # after the stub: ch2-rotation's stub sets up what its solution uses
            cells[ex.label].source = f"{book.cells[ex.stub].source}\n{solution_of(book, ex)}"
        if made_up:
            cells["ch2-learned-positions"].source = MADE_UP
        folder = root / "submitted" / student / TRAINING
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{TRAINING}.ipynb")
    started = time.perf_counter()
    nbgrader(root, "autograde", TRAINING)
    print(f"autograde, 2 submissions of {TRAINING}: {time.perf_counter() - started:.1f} s")
    nbgrader(root, "export", "--to", "grades.csv")
    with (root / "grades.csv").open() as f:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}


def test_a_made_up_training_result_scores_nothing(training_class, built):
    """The accuracy is recomputed from the trained model: the made-up number loses the task's points."""
    _, books, settings = built
    total = sum(settings.points_of(ex.label) for ex in exercises(books[TRAINING]))
    assert training_class["solved"] == total
    assert training_class["madeup"] == total - settings.points_of("ch2-learned-positions")


def test_a_graded_copy_does_not_print_the_expected_value(monkeypatch):
    """The hint says what the answer is and what is wrong with it, not what it should have been."""
    from transformer_lib.tools import checks

    monkeypatch.setenv("TRANSFORMER_LIB_STRICT_CHECKS", "0")
    assert "expected 2362368" in checks.check_value(2359296, 2362368, name="n_params").message
    monkeypatch.setenv("TRANSFORMER_LIB_GRADED", "1")
    graded = [
        checks.check_value(2359296, 2362368, name="n_params"),
        checks.check_value(0.25, 0.75),
        checks.check_value(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0])),
        checks.check_value(torch.tensor([1, 2]), torch.tensor([1, 3])),
    ]
    for result in graded:
        assert not result and "expected" not in result.message, result.message
    assert graded[0].message == "\u274c n_params: output is 2359296."


def test_the_setup_cell_installs_the_terms_release_and_says_what_to_do_offline(built, tmp_path):
    """Where transformer_lib is missing (python -S -I: no site-packages, no PYTHONPATH) and pip cannot
    reach the source, the course's setup cell stops with one sentence, not pip's traceback."""
    out, _, settings = built
    release = read(out / "release" / CHAPTER / f"{CHAPTER}.ipynb")
    setup = next(c.source for c in release.cells if c.cell_type == "code" and "find_spec" in c.source)
    assert repr(settings.library) in setup and "@v" in settings.library, "the term's release"
    install = setup.split("\nimport matplotlib")[0]
    env = {"TRANSFORMER_LIB_SOURCE": str(tmp_path / "no-such-release"), "PATH": os.environ["PATH"]}
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-c", install], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Could not install transformer_lib from {tmp_path / 'no-such-release'} (no internet?): connect this "
        "runtime to the internet, or install the library by hand, then run this cell again."
    )
