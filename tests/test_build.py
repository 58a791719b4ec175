"""The book builds with warnings treated as errors (the same command as `make book`, into a temporary folder)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_book_builds_without_warnings(tmp_path):
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", "-W", "-n", "--keep-going", "--path-output", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=900,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed or warned:\n{log[-6000:]}"
    html = tmp_path / "_build" / "html" / "book"
    assert (html / "intro.html").is_file() and (html / "01_self_attention.html").is_file()
