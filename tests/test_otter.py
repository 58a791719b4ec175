"""The otter-grader course (scripts/otter_course.py): what the students get, a Colab-style run, and the
class of tests/test_course.py graded by otter with the same answers and the same scores.

(a) The student notebook of chapter 4: each exercise is the book's stub followed by
``grader.check(<label>)``; no solution and no hidden test is in it or in its ``tests/``; the autograder
zip holds a public and a hidden test per exercise, all or nothing, worth the points of course.yml.

(b) Colab-style: the student notebook alone in an empty folder, run from the top with every exercise
solved but one: ``grader.check`` passes the solved ones and fails the wrong one with the hint, not the
expected value. Offline, the otter cell stops with one sentence.

(c) The class: the students of tests/classroom.py hand in chapter 4 (the attacks included) and two
hand in chapter 2 (one trained, one typed the accuracy in); ``python -m scripts.otter_course grade``
grades them with ``otter run`` and the autograder zip. The grading kernels talk over Unix sockets
(tests/kernels.py says why).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets.config import Config

from scripts import course as coursebuild
from scripts import otter_course
from scripts.coursework import exercises
from tests.classroom import (
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
from tests.kernels import unix_socket_manager

CHECK = re.compile(r'^grader\.check\("([\w-]+)"\)$')


@pytest.fixture(scope="module")
def assigned(tmp_path_factory):
    """The otter assignments of chapters 4 and 2, written as ``make course`` writes every chapter's."""
    books = dict(coursebuild.chapters())
    course = coursebuild.load_course({ex.label for nb in books.values() for ex in exercises(nb)})
    root = tmp_path_factory.mktemp("otter-course")
    started = time.perf_counter()
    otter_course.write_otter(root / "otter", course, [(name, books[name]) for name in (CHAPTER, TRAINING)])
    print(f"otter assign, 2 chapters: {time.perf_counter() - started:.1f} s")
    return root, books, course


def student(root: Path, name: str):
    return nbformat.read(root / "otter" / name / "student" / f"{name}.ipynb", as_version=4)


def answer_cells(nb, book) -> dict:
    """The student notebook's exercise cells by label (each holds the book's stub)."""
    stubs = {book.cells[ex.stub].source.strip(): ex.label for ex in exercises(book)}
    return {stubs[c.source.strip()]: c for c in nb.cells if c.cell_type == "code" and c.source.strip() in stubs}


def test_each_exercise_is_the_stub_then_grader_check(assigned):
    root, books, _ = assigned
    book, nb = books[CHAPTER], student(root, CHAPTER)
    labels = [ex.label for ex in exercises(book)]
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    checked = [m[1] for source in cells if (m := CHECK.match(source))]
    assert checked == labels, "one grader.check per exercise, in order"
    answers = answer_cells(nb, book)
    assert list(answers) == labels, "every exercise cell holds the book's stub"
    for label, cell in answers.items():
        after = nb.cells[nb.cells.index(cell) + 1].source
        assert after == f'grader.check("{label}")', f"{label}: the check does not follow the exercise"
    text = "\n".join(c.source for c in nb.cells)
    for ex in exercises(book):
        assert solution_of(book, ex) not in text, f"{ex.label}: the student notebook holds the solution"
    assert cells[1].startswith("# Otter-grader") and "grader = otter.Notebook(" in cells[1]


def test_the_autograder_has_a_public_and_a_hidden_test_per_exercise_and_the_student_only_public(assigned):
    root, books, course = assigned
    folder = root / "otter" / CHAPTER
    zipped = otter_course.autograder(root, CHAPTER)
    with zipfile.ZipFile(zipped) as z:
        graded = {Path(n).stem: z.read(n).decode() for n in z.namelist() if n.startswith("tests/")}
    public = {p.stem: p.read_text() for p in (folder / "student" / "tests").glob("*.py")}
    embedded = student(root, CHAPTER).cells[2].source
    for ex in exercises(books[CHAPTER]):
        test = graded[ex.label]
        assert f"points = {course.points_of(ex.label)}" in test and "all_or_nothing = True" in test
        assert "hidden=False" in test and "hidden=True" in test, f"{ex.label}: a public and a hidden test"
        hidden = (course.hidden_tests.get(ex.label) or "").strip()
        if hidden:
            assert repr(hidden) in test, f"{ex.label}: the hidden tests of course.yml"
            assert repr(hidden) not in public[ex.label] and repr(hidden) not in embedded, f"{ex.label} leaks"
        assert "hidden=True" not in public[ex.label], f"{ex.label}: the student's tests hold a hidden one"
        assert json.dumps(public[ex.label], ensure_ascii=False) in embedded, f"{ex.label}: not in the notebook"


