"""The built site, both editions, made once per test run and shared by every test that reads it.

`tests/test_site.py` (the English pages, the PDF) and `tests/test_translations.py` (the Chinese pages
against the English ones) read the same site, built as `make book` and `make book-zh` build it: the
English edition in ``html/`` and the Chinese one in ``html/zh/``. pytest-xdist runs those files in
different processes, so each edition is built by the first process to ask for it, under a lock of its
own, and a process that needs it later waits for it and reads the same folder
(``_build/test-sites/<run id>``). The two builds are independent (separate processes, doctrees and
output folders), so when the two files run at once, one worker builds the English edition while the
other builds the Chinese one, instead of one worker waiting for both. A build's exit status and log
are kept beside it, so every test that needs the site fails with the build's own message when it failed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITES = ROOT / "_build" / "test-sites"
STALE_AFTER_S = 6 * 3600


def run_id() -> str:
    """The same for every worker of one pytest run (pytest-xdist's id), else this process's own."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"


def _build_english(out: Path) -> dict[str, object]:
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    started = time.perf_counter()
    english = subprocess.run(
        [str(jupyter_book), "build", "-W", "-n", "--keep-going", "--path-output", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return {
        "english": english.returncode,
        "english_log": (english.stdout + english.stderr)[-8000:],
        "english_s": round(time.perf_counter() - started, 1),
    }


def _build_chinese(out: Path) -> dict[str, object]:
    started = time.perf_counter()
    # the Chinese edition under the English one, in a process of its own (Sphinx keeps the catalogues it
    # loaded for the life of a process)
    code = (
        "import sys\nfrom pathlib import Path\nfrom scripts import translations\n"
        f"out = Path({str(out / '_build')!r})\n"
        "sys.exit(translations.sphinx('html', out / 'html' / 'zh', translations.ZH_OVERRIDES, fresh=True,"
        " doctreedir=out / '.doctrees-zh'))\n"
    )
    chinese = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=900)
    return {
        "chinese": chinese.returncode,
        "chinese_log": (chinese.stdout + chinese.stderr)[-8000:],
        "chinese_s": round(time.perf_counter() - started, 1),
    }


def _folder() -> Path:
    """This run's folder, made (and earlier runs' folders removed) by the first process to ask."""
    SITES.mkdir(parents=True, exist_ok=True)
    out = SITES / run_id()
    with open(SITES / f"{run_id()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "started").exists():
            for old in SITES.iterdir():  # earlier runs' sites and locks
                if not old.name.startswith(run_id()) and time.time() - old.stat().st_mtime > STALE_AFTER_S:
                    shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            (out / "started").touch()
    return out


def _edition(name: str, build: Callable[[Path], dict[str, object]]) -> dict[str, object]:
    """One edition's build status, building it under its own lock if no process has yet."""
    out = _folder()
    with open(out / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = out / f"{name}.json"
        if not done.exists():
            done.write_text(json.dumps(build(out)))
        return json.loads(done.read_text())


def english_edition() -> tuple[Path, dict[str, object]]:
    """``(folder, status)``: ``folder / "html"`` is the English site; ``status["english"]`` is its
    build's exit status (0: built without warnings) and ``status["english_log"]`` the end of its log."""
    return _folder() / "_build", _edition("english", _build_english)


def both_editions() -> tuple[Path, dict[str, object]]:
    """``(folder, status)``: ``folder / "html"`` is the English site with the Chinese one in ``zh/``;
    ``status`` holds each build's exit status (0: built without warnings) and the end of its log.
    The Chinese edition is asked for first: a process running tests/test_site.py builds the English one."""
    chinese = _edition("chinese", _build_chinese)
    return _folder() / "_build", _edition("english", _build_english) | chinese


def both_editions_built() -> Path:
    """The folder of both editions (as :func:`both_editions`), failing the test with a build's own log
    where a build failed or warned."""
    out, status = both_editions()
    assert status["english"] == 0, f"the English build failed or warned:\n{status['english_log']}"
    assert status["chinese"] == 0, f"the Chinese build failed or warned (warnings are errors):\n{status['chinese_log']}"
    return out
