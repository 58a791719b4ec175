"""The website: it builds with warnings as errors, and every page works in a real headless browser.

The browser part needs Chromium (Debian's `chromium`, driven by Playwright's Python package). Where it
is missing the browser tests are skipped, unless REQUIRE_BROWSER=1 (set by .ci/run), where they fail.
Screenshots of every page go to _build/screenshots/ for people to look at.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


PAGES = toc_pages()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", "-W", "-n", "--keep-going", "--path-output", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed or warned:\n{log[-8000:]}"
    return out / "_build" / "html"


def test_book_builds_without_warnings(site):
    for page in PAGES:
        assert (site / f"{page}.html").is_file(), f"{page}.html was not built"
    assert (site / "mathjax" / "tex-mml-chtml.js").is_file(), "MathJax is not served from the site"


def test_internal_links_resolve(site):
    from html.parser import HTMLParser

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.targets: list[str] = []

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            url = attrs.get("href") if tag in ("a", "link") else attrs.get("src") if tag in ("img", "script") else None
            if url and not url.startswith(("http:", "https:", "mailto:", "#", "data:", "javascript:")):
                self.targets.append(url.split("#")[0].split("?")[0])

    broken = []
    for page in PAGES:
        html = site / f"{page}.html"
        parser = Links()
        parser.feed(html.read_text(encoding="utf-8"))
        broken += [f"{page}: {t}" for t in parser.targets if t and not (html.parent / t).resolve().exists()]
    assert not broken, "broken internal links:\n" + "\n".join(broken)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (REQUIRE_BROWSER=1) but not installed: apt-get install -y chromium")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(site):
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("page_name", PAGES)
def test_page_in_browser(page_name, site, browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console_errors, failed = [], []
    page.on(
        "console",
        lambda msg: (
            console_errors.append(f"{msg.text} {msg.location.get('url', '')}".strip()) if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda err: console_errors.append(str(err)))
    page.on("requestfailed", lambda req: failed.append(req.url) if req.url.startswith(server) else None)
    page.on(
        "response",
        lambda resp: (
            failed.append(f"{resp.status} {resp.url}") if resp.url.startswith(server) and resp.status >= 400 else None
        ),
    )

    page.goto(f"{server}/{page_name}.html", wait_until="networkidle")
    if page.locator("script[src*='mathjax']").count():
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("MathJax.startup.promise")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{Path(page_name).name}.png"), full_page=True)

    assert not failed, f"failed requests for local resources: {failed}"
    assert not console_errors, f"console errors: {console_errors}"
    broken_images = page.evaluate(
        "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    assert not broken_images, f"images that did not load: {broken_images}"
    raw_math = page.locator("main .math:not(:has(mjx-container))").count()
    assert raw_math == 0, f"{raw_math} math elements were not rendered by MathJax"

    if (ROOT / f"{page_name}.ipynb").is_file():
        assert page.locator(".cell_output").count() > 0, "code cells show no outputs"
        colab = page.locator("a[href^='https://colab.research.google.com/github/']")
        assert colab.count() >= 1, "no Open in Colab button"
        config = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
        repo = config["url"].removeprefix("https://github.com/")
        expected = f"https://colab.research.google.com/github/{repo}/blob/{config['branch']}/{page_name}.ipynb"
        assert colab.first.get_attribute("href") == expected, "the Colab button and _config.yml disagree"
        assert page.locator(".solution.dropdown, details.solution, .solution").count() >= 3, "solutions missing"
    page.close()
