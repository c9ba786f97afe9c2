"""Real-browser checks shared by every page test: Chromium from the OS, axe-core, screenshots at three widths.

Chromium is the Debian package (``/usr/bin/chromium``); Playwright drives it and downloads no browser.
Tests that need it call :func:`require_chromium` at module level: the module is skipped when Chromium is
absent, unless ``LEDGER_REQUIRE_BROWSER=1`` (CI sets it, ``.ci/run`` installs Chromium).

axe-core is vendored for the tests only (``tests/data/vendor/axe-4.10.3.min.js``, MPL-2.0, licence beside
it) and injected into the page under test; :func:`assert_accessible` fails on any ``serious`` or
``critical`` violation (WCAG 2.1 A and AA rules).

Screenshots go to ``LEDGER_ARTEFACTS`` (default ``build/artefacts``) as ``<name>-<width>.png`` at the
three widths issue 17 names: 360 px phone, 768 px tablet, 1280 px desktop.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

AXE_SCRIPT = Path(__file__).resolve().parent.parent / "data" / "vendor" / "axe-4.10.3.min.js"
WIDTHS = {"phone": 360, "tablet": 768, "desktop": 1280}
BLOCKING_IMPACTS = frozenset({"serious", "critical"})
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def chromium_path() -> str | None:
    """The OS's Chromium, or ``None``."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path; skips the calling module when absent (fails instead under ``LEDGER_REQUIRE_BROWSER=1``)."""
    path = chromium_path()
    if path is None:
        if os.environ.get("LEDGER_REQUIRE_BROWSER") == "1":
            raise RuntimeError("LEDGER_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for one test module (open it in a module-scoped fixture)."""
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def artefacts_dir() -> Path:
    """Where screenshots go (``LEDGER_ARTEFACTS``, default ``build/artefacts`` under the working directory)."""
    directory = Path(os.environ.get("LEDGER_ARTEFACTS", "build/artefacts")) / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it stands (all impacts)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_SCRIPT.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        "async (tags) => await window.axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def assert_accessible(page: Page) -> None:
    """No ``serious`` or ``critical`` axe-core violation; the message lists each rule and its first targets."""
    blocking = [v for v in axe_violations(page) if v.get("impact") in BLOCKING_IMPACTS]
    summary = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}" for v in blocking]
    assert blocking == [], "accessibility violations:\n" + "\n".join(summary)


def screenshots(page: Page, name: str) -> list[Path]:
    """Full-page screenshots of the current page at 360, 768 and 1280 px; restores the viewport after."""
    original = page.viewport_size
    saved: list[Path] = []
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        target = artefacts_dir() / f"{name}-{label}.png"
        page.screenshot(path=str(target), full_page=True)
        saved.append(target)
    if original is not None:
        page.set_viewport_size(original)
    return saved


def assert_no_horizontal_scroll(page: Page) -> None:
    """Responsive check: at the current width nothing overflows the viewport sideways."""
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"
