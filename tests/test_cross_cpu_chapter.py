"""A whole chapter executed on an emulated older CPU must print exactly its stored outputs.

The fingerprint (``test_cross_cpu.py``) covers the operations; this runs a real chapter end to end
under ``qemu-x86_64 -cpu Nehalem`` (SSE4.2 only: none of the AVX kernels this machine would pick)
and lets nbval compare every output, as ``make test`` does natively. The kernel is the Jupyter
kernel's own command line with the emulator in front: a kernel started by an emulated Python would
otherwise run natively.
"""

from __future__ import annotations

import json
import subprocess
import sys

from test_cross_cpu import ROOT, canonical_environ, emulated

CHAPTER = "book/04_masks.ipynb"


def test_chapter_outputs_are_identical_on_an_older_cpu(tmp_path):
    kernel = tmp_path / "kernels" / "qemu-nehalem"
    kernel.mkdir(parents=True)
    env = canonical_environ()
    spec = {
        "argv": [*emulated("Nehalem", "-m", "ipykernel_launcher", "-f", "{connection_file}")],
        "display_name": "Python 3 (qemu -cpu Nehalem)",
        "language": "python",
        "env": {"PYTHONPATH": env["PYTHONPATH"]},
    }
    (kernel / "kernel.json").write_text(json.dumps(spec))
    env["JUPYTER_PATH"] = str(tmp_path)
    # The project's addopts ask for the current environment's kernel; this run names its own.
    command = [
        sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q",
        "--nbval", "--nbval-kernel-name", "qemu-nehalem", "--nbval-cell-timeout", "600",
        "--nbval-sanitize-with", "tests/sanitize.cfg", CHAPTER,
    ]  # fmt: skip
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, f"{CHAPTER} under qemu -cpu Nehalem:\n{run.stdout[-6000:]}"
    assert "passed" in run.stdout and "failed" not in run.stdout, run.stdout[-2000:]
