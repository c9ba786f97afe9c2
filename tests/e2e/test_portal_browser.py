"""The member portal in a real browser (issue 17 items 1, 2 and 6; docs/portal.md).

Chromium (the OS's, through Playwright) against a real server on ``127.0.0.1``; the partner's benefits
page is served by a tiny HTTP server on its own loopback port and opened as ``http://localhost:<port>``,
so partner and portal are different sites (the session cookies are ``SameSite=None``). The partner page
embeds the portal by iframe (the seed's ``sandbox``) and by ``widget.js``; a member signs in with an
``sso_token`` and with the in-process OpenID provider, enrolls, and sees the status change after an
operations step; the portal's ``postMessage`` resizes the frame; a page on an unregistered origin gets
no portal (CSP ``frame-ancestors``). Every portal page passes axe-core (no serious or critical
violation) and is screenshotted at 360, 768 and 1280 px. Privacy: the individual result is in no
response the browser receives except the member's own result page.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support.http_server import LiveServer, live_server
from support.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, TestUser, running_provider
from support.pages import assert_accessible, assert_no_horizontal_scroll, chromium, require_chromium, screenshots
from support.portal import SAMESITE_NONE, PortalPartner, member_token, ops_json, portal_partner

require_chromium()

from playwright.sync_api import Browser, Frame, Page, Response  # noqa: E402  # after the skip: only with a browser

JSON = {"Content-Type": "application/json"}
HEADING = "Your genetic testing benefit"
RESULT_TEXT = "MZ: one Z variant (a carrier)"
SANDBOX = "allow-scripts allow-same-origin allow-forms"


class PartnerSite:
    """A partner's web server on loopback: ``pages[path]`` is the HTML it serves at ``path``."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def partner_site() -> Iterator[PartnerSite]:
    site = PartnerSite()
    yield site
    site.close()


@pytest.fixture(scope="module")
def stranger_site() -> Iterator[PartnerSite]:
    site = PartnerSite()
    yield site
    site.close()


