"""The docs UI renders in a real browser with every other origin unreachable.

Chromium (the Debian package, ``/usr/bin/chromium``; Playwright drives it and downloads no browser of its
own) opens ``/schema`` on a real server subprocess. Every request to another origin is aborted and
recorded, as if the network were unplugged: the page must still render the operations, and must not even
have tried to reach anything but the server. Skipped when Chromium is absent, unless
``LEDGER_REQUIRE_BROWSER=1`` (CI sets it and installs Chromium: ``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from support.http_server import LiveServer, live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    if os.environ.get("LEDGER_REQUIRE_BROWSER") == "1":
        raise RuntimeError("LEDGER_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Route, sync_playwright  # noqa: E402  # after the skip: only with a browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("browser") / "data") as live:
        yield live


@pytest.mark.parametrize("page_path", ["/schema", "/schema/swagger"])
def test_the_docs_ui_renders_offline(server: LiveServer, page_path: str) -> None:
    """The operations and their examples render; no request left the server's origin."""
    origin = urlsplit(server.url).netloc
    foreign: list[str] = []
    failed: list[str] = []

    def only_our_origin(route: Route) -> None:
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.route("**/*", only_our_origin)
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(f"{server.url}{page_path}", wait_until="networkidle")
            page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
            text = page.inner_text("body")
            assert "Submit a claim for verification" in text
            assert "Proveniq Ledger API" in text
            page.locator(".opblock-summary", has_text="Submit a claim for verification").first.click()
            page.wait_for_selector(".opblock.is-open .microlight")  # the request body example, highlighted
            assert "partnerClaimId" in page.inner_text(".opblock.is-open")
        finally:
            browser.close()
    assert foreign == [], f"the page tried to reach other origins: {foreign}"
    assert failed == [], f"requests failed: {failed}"