def kernel_client(nb, cwd: Path) -> NotebookClient:
    return NotebookClient(
        nb,
        timeout=600,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        kernel_manager_class=unix_socket_manager(AsyncKernelManager),
    )


def test_a_colab_style_run_passes_the_solved_and_fails_the_wrong_without_the_answer(assigned, tmp_path):
    """The student notebook alone in an empty folder (as on Colab): the otter cell writes the public
    tests, ``grader.check`` passes the book's solutions and fails a wrong answer with its hint."""
    root, books, _ = assigned
    book, nb = books[CHAPTER], student(root, CHAPTER)
    wrong = "ch4-leak"
    for label, cell in answer_cells(nb, book).items():
        ex = next(e for e in exercises(book) if e.label == label)
        cell.source = solution_of(book, ex)
        if label == wrong:  # the leaky mask of the chapter: one diagonal too many
            cell.source = "def fixed_causal_mask(size):\n    return torch.ones(size, size).tril(diagonal=1).bool()"
    (tmp_path / "colab").mkdir()
    kernel_client(nb, tmp_path / "colab").execute()
    assert sorted(p.name for p in (tmp_path / "colab" / "tests").iterdir()) == sorted(
        f"{ex.label}.py" for ex in exercises(book)
    )
    for cell in nb.cells:
        if m := CHECK.match(cell.source):
            said = "".join(str(o.get("data", {}).get("text/plain", o.get("text", ""))) for o in cell.outputs)
            if m[1] == wrong:
                assert "Test case failed" in said and "(public test)" in said, said
                assert "fixed_causal_mask" in said and "expected" not in said, said
            else:
                assert "All test cases passed!" in said, f"{m[1]}: {said}"


