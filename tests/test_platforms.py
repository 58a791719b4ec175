"""The suite's platform logic off x86-64 Linux, with the platform faked (macOS on Apple silicon, arm64 Linux).

There, stored outputs are not compared bit for bit (other kernels run), so the root conftest executes
every chapter with ``--nbval-lax`` and strict exercise checks in the chapters' kernels. The unit tests'
own expectations must not change: a test that expects a failing check to print its ❌ hint still sees
the hint, not an ``AssertionError``. This runs pytest in a subprocess whose ``platform`` module reports
another machine (``transformer_lib.tools.numerics.exact_platform`` reads it), on the unit tests that rely on ❌
lines and a probe notebook that asserts what its kernel was given.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

# torch is imported before the fake: on "Darwin" it would look for its .dylib libraries.
FAKE = """import platform

import torch  # noqa: F401

platform.system = lambda: {system!r}
platform.machine = lambda: {machine!r}
"""

STRICT = 'assert os.environ.get("TRANSFORMER_LIB_STRICT_CHECKS") == "1", "the chapters\' kernels check strictly"'


def notebook(folder: Path, name: str, *cells: str) -> Path:
    """A notebook of ``cells`` whose last cell has a stored output no run prints."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nb.cells[-1].execution_count = 1
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="another output, stored elsewhere\n")]
    nbformat.write(nb, folder / name)
    return folder / name


def run_suite(tmp_path: Path, fake: tuple[str, str] | None, *tests: str) -> subprocess.CompletedProcess:
    """pytest as ``make test`` runs it (the project's conftest and addopts) on ``tests`` and the probe
    notebooks, in a process whose ``platform`` reports ``fake`` (system, machine), or the real one."""
    path = [os.environ.get("PYTHONPATH", "")]
    if fake:
        (tmp_path / "fake_platform.py").write_text(FAKE.format(system=fake[0], machine=fake[1]))
        path.insert(0, str(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    env.pop("TRANSFORMER_LIB_STRICT_CHECKS", None)
    plugins = ["-p", "fake_platform"] if fake else []
    command = [sys.executable, "-m", "pytest", *plugins, "-p", "no:randomly", "-p", "no:xdist", "-rA", *tests]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def probes():
    """A folder for probe notebooks under the repository root (ignored by git, collected only when
    named), so that the root conftest applies to them as to the chapters."""
    folder = ROOT / "_build" / "platform-probe" / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.parametrize(("system", "machine"), [("Darwin", "arm64"), ("Linux", "aarch64")])
def test_suite_off_x86_64(tmp_path, probes, system, machine):
    """Off x86-64 Linux: outputs not compared, chapters' kernels strict, errors still fail, and the unit
    tests that expect a failing check's ❌ hint pass."""
    lax = notebook(probes, "lax.ipynb", "import os", STRICT, "print('last digits differ elsewhere')")
    error = notebook(probes, "error.ipynb", "raise ValueError('a chapter that fails')")
    run = run_suite(
        tmp_path, (system, machine), "tests/test_checks.py", *(str(p.relative_to(ROOT)) for p in (lax, error))
    )
    report = run.stdout[-4000:] + run.stderr[-2000:]
    assert f"NOT compared on {system} {machine}" in run.stdout, report
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "error.ipynb" in failed[0], report
    passed = [line for line in run.stdout.splitlines() if line.startswith("PASSED")]
    unit_tests = (ROOT / "tests" / "test_checks.py").read_text().count("\ndef test_")
    assert sum("test_checks.py" in line for line in passed) == unit_tests, report
    assert sum("lax.ipynb" in line for line in passed) == 3, report
    assert "SKIPPED" not in run.stdout, report


def test_x86_64_linux_compares_bit_for_bit(tmp_path, probes):
    stale = notebook(probes, "stale.ipynb", "print('what the code prints now')")
    run = run_suite(tmp_path, None, str(stale.relative_to(ROOT)))
    assert "compared bit for bit" in run.stdout, run.stdout[-3000:]
    assert run.returncode == 1 and "FAILED" in run.stdout, run.stdout[-3000:]
