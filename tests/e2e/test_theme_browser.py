"""A partner theme applied in a real browser (issue 17 item 3): the theme preview page of a themed partner
renders the header and primary button in the partner's colour, links in it too, header text at 4.5:1 or
more on it (WCAG 2.1 AA), the logo loaded from the app, no Content-Security-Policy violation, no axe-core
serious or critical violation, no sideways scroll at 360, 768 and 1280 px (screenshots saved at each).

Chromium from the OS (tests/support/pages.py); skipped without it unless ``LEDGER_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from support.http_server import LiveServer, live_server
from support.pages import (
    WIDTHS,
    assert_accessible,
    assert_no_horizontal_scroll,
    chromium,
    require_chromium,
    screenshots,
)
from support.theme_files import png

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.partners.contrast import AA_NORMAL_TEXT, Rgb, contrast_ratio
from ledger_core.partners.theme_assets import AssetKind

require_chromium()

from playwright.sync_api import Browser, ConsoleMessage, Page  # noqa: E402  # after the skip: only with a browser

PARTNER_BLUE = "#003DA5"
PARTNER_GOLD_TEXT = "#6B4E00"  # a dark gold: passes 4.5:1 on white; white text on it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("theme-browser") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as opened:
        yield opened


def themed_partner(server: LiveServer, primary: str | None, name: str = "ACME Mutual") -> str:
    """A new partner with (unless ``primary`` is None) a theme of that colour, a PNG logo and a display name."""
    partner_id = f"p_{uuid.uuid4().hex[:10]}"
    server.create_partner(partner_id)
    if primary is not None:
        with open_ledger(StorageConfig(server.data_dir, server.database_url)) as ledger:
            logo = ledger.themes.store_asset(partner_id, AssetKind.LOGO, png(240, 80, (255, 255, 255)))
            ledger.themes.set(partner_id, primary=primary, display_name=name, font="humanist", logo_sha256=logo.sha256)
    return partner_id


def rgb_of(css: str) -> Rgb:
    """``rgb(r, g, b)`` as computed by the browser."""
    match = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, 1)?\)", css)
    assert match is not None, css
    return Rgb(int(match[1]), int(match[2]), int(match[3]))


def computed(page: Page, selector: str, prop: str) -> str:
    value: str = page.eval_on_selector(selector, "(el, prop) => getComputedStyle(el).getPropertyValue(prop)", prop)
    return value


def open_preview(
    browser: Browser, server: LiveServer, partner_id: str, *, bypass_csp: bool = False, query: str = ""
) -> tuple[Page, list[str]]:
    """The preview page and the console errors and failed loads it causes (a CSP violation is a console
    error). ``bypass_csp`` only to inject axe-core, which the page's own policy (rightly) blocks."""
    context = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": 900}, bypass_csp=bypass_csp)
    page = context.new_page()
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", console)
    page.on(
        "response", lambda answer: problems.append(f"{answer.status}: {answer.url}") if answer.status >= 400 else None
    )
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    response = page.goto(f"{server.url}/portal/{partner_id}/theme-preview{query}", wait_until="networkidle")
    assert response is not None
    assert response.status == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    return page, problems


@pytest.mark.parametrize("primary", [PARTNER_BLUE, PARTNER_GOLD_TEXT])
def test_the_theme_colours_the_page_and_stays_readable(browser: Browser, server: LiveServer, primary: str) -> None:
    partner_id = themed_partner(server, primary)
    page, problems = open_preview(browser, server, partner_id)
    try:
        expected = Rgb.parse(primary)
        assert expected is not None
        assert rgb_of(computed(page, ".site-header", "background-color")) == expected
        assert rgb_of(computed(page, "#primary-button", "background-color")) == expected
        assert rgb_of(computed(page, "#sample-link", "color")) == expected
        assert rgb_of(computed(page, "#secondary-button", "color")) == expected
        header_text = rgb_of(computed(page, "#brand-name", "color"))
        assert contrast_ratio(header_text, expected) >= AA_NORMAL_TEXT
        button_text = rgb_of(computed(page, "#primary-button", "color"))
        assert contrast_ratio(button_text, expected) >= AA_NORMAL_TEXT
        assert computed(page, "body", "font-family").startswith('Seravek, "Gill Sans Nova"')
        assert page.inner_text("#brand-name") == "ACME Mutual"
        assert page.eval_on_selector(".brand-logo", "img => img.complete && img.naturalWidth") == 240
        name = f"theme-preview-{primary.lstrip('#').lower()}"
        for width in WIDTHS.values():
            page.set_viewport_size({"width": width, "height": 900})
            assert_no_horizontal_scroll(page)
        assert [path.name for path in screenshots(page, name)] == [f"{name}-{label}.png" for label in WIDTHS]
        assert problems == []  # no CSP violation, no failed load
    finally:
        page.context.close()
    checked, _ = open_preview(browser, server, partner_id, bypass_csp=True)
    try:
        assert_accessible(checked)
    finally:
        checked.context.close()


def test_without_a_theme_the_house_defaults_apply(browser: Browser, server: LiveServer) -> None:
    partner_id = themed_partner(server, None)
    page, problems = open_preview(browser, server, partner_id)
    try:
        assert rgb_of(computed(page, ".site-header", "background-color")) == Rgb(0x1D, 0x4E, 0xD8)  # pages.css
        assert page.locator(".brand-logo").count() == 0
        assert page.inner_text("#no-theme").startswith("No theme is set")
        assert problems == []
    finally:
        page.context.close()
    checked, _ = open_preview(browser, server, partner_id, bypass_csp=True)
    try:
        assert_accessible(checked)
    finally:
        checked.context.close()


def test_a_candidate_colour_is_previewed_before_it_is_applied(browser: Browser, server: LiveServer) -> None:
    """A refused colour shows the refusal and its suggestion; following it previews the suggestion on the
    page (header in that colour) while the partner's theme, in the log, stays as it was."""
    partner_id = themed_partner(server, PARTNER_BLUE)
    page, problems = open_preview(browser, server, partner_id, query="?primary=%23FFCC00")
    try:
        assert "would be refused" in page.inner_text("#refused")
        assert rgb_of(computed(page, ".site-header", "background-color")) == Rgb.parse(PARTNER_BLUE)
        page.click("#suggestion")
        page.wait_for_selector("#candidate")
        page.wait_for_load_state("load")  # the candidate's stylesheet applied (the element can come before it)
        suggested = Rgb.parse(page.inner_text("#primary-value"))
        assert suggested is not None
        assert contrast_ratio(suggested, Rgb(255, 255, 255)) >= AA_NORMAL_TEXT
        assert rgb_of(computed(page, ".site-header", "background-color")) == suggested
        assert rgb_of(computed(page, "#primary-button", "background-color")) == suggested
        page.fill("#primary-input", "#7A1F1F")
        page.click("#try-button")
        page.wait_for_url("**primary=%237A1F1F")
        assert rgb_of(computed(page, "#sample-link", "color")) == Rgb(0x7A, 0x1F, 0x1F)
        assert problems == []
    finally:
        page.context.close()
    with open_ledger(StorageConfig(server.data_dir, server.database_url)) as ledger:
        current = ledger.themes.current(partner_id)
    assert current is not None
    assert current.primary == PARTNER_BLUE.lower()  # previewing applied nothing
