"""Coursework: `make student` removes the solutions, and the student copies still run with helpful checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
STUDENT = ROOT / "_build" / "student"


def is_check(cell) -> bool:
    return cell.cell_type == "code" and "checks.check_" in cell.source


@pytest.fixture(scope="module")
def student_copies() -> Path:
    subprocess.run(["make", "-s", "student", f"VENV={sys.prefix}"], cwd=ROOT, check=True, capture_output=True)
    return STUDENT


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_book_checks_pass_with_the_reference_solutions(path):
    nb = nbformat.read(path, as_version=4)
    checks = [c for c in nb.cells if is_check(c)]
    assert len(checks) >= 3, f"{path.name} has {len(checks)} auto-checked exercises, expected at least 3"
    for cell in checks:
        text = json.dumps([o.get("data", o.get("text")) for o in cell.outputs], ensure_ascii=False)
        assert "\u2705" in text and "\u274c" not in text, (
            f"{path.name}: a check fails with the solutions:\n{cell.source}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_copy_has_no_solutions_and_checks_give_hints(path, student_copies):
    nb = nbformat.read(student_copies / path.name, as_version=4)
    assert not [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert not [c for c in nb.cells if "solution-start" in c.source or "solution-end" in c.source]
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs must be cleared"
    exercises = [c for c in nb.cells if c.cell_type == "markdown" and "{exercise}" in c.source]
    assert len(exercises) >= 3, f"{path.name}: the student copy lost its exercise prompts"

    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "book")}}
    ).execute()

    for cell in (c for c in nb.cells if is_check(c)):
        text = json.dumps([o.get("data", o.get("text")) for o in cell.outputs], ensure_ascii=False)
        assert "\u274c" in text, f"{path.name}: this check does not fail on the empty exercise:\n{cell.source}\n{text}"
        assert "\u2705" not in text
