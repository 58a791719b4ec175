"""Headless Chromium for the site tests (Debian's `chromium`, driven by Playwright's Python package).

Where Chromium is missing a browser test is skipped, unless REQUIRE_BROWSER=1 (set by .ci/run), where
it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from scripts.build_pdf import CHROMIUM_FLAGS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path; skips the test where it is missing, or fails under REQUIRE_BROWSER=1."""
    if CHROMIUM is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (REQUIRE_BROWSER=1) but not installed: apt-get install -y chromium")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    return CHROMIUM


@contextmanager
def chromium_session() -> Iterator:
    """A launched headless Chromium (Playwright's Browser), closed afterwards."""
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


# Keeps one token of each look in the page's highlighted code and outputs, and turns every other token
# back into plain text of its block: a token's look is everything axe's colour-contrast rule computes
# from (colour, shadow, size, weight, opacity, the backgrounds behind it), so tokens that look the same
# pass or fail together, and the text freed from its span takes the block's own colour, checked too.
KEEP_ONE_TOKEN_PER_LOOK = """() => {
  const looks = new Set();
  const tokens = [...document.querySelectorAll('div.highlight pre span')];
  for (const el of tokens) {
    if (![...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim())) continue;
    const s = getComputedStyle(el);
    const look = [s.color, s.textShadow, s.fontSize, s.fontWeight];
    let opacity = 1;
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e);
      opacity *= parseFloat(c.opacity);
      look.push(c.backgroundColor, c.backgroundImage);
      if (c.backgroundImage === 'none' && /^rgb\\(/.test(c.backgroundColor)) break;  // opaque
    }
    look.push(opacity);
    const key = look.join('|');
    if (!looks.has(key)) {
      looks.add(key);
      el.setAttribute('data-contrast-sample', '');
    }
  }
  for (const el of tokens.reverse()) {
    if (!el.hasAttribute('data-contrast-sample') && !el.querySelector('[data-contrast-sample]')) {
      el.replaceWith(...el.childNodes);
    }
  }
  document.querySelectorAll('div.highlight pre').forEach(pre => pre.normalize());
  return [tokens.length, looks.size];
}"""


def accessibility_problems(page) -> list[str]:
    """axe-core's serious and critical violations on the page (every rule), as lines to print.

    It changes the page: call it after the other checks. axe's run grows with the page's elements, and a
    chapter's highlighted code and outputs are thousands of tokens in a handful of looks (chapter 8:
    8,524 tokens, 6 looks; axe took 17 s on its 13,435 elements). Only one token of each look keeps its
    ``span`` (a token's span has no role, name or attribute that another rule reads), which leaves 4,689
    elements and takes 3 s, with the same violations found."""
    from axe_playwright_python.sync_playwright import Axe

    page.evaluate(KEEP_ONE_TOKEN_PER_LOOK)
    return [
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}x): {v['help']} e.g. {v['nodes'][0]['target']}"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
