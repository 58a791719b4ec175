"""The canonical numeric settings: one file read by the Makefile, the library and the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

from transformer_lib import numerics

ROOT = Path(__file__).resolve().parents[1]


def test_settings_are_read_from_the_package_file():
    settings = numerics.canonical_settings()
    assert settings["OMP_NUM_THREADS"] == "1"
    assert settings["ATEN_CPU_CAPABILITY"] == "default"
    assert settings["TRANSFORMER_LIB_DEVICE"] == "cpu"
    assert all(name.isupper() and value for name, value in settings.items())


def test_the_makefile_exports_the_same_file():
    makefile = (ROOT / "Makefile").read_text()
    assert "include transformer_lib/numerics.env" in makefile
    assert "export $(CANONICAL)" in makefile


def test_the_test_process_runs_under_the_canonical_settings():
    if os.environ.get("TRANSFORMER_LIB_NUMERICS") == "native":
        return
    for name, value in numerics.canonical_settings().items():
        assert os.environ.get(name) == value, name


def test_native_environ_drops_every_setting(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("HOME_OF_SOMETHING_ELSE", "kept")
    env = numerics.native_environ()
    assert not set(numerics.canonical_settings()) & set(env)
    assert env["HOME_OF_SOMETHING_ELSE"] == "kept"
    assert env["TRANSFORMER_LIB_NUMERICS"] == "native"


def run_suite_on(notebook: Path, exact: bool) -> subprocess.CompletedProcess:
    """pytest with the project's conftest on one notebook, as if on an exact platform or not."""
    code = (
        "import sys, pytest\n"
        "from transformer_lib import numerics\n"
        f"numerics.exact_platform = lambda: {exact}\n"
        "sys.exit(pytest.main(['-p', 'conftest', '-p', 'no:cacheprovider', '-o', 'addopts=',"
        f" '--nbval', '--nbval-current-env', {str(notebook)!r}]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TRANSFORMER_LIB_STRICT_CHECKS", None)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=notebook.parent, env=env, capture_output=True, text=True, timeout=300
    )


def test_other_platforms_execute_without_comparing_digits(tmp_path):
    """Off x86-64 Linux a last-digit difference is no failure, an error still is, and the header says so."""
    notebook = tmp_path / "chapter.ipynb"
    cell = nbformat.v4.new_code_cell("print(1 / 3)", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="0.3333333333333334\n")]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), notebook)

    exact = run_suite_on(notebook, exact=True)
    assert exact.returncode == 1, exact.stdout
    assert "compared bit for bit" in exact.stdout

    other = run_suite_on(notebook, exact=False)
    assert other.returncode == 0, other.stdout
    assert "NOT compared" in other.stdout

    cell.source = "raise ValueError('a chapter that fails')"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), notebook)
    assert run_suite_on(notebook, exact=False).returncode == 1
