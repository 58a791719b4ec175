"""A kept environment serves many clones: a fresh clone finds it current and does not re-point it.

CI keeps one environment outside the clone (``make test VENV=...``), and a fresh clone's files are
always newer than it. The environment is current by content (its stamp is named after the checksum of
``requirements.txt`` and ``pyproject.toml``), and its editable install of ``transformer_lib`` stays with
the clone it was made from (``VENV/.clone``): every target imports its own clone's library through
``PYTHONPATH`` instead.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
FILES = ["Makefile", "requirements.txt", "pyproject.toml", "transformer_lib/numerics.env"]


def state() -> dict[str, float | str]:
    """What an install would change: the stamps, the recorded clone, the editable install's files."""
    site = next(VENV.glob("lib/python*/site-packages"))
    paths = [*VENV.glob(".installed-*"), VENV / ".clone", *site.glob("__editable__*transformer_lib*")]
    return {str(p): p.read_text() if p.name == ".clone" else p.stat().st_mtime for p in paths if p.exists()}


def test_a_fresh_clone_neither_reinstalls_nor_repoints(tmp_path):
    assert list(VENV.glob(".installed-*")), f"{VENV} was not made by `make env`"
    clone = tmp_path / "clone"
    for name in FILES:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, clone / name)  # newer than the stamp, as in a fresh clone
    before = state()
    # a dry run first: were this clone's requirements not the environment's (a branch that changed them),
    # a real run would reinstall and re-point the environment this very test is running in
    dry_env = subprocess.run(["make", "-n", "env", f"VENV={VENV}"], cwd=clone, capture_output=True, text=True)
    assert "pip" not in dry_env.stdout, f"{VENV} does not have this clone's requirements:\n{dry_env.stdout}"
    env_run = subprocess.run(["make", "env", f"VENV={VENV}"], cwd=clone, capture_output=True, text=True)
    assert env_run.returncode == 0, env_run.stderr
    assert "pip" not in env_run.stdout + env_run.stderr, env_run.stdout
    dry = subprocess.run(["make", "-n", "test", f"VENV={VENV}"], cwd=clone, capture_output=True, text=True)
    assert "pip install" not in dry.stdout and "pytest" in dry.stdout, dry.stdout
    assert state() == before, "the environment changed"
    if (VENV / ".clone").exists():
        assert f"was installed from the clone {(VENV / '.clone').read_text().strip()}" in env_run.stdout


def test_every_target_imports_its_own_clone(tmp_path):
    clone = tmp_path / "clone"
    for name in FILES:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, clone / name)
    # from book/, as a chapter's kernel runs: the clone's root is not on the path by itself
    (clone / "book").mkdir()
    which = "import transformer_lib as tl; print(tl.__file__)"
    (clone / "Makefile").write_text(
        (ROOT / "Makefile").read_text() + f"\nwhich-library:\n\tcd book && python -c '{which}'\n"
    )
    (clone / "transformer_lib" / "__init__.py").write_text("")
    run = subprocess.run(
        ["make", "-s", "which-library", f"VENV={VENV}", f"PATH={VENV / 'bin'}:/usr/bin:/bin"],
        cwd=clone,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == str(clone / "transformer_lib" / "__init__.py"), run.stdout
