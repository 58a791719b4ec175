"""Full-page screenshots of the built site, for people to look at before calling a page done.

``make screenshots`` (after ``make book`` and ``make book-zh``) writes every page of both editions, at a
desktop width and a phone width, to ``_build/screenshots/<edition>-<width>/<page>.png``; ``PAGES="book/04_masks
book/08_transformer"`` picks pages. The tests open the same pages and assert; this takes pictures only
(a full-page picture of a long chapter took 5 to 13 s, more than the rest of its browser test).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.build_pdf import CHROMIUM_FLAGS, serve  # noqa: E402
from scripts.translations import toc_pages  # noqa: E402

EDITIONS = {"en": "", "zh": "zh/"}
WIDTHS = (1280, 390)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "screenshots")
    parser.add_argument("pages", nargs="*", help="pages as in _toc.yml (default: all)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    pages = args.pages or toc_pages()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("screenshots need Chromium: apt-get install -y chromium")
    with serve(args.site) as origin, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        for edition, prefix in EDITIONS.items():
            if not (args.site / prefix / f"{pages[0]}.html").is_file():
                print(f"{edition}: not built (make book / make book-zh), skipped")
                continue
            for width in WIDTHS:
                folder = args.out / f"{edition}-{width}"
                folder.mkdir(parents=True, exist_ok=True)
                page = browser.new_page(viewport={"width": width, "height": 900})
                for name in pages:
                    page.goto(f"{origin}/{prefix}{name}.html", wait_until="networkidle")
                    if page.locator("script[src*='mathjax']").count():
                        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
                        page.evaluate("MathJax.startup.promise")
                    page.screenshot(path=str(folder / f"{Path(name).name}.png"), full_page=True)
                page.close()
                print(f"{edition}, {width} px: {len(pages)} pages in {folder}")
        browser.close()


if __name__ == "__main__":
    main()
