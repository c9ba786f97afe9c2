"""The partner console in a real browser (issue 17 item 4): Chromium signs staff in through the in-process
OpenID Connect provider and SAML IdP, on a real server subprocess with real members, claims and webhook
deliveries.

An admin sees the dashboard's charts (with the API's suppression), resends a delivery and rotates the API
key (the new key then works); a read-only user sees no button and a forged POST is refused; another
partner's staff cannot open this console; every console page passes axe-core (no serious or critical
violation) and is screenshot at 360/768/1280 px; no page or response holds a member's personal data
or individual result.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from support.http_server import LiveServer, claim_body, live_server
from support.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, TestUser, running_provider
from support.pages import assert_accessible, assert_no_horizontal_scroll, chromium, require_chromium, screenshots
from support.saml_idp import IdpUser, InProcessIdp
from support.webhook_receiver import Receiver, webhook_receiver

from api.client.ledger_client import LedgerClient
from api.security.credentials import DEFAULT_SCOPES, PartnerCredentials

require_chromium()

from playwright.sync_api import Browser, BrowserContext, Page, Response  # noqa: E402  # after the skip

SCOPES = (
    *DEFAULT_SCOPES,
    "webhooks:manage",
    "eligibility:read",
    "eligibility:write",
    "enrollments:read",
    "outcomes:read",
)
MEMBERS = 12
MEMBER_PREFIX = "mbrq7"
PERSONAL = ["Zebulon", "Quixoteworth", "1979-11-23", "quixoteworth.example", f"{MEMBER_PREFIX}-"]
RESULTS = ['"MZ"', '"ZZ"', '"MM"', "result_type", '"doctor_visit"']


def staff(number: int, role: str) -> TestUser:
    return TestUser(
        sub=f"okta|{9000 + number}",
        password=f"pw-{number}-{uuid.uuid4().hex[:8]}",
        email=f"staff{number}@partner.example",
        given_name=f"Given{number}",
        family_name=f"Family{number}",
        partner_user_id=f"EMP{number:04d}",
        role=role,
    )


ADMIN, USER, READ_ONLY, OTHER_ADMIN = staff(1, "admin"), staff(2, "user"), staff(3, "read-only"), staff(4, "admin")
SAML_USER = IdpUser("saml.staffer@partner.example", "E-7001", "Ulrike", "Samlson", "user")
STAFF_PERSONAL = [
    value for user in (ADMIN, USER, READ_ONLY, OTHER_ADMIN) for value in (user.email, user.given_name, user.family_name)
] + [SAML_USER.email, SAML_USER.first_name, SAML_USER.last_name]


def person(pmid: str) -> dict[str, Any]:
    return {
        "partner_member_id": pmid,
        "email": f"zebulon.{pmid}@quixoteworth.example",
        "first_name": "Zebulon",
        "last_name": "Quixoteworth",
        "date_of_birth": "1979-11-23",
        "state": "IA",
        "policy_type": "Life",
        "gender": "O",
    }


@dataclass
class Partner:
    credentials: PartnerCredentials
    client: LedgerClient

    @property
    def id(self) -> str:
        return self.credentials.partner_id


@dataclass
class World:
    server: LiveServer
    provider: OidcProvider
    partner: Partner
    other: Partner
    receiver: Receiver
    endpoint_id: str
    claim_id: str
    browser: Browser
    seen: list[tuple[str, bytes]] = field(default_factory=list)
    """Every response body the browser received from the server (url, body)."""


def configure_sso(server: LiveServer, provider: OidcProvider, partner_id: str) -> None:
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    redirect = f"{server.url}/sso/oidc/{partner_id}/okta/callback"
    provider.redirect_uris.append(redirect)
    body = {
        "user_kind": "staff",
        "issuer": provider.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": redirect,
        "claims": {"partner_id": "partner_user_id"},
        "default_role": "read-only",
    }
    path = f"/api/v1/operations/sso/{partner_id}/oidc/okta"
    ops.send("PUT", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


def populate(server: LiveServer, partner: Partner) -> None:
    """Twelve members through to a result in January 2026 (11 MZ, 1 ZZ: the ZZ count is a small cell)."""
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    for index in range(MEMBERS):
        pmid = f"{MEMBER_PREFIX}-{index}"
        partner.client.upsert_member(person(pmid))
        ops.record_enrollment(partner.id, pmid, "2026-01-10")
        ops.record_kit_order(partner.id, pmid, "2026-01-11")
        ops.record_sample(partner.id, pmid, "2026-01-15", "2026-01-20")
        ops.record_result(partner.id, pmid, "2026-01-20", "MZ" if index else "ZZ")
        ops.record_nps(partner.id, pmid, 10 if index % 4 else 3, "overall")
        ops.record_action(partner.id, pmid, "doctor_visit")


def wait_for_deliveries(client: LedgerClient, endpoint_id: str) -> None:
    """Until the endpoint has a delivery and none is pending (the dispatcher runs in the server)."""
    while True:
        page = client.list_webhook_deliveries(endpoint_id).data
        if page and all(d.status != "pending" for d in page):
            return
        time.sleep(0.05)


def free_port() -> int:
    """A loopback port free now (the server binds it next: SAML needs its own URL before it starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def configure_saml(server: LiveServer, idp: InProcessIdp, partner_id: str) -> None:
    """A second staff provider, SAML (``corp-saml``), trusting our SP metadata."""
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    body = json.dumps({"user_kind": "staff", "default_role": "read-only", **idp.settings()}).encode()
    path = f"/api/v1/operations/sso/{partner_id}/saml/corp-saml"
    ops.send("PUT", path, body=body, headers={"Content-Type": "application/json"})
    metadata = httpx.get(f"{server.url}/sso/saml/{partner_id}/corp-saml/metadata", timeout=30)
    metadata.raise_for_status()
    idp.trust_sp(metadata.text)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    port = free_port()
    env = {
        "LEDGER_SSO_ALLOW_HTTP_PROVIDERS": "1",
        "LEDGER_WEBHOOK_RETRY_SCALE": "0.001",
        "LEDGER_SSO_BASE_URL": f"http://127.0.0.1:{port}",
    }
    root = tmp_path_factory.mktemp("console")
    idp = InProcessIdp(root / "idp", name="corp")
    idp.add_user(SAML_USER)
    with (
        running_provider([ADMIN, USER, READ_ONLY, OTHER_ADMIN], []) as provider,
        live_server(root / "data", args=["--port", str(port)], extra_env=env) as server,
        webhook_receiver() as receiver,
        chromium() as browser,
    ):
        partners = []
        for name in ("acme", "rival"):
            credentials = server.create_partner(f"{name}_{uuid.uuid4().hex[:8]}", scopes=SCOPES)
            partners.append(Partner(credentials, server.client(credentials)))
            configure_sso(server, provider, credentials.partner_id)
        partner, other = partners
        configure_saml(server, idp, partner.id)
        endpoint = partner.client.create_webhook_endpoint(receiver.url, ["claim.verified", "proof.generated"])
        document = partner.client.upload_document(
            b"photo " + uuid.uuid4().bytes, document_type="photo", media_type="image/jpeg"
        )
        submitted = partner.client.submit_claim(
            claim_body("CLM-CONSOLE-1", [{"type": "photo", "hash": document.hash, "metadata": {}}])
        )
        populate(server, partner)
        wait_for_deliveries(partner.client, endpoint.endpoint.endpoint_id)
        idp.current_user = SAML_USER.email
        try:
            yield World(
                server,
                provider,
                partner,
                other,
                receiver,
                endpoint.endpoint.endpoint_id,
                str(submitted.claim_id),
                browser,
            )
        finally:
            idp.close()


def recording_context(world: World) -> BrowserContext:
    """A fresh browser profile that keeps every response body from the server in ``world.seen``."""
    context = world.browser.new_context(viewport={"width": 1280, "height": 900})

    def keep(response: Response) -> None:
        if not response.url.startswith(world.server.url) or 300 <= response.status < 400:
            return
        try:
            world.seen.append((response.url, response.body()))
        except Exception as error:
            world.seen.append((response.url, f"<unreadable: {error}>".encode()))

    context.on("response", keep)
    return context


def sign_in(world: World, context: BrowserContext, partner_id: str, user: TestUser) -> Page:
    """Open the console, follow its OpenID Connect sign-in link to the provider's form, sign in, land on the
    dashboard."""
    page = context.new_page()
    page.goto(f"{world.server.url}/console/{partner_id}/")
    assert "/sign-in" in page.url
    page.get_by_role("link", name="Sign in with okta").click()
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", user.password)
    with page.expect_navigation():
        page.click("button")
    page.wait_for_load_state()
    assert urllib.parse.urlsplit(page.url).path.rstrip("/") == f"/console/{partner_id}", page.url
    return page


def console_url(world: World, path: str = "") -> str:
    return f"{world.server.url}/console/{world.partner.id}/{path}"


def check_page(page: Page, name: str) -> None:
    """axe-core clean, no sideways scroll at any width, screenshots at 360/768/1280 px."""
    assert_accessible(page)
    for width in (360, 768, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert_no_horizontal_scroll(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshots(page, f"console-{name}")


def test_admin_sees_charts_resends_and_rotates(world: World) -> None:
    context = recording_context(world)
    try:
        page = sign_in(world, context, world.partner.id, ADMIN)
        assert page.inner_text("#console-role") == "admin"
        month = datetime.now(UTC).date().isoformat()[:7]
        page.goto(console_url(world, f"?start=2026-01&end={month}"))
        charts = page.locator("figure.chart svg[role=img]")
        assert charts.count() == 6
        for index in range(charts.count()):  # every chart names itself and describes itself
            labelled = charts.nth(index).get_attribute("aria-labelledby") or ""
            assert all(page.locator(f"#{part}").count() == 1 for part in labelled.split())
        funnel = page.locator("#chart-funnel table")
        assert funnel.locator("tr[data-metric=eligible_members] td").inner_text() == f"{MEMBERS}"
        assert funnel.locator("tr[data-metric=mz_detected] td").inner_text() == "11"
        api = world.partner.client.get_outcomes("2026-01-01", f"{month}-{last_day(month)}")
        assert "zz_detected" in api.suppressed
        zz = page.locator("#chart-detection tr[data-metric=zz_detected] td").inner_text()
        assert zz == "suppressed"  # as the API says: never a number
        assert page.locator("#chart-detection g.suppressed[data-metric=zz_detected]").count() == 1
        nps = page.locator("#chart-nps tr[data-metric=nps_overall] td").inner_text()
        assert nps == f"{api.metrics.nps_overall:+d}"
        check_page(page, "dashboard")

        page.goto(console_url(world, "webhooks"))
        first = page.locator(f"#endpoint-{world.endpoint_id} tr[data-delivery]").first
        delivery_id = first.get_attribute("data-delivery")
        before = len(world.receiver.received)
        first.get_by_role("button", name=f"Resend delivery {delivery_id}").click()
        page.wait_for_selector("#resent")
        resent = page.url.split("resent=")[1].split("#")[0]
        assert resent != delivery_id
        assert f"as delivery {resent}" in page.inner_text("#resent")
        assert page.locator(f"#endpoint-{world.endpoint_id} tr[data-delivery='{resent}']").count() == 1
        world.receiver.wait_for(lambda received: len(received) > before)
        check_page(page, "webhooks")

        page.goto(console_url(world, "claims"))
        claim = page.locator(f"section.claim[data-claim='{world.claim_id}']")
        assert "verified" in claim.locator(".decision").inner_text()
        proof = json.loads(claim.locator("textarea").input_value())
        assert proof["format"]
        assert proof["checkpoint"]
        assert proof["leafIndex"] >= 0
        assert page.get_by_role("link", name="auditor console").first.get_attribute("href") == "/auditor"
        check_page(page, "claims")

        page.goto(console_url(world, "feeds"))
        assert page.locator("#feeds tr[data-feed]").count() == 3
        check_page(page, "feeds")

        page.goto(console_url(world, "credentials"))
        old_key = world.partner.credentials.api_key
        assert page.locator(f"#keys tr[data-key='{old_key}']").count() == 1
        page.get_by_role("button", name="Rotate the API key").click()
        page.wait_for_selector("#new-api-secret")
        new_key, new_secret = page.inner_text("#new-api-key"), page.inner_text("#new-api-secret")
        assert new_key != old_key
        check_page(page, "credentials")
        rotated = PartnerCredentials(
            world.partner.id,
            world.partner.credentials.client_id,
            world.partner.credentials.client_secret,
            new_key,
            new_secret,
            world.partner.credentials.tier,
            world.partner.credentials.scopes,
        )
        assert world.server.client(rotated).get_claim(world.claim_id).claim_id == world.claim_id
        page.goto(console_url(world, "credentials"))  # shown once: not on the next visit
        assert new_secret not in page.content()
        assert page.locator(f"#keys tr[data-key='{new_key}']").count() == 1
    finally:
        context.close()


def last_day(month: str) -> str:
    import calendar

    year, number = (int(part) for part in month.split("-"))
    return f"{calendar.monthrange(year, number)[1]:02d}"


def test_read_only_sees_no_button_and_a_forged_post_is_refused(world: World) -> None:
    context = recording_context(world)
    try:
        page = sign_in(world, context, world.partner.id, READ_ONLY)
        assert page.inner_text("#console-role") == "read-only"
        page.goto(console_url(world, "webhooks"))
        assert page.locator(f"#endpoint-{world.endpoint_id} tr[data-delivery]").count() >= 1
        assert page.locator("main").get_by_role("button").count() == 0
        page.goto(console_url(world, "credentials"))
        assert page.locator("#rotate-form").count() == 0
        assert page.locator("main").get_by_role("button").count() == 0
        csrf = next(c["value"] for c in context.cookies() if c["name"] == "__Host-ledger_csrf")
        delivery = world.partner.client.list_webhook_deliveries(world.endpoint_id).data[0].delivery_id
        before = world.partner.client.get_webhook_delivery(world.endpoint_id, delivery).delivery.attempts
        for path in (f"webhooks/{world.endpoint_id}/deliveries/{delivery}/resend", "credentials/rotate"):
            forged = page.request.post(console_url(world, path), form={"csrf_token": csrf}, max_redirects=0)
            assert forged.status == 403, forged.text()
            assert "may not do this" in forged.text()
        keys_after = page.request.get(console_url(world, "credentials")).text()
        assert keys_after.count("data-key=") == page.content().count("data-key=")
        assert world.partner.client.get_webhook_delivery(world.endpoint_id, delivery).delivery.attempts == before
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(".*/sign-in$"))
        page.goto(console_url(world, "credentials"))
        assert "/sign-in?return_to=" in page.url
    finally:
        context.close()


def test_user_resends_but_cannot_rotate_and_csrf_is_required(world: World) -> None:
    context = recording_context(world)
    try:
        page = sign_in(world, context, world.partner.id, USER)
        page.goto(console_url(world, "credentials"))
        assert page.locator("#rotate-form").count() == 0
        page.goto(console_url(world, "webhooks"))
        assert page.get_by_role("button", name=re.compile("Resend delivery")).count() >= 1
        delivery = page.locator(f"#endpoint-{world.endpoint_id} tr[data-delivery]").first.get_attribute("data-delivery")
        path = f"webhooks/{world.endpoint_id}/deliveries/{delivery}/resend"
        without = page.request.post(console_url(world, path), form={"csrf_token": "forged"}, max_redirects=0)
        assert without.status == 403
        assert "Reload the page" in without.text()
    finally:
        context.close()


def test_another_partners_staff_cannot_see_this_console(world: World) -> None:
    context = recording_context(world)
    try:
        page = sign_in(world, context, world.other.id, OTHER_ADMIN)
        for path in ("", "webhooks", "claims", "credentials"):
            answer = page.goto(console_url(world, path))
            assert answer is not None
            assert answer.status == 403
            assert "staff of its partner only" in page.inner_text("#refused-reason")
            assert world.partner.credentials.api_key not in page.content()
        check_page(page, "refused")
    finally:
        context.close()


def sso_token(credentials: PartnerCredentials, user: str, kind: str, role: str | None = None) -> str:
    """A partner backend's single-use token (docs/sso.md "sso_token")."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": credentials.partner_id,
        "aud": "https://fairunderwriting.com/portal",
        "sub": user,
        "kind": kind,
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(24),
    }
    if role is not None:
        claims["role"] = role
    return jwt.encode(
        claims, credentials.api_secret, algorithm="HS256", headers={"typ": "sso+jwt", "kid": credentials.api_key}
    )


def test_a_member_session_is_refused_and_embedded_staff_are_admitted(world: World) -> None:
    """A member of this very partner (signed in by the partner's sso_token) gets 403; staff signed in the
    same way get the console with their role."""
    for kind, role, expected in (("member", None, 403), ("staff", "user", 200)):
        context = world.browser.new_context()
        try:
            user = f"{MEMBER_PREFIX}-2" if kind == "member" else "EMP0777"
            token = sso_token(world.partner.credentials, user, kind, role)
            exchanged = context.request.post(f"{world.server.url}/sso/token", data={"sso_token": token})
            assert exchanged.status == 200, exchanged.text()
            page = context.new_page()
            answer = page.goto(console_url(world, "webhooks"))
            assert answer is not None
            assert answer.status == expected
            if kind == "member":
                assert "staff of its partner only" in page.inner_text("#refused-reason")
            else:
                assert page.inner_text("#console-role") == role
        finally:
            context.close()


def test_staff_sign_in_through_saml_lands_where_they_started(world: World) -> None:
    """The sign-in page's SAML link: our signed AuthnRequest, the IdP's form posted to our ACS, back to the
    page first asked for, with the IdP's role."""
    context = recording_context(world)
    try:
        page = context.new_page()
        page.goto(console_url(world, "feeds"))
        page.get_by_role("link", name="Sign in with corp-saml").click()
        page.wait_for_selector("form input[name=SAMLResponse]", state="attached")
        with page.expect_navigation():
            page.evaluate("() => document.forms[0].submit()")  # a real IdP page posts it by script
        page.wait_for_load_state()
        assert urllib.parse.urlsplit(page.url).path == f"/console/{world.partner.id}/feeds"
        assert page.inner_text("#console-role") == "user"
        assert page.locator("#feeds tr[data-feed]").count() == 3
    finally:
        context.close()


def test_sign_in_page_is_accessible(world: World) -> None:
    context = recording_context(world)
    try:
        page = context.new_page()
        page.goto(console_url(world, "claims"))
        assert urllib.parse.unquote(page.url).endswith(f"return_to=/console/{world.partner.id}/claims")
        check_page(page, "sign-in")
    finally:
        context.close()


def test_no_personal_data_or_individual_result_in_any_page_or_response(world: World) -> None:
    """An admin visits every console page; every body the browser received (pages, assets, redirects' targets,
    and what the other tests' browsers received before) is searched for the members' personal data, any
    individual result, and the staff's own names and emails; so is the server's log."""
    context = recording_context(world)
    try:
        page = sign_in(world, context, world.partner.id, ADMIN)
        for path in ("", "?start=2026-01&end=2026-01", "webhooks", "feeds", "claims", "credentials"):
            page.goto(console_url(world, path))
            assert page.locator("h1").count() == 1
    finally:
        context.close()
    assert {urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] for url, _ in world.seen} >= {
        "webhooks",
        "feeds",
        "claims",
        "credentials",
        "console.css",
        "pages.css",
    }
    for url, body in world.seen:
        text = body.decode("utf-8", errors="replace")
        for needle in PERSONAL + RESULTS + STAFF_PERSONAL:
            assert needle not in text, f"{needle!r} in {url}"
    log = world.server.log_path.read_text(encoding="utf-8", errors="replace")
    for needle in [*PERSONAL[:-1], *RESULTS, *STAFF_PERSONAL]:  # member ids are in the operations API's paths
        assert needle not in log, f"{needle!r} in the server log"
