"""The Colab path, without the internet: one chapter alone in an empty folder, run by a fresh Python
that does not have transformer_lib, must install it through its setup cell and run to the end.

The fresh virtual environment sees the test environment's packages (torch, ipykernel, ...) through a
.pth file, as Colab has its own torch, but not transformer_lib (an editable install's import hook is
not followed through a .pth path). TRANSFORMER_LIB_SOURCE, which the setup cell honours, points the
install at this checkout instead of the repository URL.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from tests.kernels import unix_socket_manager

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "01_self_attention.ipynb"


def test_chapter_runs_alone_and_installs_the_library(tmp_path, monkeypatch):
    # A fresh environment: nothing on the path but what it installs (make exports PYTHONPATH=<clone>).
    monkeypatch.delenv("PYTHONPATH", raising=False)
    folder = tmp_path / "colab"
    folder.mkdir()
    notebook = folder / CHAPTER.name
    shutil.copy(CHAPTER, notebook)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "book_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    missing = subprocess.run([str(python), "-c", "import transformer_lib"], cwd=folder, capture_output=True)
    assert missing.returncode != 0, "the fresh environment must not see transformer_lib before the setup cell"
    subprocess.run(
        [str(python), "-m", "ipykernel", "install", "--prefix", str(venv), "--name", "colab-sim"],
        check=True,
        capture_output=True,
    )

    monkeypatch.setenv("JUPYTER_PATH", str(venv / "share" / "jupyter"))
    # Install from a copy of the package's files, so that pip's build leaves nothing in the checkout.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "transformer_lib", source / "transformer_lib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    monkeypatch.setenv("TRANSFORMER_LIB_SOURCE", str(source))
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="colab-sim",
        kernel_manager_class=unix_socket_manager(AsyncKernelManager),
        resources={"metadata": {"path": str(folder)}},
    ).execute()

    installed = subprocess.run(
        [str(python), "-c", "import transformer_lib; print(transformer_lib.__file__)"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(site) in installed, f"transformer_lib was not installed into the fresh environment: {installed}"
    setup_output = "".join(o.get("text", "") for o in nb.cells[[c.cell_type for c in nb.cells].index("code")].outputs)
    assert "device:" in setup_output