@pytest.fixture(scope="module")
def member_user() -> TestUser:
    return TestUser(
        sub="idp|member-1",
        password="member-password-" + uuid.uuid4().hex[:8],
        email="zebulon@member.example",
        given_name="Zebulon",
        family_name="Quixoteworth",
        partner_user_id="placeholder",
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {**SAMESITE_NONE, "LEDGER_SSO_ALLOW_HTTP_PROVIDERS": "1"}
    with live_server(tmp_path_factory.mktemp("portal-browser") / "data", extra_env=env) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def iframe_page(app: str, partner: PortalPartner, token: str) -> str:
    """The seed's §5.2 snippet, plus the parent-side listener that checks ``event.origin``."""
    return f"""<!doctype html><html lang="en"><head><title>Partner benefits</title>
<style>h1 {{ color: rgb(200, 0, 0); font-family: serif; }}</style></head><body>
<h1>Your Genetic Testing Benefit</h1>
<iframe id="portal" title="Genetic testing benefit" src="{app}/embed/{partner.partner_id}?sso_token={token}"
  width="100%" height="800" frameborder="0" sandbox="{SANDBOX}"
  onload="window.frameLoads = (window.frameLoads || 0) + 1"></iframe>
<script>
window.portalEvents = [];
window.addEventListener("message", function (event) {{
  if (event.origin !== "{app}" || !event.data) return;
  window.portalEvents.push(event.data.type);
  if (event.data.type === "fairunderwriting:resize") {{
    document.getElementById("portal").height = String(event.data.height);
  }}
}});
</script></body></html>"""


def widget_page(app: str, partner: PortalPartner, token: str) -> str:
    """The seed's §5.3 snippet, listening to the widget's events."""
    return f"""<!doctype html><html lang="en"><head><title>Partner benefits (widget)</title>
<style>h1, p, button {{ color: rgb(200, 0, 0); font-family: serif; }}</style></head><body>
<h1>Your Genetic Testing Benefit</h1>
<div id="fairunderwriting-widget"></div>
<script src="{app}/widget.js"></script>
<script>
window.widgetEvents = [];
var container = document.getElementById("fairunderwriting-widget");
["ready", "enrolled", "subscribed", "cancelled", "error"].forEach(function (name) {{
  container.addEventListener("fairunderwriting:" + name, function () {{ window.widgetEvents.push(name); }});
}});
FairUnderwriting.init({{
  partnerId: "{partner.partner_id}",
  container: "#fairunderwriting-widget",
  ssoToken: "{token}",
  theme: {{ primaryColor: "#003DA5" }}
}}).catch(function () {{}});
</script></body></html>"""


def portal_frame(page: Page) -> Frame:
    """The frame showing the portal (polls until it has loaded it; a widget's frame is in a shadow root,
    out of ``window.frames``)."""
    for _ in range(300):
        for frame in page.frames:
            if "/portal" in frame.url:
                frame.wait_for_selector("h1")
                return frame
        page.wait_for_timeout(100)
    raise AssertionError(f"no portal frame in {[f.url for f in page.frames]}")


def record_bodies(page: Page) -> list[tuple[str, str]]:
    """(url, text) of every response the page and its frames receive."""
    seen: list[tuple[str, str]] = []

    def keep(response: Response) -> None:
        try:
            seen.append((response.url, response.text()))
        except Exception as unreadable:  # redirects and aborted loads have no body to read
            seen.append((response.url, f"<no body: {type(unreadable).__name__}>"))

    page.on("response", keep)
    return seen


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def ops_step(server: LiveServer, partner: PortalPartner, step: str, body: dict[str, str]) -> None:
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    path = f"/api/v1/operations/enrollments/{partner.partner_id}/{partner.member_ids[0]}"
    ops.send("POST", path + step, body=ops_json(body), headers=JSON)


def test_iframe_embed_enroll_status_resize_and_privacy(
    server: LiveServer, browser: Browser, partner_site: PartnerSite
) -> None:
    partner = portal_partner(server, [partner_site.origin])
    partner_site.pages["/benefits"] = iframe_page(
        server.url, partner, member_token(partner.credentials, partner.member_ids[0])
    )
    page = browser.new_page()
    bodies = record_bodies(page)
    page.goto(f"{partner_site.origin}/benefits")
    frame = portal_frame(page)
    assert frame.inner_text("h1") == HEADING
    page.wait_for_function("() => document.getElementById('portal').height !== '800'")
    frame.check("#consent")
    frame.click("button:has-text('Enroll')")
    frame.wait_for_selector("#portal-notice")
    page.wait_for_function("() => window.portalEvents.includes('fairunderwriting:enrolled')")
    assert frame.is_visible("li[data-stage='enrolled'].done")
    ops_step(server, partner, "/kit", {"kit_order_date": today()})
    frame.goto(f"{server.url}/portal")
    frame.wait_for_selector("li[data-stage='kit_ordered'].done")
    ops_step(server, partner, "/sample", {"sample_received_date": today(), "estimated_result_date": today()})
    ops_step(server, partner, "/result", {"result_delivery_date": today(), "result_type": "MZ"})
    frame.goto(f"{server.url}/portal")
    frame.wait_for_selector("#result-link")
    assert not any(RESULT_TEXT in text for _, text in bodies), "the result reached a page before the member asked"
    screenshots(page, "portal-in-partner-iframe")
    frame.click("#result-link")
    frame.wait_for_selector("#result")
    assert frame.inner_text("#result") == RESULT_TEXT
    carrying = {url.split("?")[0] for url, text in bodies if "one Z variant" in text}
    assert carrying == {f"{server.url}/portal/result"}
    partner_origin_bodies = [text for url, text in bodies if url.startswith(partner_site.origin)]
    assert partner_origin_bodies
    assert not any("Z variant" in text or "carrier" in text for text in partner_origin_bodies)
    page.close()


def test_widget_mounts_in_a_shadow_root_emits_events_and_takes_the_theme(
    server: LiveServer, browser: Browser, partner_site: PartnerSite
) -> None:
    partner = portal_partner(server, [partner_site.origin])
    partner_site.pages["/widget"] = widget_page(
        server.url, partner, member_token(partner.credentials, partner.member_ids[0])
    )
    page = browser.new_page()
    page.goto(f"{partner_site.origin}/widget")
    page.wait_for_function("() => window.widgetEvents.includes('ready')", timeout=15_000)
    assert page.evaluate("() => document.getElementById('fairunderwriting-widget').shadowRoot !== null")
    frame = portal_frame(page)
    frame.wait_for_function(
        "() => getComputedStyle(document.documentElement).getPropertyValue('--pq-primary').trim() === '#003DA5'"
    )
    assert frame.evaluate("() => getComputedStyle(document.querySelector('h1')).color") != "rgb(200, 0, 0)"
    frame.check("#consent")
    frame.click("button:has-text('Enroll')")
    page.wait_for_function("() => window.widgetEvents.includes('enrolled')")
    frame.click("button:has-text('Start monitoring')")
    page.wait_for_function("() => window.widgetEvents.includes('subscribed')")
    screenshots(page, "portal-in-partner-widget")
    assert page.evaluate("() => getComputedStyle(document.querySelector('h1')).color") == "rgb(200, 0, 0)"
    page.close()


def test_a_page_on_an_unregistered_origin_cannot_frame_the_portal(
    server: LiveServer, browser: Browser, partner_site: PartnerSite, stranger_site: PartnerSite
) -> None:
    partner = portal_partner(server, [partner_site.origin])
    stranger_site.pages["/steal"] = iframe_page(
        server.url, partner, member_token(partner.credentials, partner.member_ids[0])
    )
    stranger_site.pages["/widget"] = widget_page(
        server.url, partner, member_token(partner.credentials, partner.member_ids[0])
    )
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    page.goto(f"{stranger_site.origin}/steal")
    page.wait_for_function("() => window.frameLoads > 0", timeout=15_000)  # fires for a blocked frame too
    rendered = [frame for frame in page.frames if frame is not page.main_frame and HEADING in (frame.content() or "")]
    assert rendered == []
    assert any("frame-ancestors" in text for text in errors), errors
    assert page.evaluate("() => window.portalEvents") == []
    page.goto(f"{stranger_site.origin}/widget")
    page.wait_for_function("() => window.widgetEvents.includes('error')", timeout=15_000)
    page.close()


def test_every_portal_page_is_accessible_and_responsive(server: LiveServer, browser: Browser) -> None:
    partner = portal_partner(server, [])
    context = browser.new_context(bypass_csp=True)  # axe-core is injected inline; the pages allow no inline script
    page = context.new_page()
    page.goto(f"{server.url}/portal")
    assert_accessible(page)
    screenshots(page, "portal-signed-out")
    page.goto(
        f"{server.url}/embed/{partner.partner_id}?sso_token={member_token(partner.credentials, partner.member_ids[0])}"
    )
    page.wait_for_selector("#consent")
    for name in ("portal-eligible", "portal-enrolled", "portal-result"):
        if name == "portal-enrolled":
            page.keyboard.press("Tab")  # keyboard only: skip link, then the consent box, then the button
            assert page.evaluate("() => document.activeElement.className") == "skip-link"
            page.keyboard.press("Tab")
            assert page.evaluate("() => document.activeElement.id") == "consent"
            page.keyboard.press("Space")
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")
            page.wait_for_selector("#portal-notice")
            ops_step(server, partner, "/kit", {"kit_order_date": today()})
            page.goto(f"{server.url}/portal")
        if name == "portal-result":
            ops_step(server, partner, "/sample", {"sample_received_date": today(), "estimated_result_date": today()})
            ops_step(server, partner, "/result", {"result_delivery_date": today(), "result_type": "MZ"})
            page.goto(f"{server.url}/portal/result")
        assert_accessible(page)
        for width in (360, 768, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            assert_no_horizontal_scroll(page)
        screenshots(page, name)
    context.close()


def test_refusals_and_other_states_are_accessible(server: LiveServer, browser: Browser) -> None:
    """A refused action (alert), a member the partner never sent, a staff session: accessible pages."""
    partner = portal_partner(server, [])
    cases = {
        "portal-refused": member_token(partner.credentials, partner.member_ids[0]),
        "portal-no-record": member_token(partner.credentials, "M-never-sent"),
        "portal-staff": member_token(partner.credentials, "EMP-1", kind="staff"),
    }
    for name, token in cases.items():
        context = browser.new_context(bypass_csp=True)  # for axe-core (injected inline)
        page = context.new_page()
        page.goto(f"{server.url}/embed/{partner.partner_id}?sso_token={token}")
        if name == "portal-refused":
            page.evaluate("() => document.getElementById('consent').removeAttribute('required')")
            page.click("button:has-text('Enroll')")  # without consent: refused with an alert
            assert page.inner_text("[role=alert]") == "Please tick the consent box to enroll."
        else:
            page.wait_for_selector("h1")
        assert_accessible(page)
        screenshots(page, name)
        context.close()


@pytest.fixture(scope="module")
def provider(member_user: TestUser) -> Iterator[OidcProvider]:
    with running_provider([member_user], []) as running:
        yield running


def test_a_member_signs_in_with_the_partners_identity_provider(
    server: LiveServer, browser: Browser, provider: OidcProvider, member_user: TestUser
) -> None:
    partner = portal_partner(server, [])
    provider.update_user(member_user.sub, partner_user_id=partner.member_ids[0])
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    redirect = f"{server.url}/sso/oidc/{partner.partner_id}/idp/callback"
    provider.redirect_uris.append(redirect)
    body = {
        "user_kind": "member",
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": redirect,
        "claims": {"partner_id": "partner_user_id"},
    }
    ops.send(
        "PUT", f"/api/v1/operations/sso/{partner.partner_id}/oidc/idp", body=json.dumps(body).encode(), headers=JSON
    )
    context = browser.new_context(bypass_csp=True)  # for axe-core (injected inline)
    page = context.new_page()
    page.goto(f"{server.url}/sso/oidc/{partner.partner_id}/idp/login?return_to=/portal")
    page.fill("input[name=username]", member_user.email)
    page.fill("input[name=password]", member_user.password)
    page.click("button")
    page.wait_for_selector("#consent")
    assert page.url == f"{server.url}/portal"
    assert page.inner_text("h1") == HEADING
    assert_accessible(page)
    context.close()


def test_the_partner_theme_reaches_the_embedded_portal(
    server: LiveServer, browser: Browser, partner_site: PartnerSite
) -> None:
    """A theme set through the operations API (docs/portal.md, Theming) styles the portal in the partner's frame."""
    partner = portal_partner(server, [partner_site.origin])
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    theme = {"primary": "#7A1F1F", "displayName": "Quixote Mutual", "font": "humanist"}
    ops.send("PUT", f"/api/v1/operations/partners/{partner.partner_id}/theme", body=ops_json(theme), headers=JSON)
    partner_site.pages["/themed"] = iframe_page(
        server.url, partner, member_token(partner.credentials, partner.member_ids[0])
    )
    page = browser.new_page()
    page.goto(f"{partner_site.origin}/themed")
    frame = portal_frame(page)
    frame.wait_for_function(
        "() => getComputedStyle(document.querySelector('.site-header')).backgroundColor === 'rgb(122, 31, 31)'"
    )
    assert "Quixote Mutual" in frame.inner_text(".site-header")
    screenshots(page, "portal-themed")
    page.close()
