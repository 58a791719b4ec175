"""The suite's platform logic off x86-64 Linux, with the platform faked (macOS on Apple silicon, arm64 Linux).

There, stored outputs are not compared bit for bit (other kernels run), so the root conftest executes
every chapter with ``--nbval-lax`` and strict exercise checks in the chapters' kernels. The unit tests'
own expectations must not change: a test that expects a failing check to print its ❌ hint still sees
the hint, not an ``AssertionError``. This runs pytest in a subprocess whose ``platform`` module reports
another machine (``transformer_lib.numerics.exact_platform`` reads it), on the unit tests that rely on ❌
lines and a probe notebook that asserts what its kernel was given.
"""

from __future__ import annotations

import os
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

PROBE = [
    "import os",
    # the chapters' kernels check strictly: a failing exercise check raises
    'assert os.environ.get("TRANSFORMER_LIB_STRICT_CHECKS") == "1", os.environ.get("TRANSFORMER_LIB_STRICT_CHECKS")',
    "print('a value nbval would compare bit for bit on x86-64 Linux')",
]


@pytest.mark.parametrize(("system", "machine"), [("Darwin", "arm64"), ("Linux", "aarch64")])
def test_suite_off_x86_64(tmp_path, system, machine):
    (tmp_path / "fake_platform.py").write_text(FAKE.format(system=system, machine=machine))
    # Under the repository root (ignored by git and not collected unless named), so the root conftest applies.
    probe_dir = ROOT / "_build" / "platform-probe" / uuid.uuid4().hex[:12]
    probe_dir.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in PROBE])
    nb.cells[-1].execution_count = 1
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="another output, stored elsewhere\n")]
    probe = probe_dir / "probe.ipynb"
    nbformat.write(nb, probe)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("TRANSFORMER_LIB_STRICT_CHECKS", None)
    command = [
        sys.executable, "-m", "pytest", "-p", "fake_platform", "-p", "no:randomly", "-p", "no:xdist",
        "tests/test_checks.py", str(probe.relative_to(ROOT)),
    ]  # fmt: skip
    try:
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    finally:
        probe.unlink()
        probe_dir.rmdir()
    report = run.stdout[-4000:] + run.stderr[-2000:]
    assert f"NOT compared on {system} {machine}" in run.stdout, report
    assert run.returncode == 0, report
    # every test of test_checks.py and every cell of the probe ran, none was skipped
    assert " passed" in run.stdout and "skipped" not in run.stdout and "failed" not in run.stdout, report