def test_offline_the_otter_cell_says_what_to_do(assigned, tmp_path):
    """Where otter-grader is missing (a new virtual environment) and pip finds no index, one sentence,
    not pip's traceback."""
    root, _, _ = assigned
    cell = student(root, CHAPTER).cells[2].source
    install = cell.split("\nimport otter\n")[0]
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "bare")], check=True)
    env = {"PATH": os.environ["PATH"], "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull}
    python = tmp_path / "bare" / "bin" / "python"
    done = subprocess.run([python, "-I", "-c", install], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Could not install otter-grader (no internet?): connect this runtime to the internet, or run "
        f"pip install otter-grader=={otter_course.OTTER_VERSION}, then run this cell again."
    )


@pytest.fixture
def unix_sockets(monkeypatch, tmp_path):
    """otter's grading kernels over Unix sockets: the Config that otter.execute gives nbconvert's
    ExecutePreprocessor starts with the transport set."""
    import otter.execute

    def config():
        c = Config()
        c.KernelManager.transport = "ipc"
        c.KernelManager.ip = str(tmp_path / "kernel")
        return c

    monkeypatch.setattr(otter.execute, "Config", config)


def hand_in(root: Path, name: str, who: str, nb) -> None:
    folder = root / "submitted" / who / name
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture
def otter_class(assigned, unix_sockets):
    """The chapter-4 class of tests/classroom.py, graded by otter; returns the scores and what the
    expected scores need."""
    root, books, course = assigned
    shutil.rmtree(root / "submitted", ignore_errors=True)
    book = books[CHAPTER]
    found = exercises(book)
    labels = [ex.label for ex in found]
    release = student(root, CHAPTER)
    strict_cell = next(i for i, c in enumerate(release.cells) if c.source.startswith("# Graded copy"))

    def handed_in(solved, deleted=(), strict=None, **sources):
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        cells = answer_cells(nb, book)
        for ex in found:
            if ex.label in solved:
                cells[ex.label].source = solution_of(book, ex)
        for label, text in sources.items():
            if label.endswith("-check"):
                next(c for c in nb.cells if c.source == f'grader.check("{label[:-6]}")').source = text
            else:
                cells[label].source = text
        if strict is not None:
            nb.cells[strict_cell].source = strict
        nb.cells = [c for c in nb.cells if not any(c.source == f'grader.check("{d}")' for d in deleted)]
        return nb

    gamed, raising, deleted = labels[0], labels[1], labels[2]
    name = re.match(r"def (\w+)", book.cells[found[1].stub].source)[1]
    bug = f"def {name}(*args):\n    return torch.ones(3) + torch.ones(4)\n\n\n{name}()"
    first = found[0]
    warned = solution_of(book, first).replace("):\n", f"):\n{WARNING}", 1)
    submissions = {
        "untouched": release,
        "half": handed_in(labels[: len(labels) // 2]),
        "all": handed_in(labels),
        "raises": handed_in(labels, **{raising: bug}),
        "games": handed_in(
            set(labels) - {gamed},
            [deleted],
            strict=STRICT_OFF,
            **{gamed: f"{book.cells[first.stub].source}\n{STRICT_OFF}", f"{gamed}-check": "pass"},
        ),
        "patcher": handed_in(set(), **{first.label: f"{book.cells[first.stub].source}\n{PATCH}"}),
        "caller": handed_in(set(), **LIBRARY_CALLS),
        "warns": handed_in(labels, **{first.label: f"import sys\nimport warnings\n\n{warned}"}),
    }
    for who, nb in submissions.items():
        hand_in(root, CHAPTER, who, nb)
    (root / "submitted" / "missing" / CHAPTER).mkdir(parents=True)
    (root / "submitted" / "missing" / CHAPTER / f"{CHAPTER}.html").write_text("an export, not the notebook")
    started = time.perf_counter()
    scores = otter_course.grade(root, CHAPTER)
    print(f"otter run, {len(submissions) + 1} submissions of {CHAPTER}: {time.perf_counter() - started:.1f} s")
    points = {label: float(course.points_of(label)) for label in labels}
    return root, scores, expected_scores(points, gamed, raising)


def test_the_otter_class_scores_as_the_nbgrader_class(otter_class):
    """The same answers and attacks as tests/test_course.py's class, the same scores: the patcher and
    the library caller get nothing, the warning writer every point, the gaming student loses only the
    exercise left unsolved."""
    root, scores, expected = otter_class
    assert {who: sum(points.values()) for who, points in scores.items()} == expected
    with (root / "otter" / "grades" / f"{CHAPTER}.csv").open() as f:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    assert rows == expected, "the CSV holds what grade returned"

    def said(who: str) -> str:
        return json.dumps(json.loads((root / "otter" / "feedback" / CHAPTER / f"{who}.json").read_text()))

    assert "not implemented yet" in said("patcher") and "(hidden test)" in said("patcher")
    assert "your subsequent_mask calls transformer_lib's subsequent_mask" in said("caller")
    assert "your decoder_self_attention_mask calls transformer_lib's tools.references" in said("caller")


def test_a_made_up_training_result_scores_nothing_on_otter(assigned, unix_sockets):
    """Chapter 2: the accuracy of the training task is recomputed from the trained model, so typing it
    in loses the task's points, on otter as on nbgrader."""
    root, books, course = assigned
    book = books[TRAINING]
    release = student(root, TRAINING)
    for who, made_up in (("solved", False), ("madeup", True)):
        nb = nbformat.from_dict(json.loads(json.dumps(release)))
        for label, cell in answer_cells(nb, book).items():
            ex = next(e for e in exercises(book) if e.label == label)
            # after the stub: ch2-rotation's stub sets up what its solution uses
            cell.source = f"{book.cells[ex.stub].source}\n{solution_of(book, ex)}"
            if made_up and label == "ch2-learned-positions":
                cell.source = MADE_UP
        hand_in(root, TRAINING, who, nb)
    started = time.perf_counter()
    scores = otter_course.grade(root, TRAINING)
    print(f"otter run, 2 submissions of {TRAINING}: {time.perf_counter() - started:.1f} s")
    total = sum(course.points_of(ex.label) for ex in exercises(book))
    assert sum(scores["solved"].values()) == total
    assert scores["madeup"]["ch2-learned-positions"] == 0
    assert sum(scores["madeup"].values()) == total - course.points_of("ch2-learned-positions")
