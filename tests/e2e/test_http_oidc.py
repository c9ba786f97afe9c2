"""OpenID Connect sign-in end to end: a real server process, a real provider on loopback (authlib's server),
a browser that follows the redirects by hand. JIT creation, attribute update, logout, a deprovisioned user
refused (by roster), and every failure refused with its page, its reason code and a metric."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from support.browser import Browser
from support.certificates import expiring_in
from support.http_server import LiveServer, servers
from support.oidc_provider import CLIENT_ID, CLIENT_SECRET, Fault, OidcProvider, TestUser, directory_users
from support.oidc_provider import running_provider as provider_running
from support.webhook_receiver import Received, webhook_receiver

from adapters.files.master_key import load_master_key
from adapters.oidc.token_vault import RefreshTokenVault
from adapters.storage import StorageConfig, open_oidc_tokens
from api.client.ledger_client import LedgerClient
from api.security.credentials import DEFAULT_SCOPES, PartnerCredentials

JSON = {"Content-Type": "application/json"}
PENDING = "__Host-ledger_oidc_login"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with provider_running(directory_users(8), []) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "LEDGER_SSO_ALLOW_HTTP_PROVIDERS": "1",
        "LEDGER_SSO_OIDC_TIMEOUT_SECONDS": "1.0",
        "LEDGER_SSO_CERTIFICATE_CHECK_SECONDS": "1",
    }
    yield from servers(request, tmp_path_factory, request.param, env)


@pytest.fixture(autouse=True)
def _well_behaved(provider: OidcProvider) -> Iterator[None]:
    provider.fault = Fault.NONE
    yield
    provider.fault = Fault.NONE


@dataclass
class Partner:
    credentials: PartnerCredentials
    ops: LedgerClient

    @property
    def id(self) -> str:
        return self.credentials.partner_id


def configured(server: LiveServer, provider: OidcProvider) -> Partner:
    """A new partner whose staff sign in with ``provider`` (provider id ``okta``)."""
    credentials = server.create_partner(f"p_{uuid.uuid4().hex[:10]}")
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    redirect = f"{server.url}/sso/oidc/{credentials.partner_id}/okta/callback"
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
    path = f"/api/v1/operations/sso/{credentials.partner_id}/oidc/okta"
    answer = ops.send("PUT", path, body=json.dumps(body).encode(), headers=JSON)
    assert CLIENT_SECRET not in answer.text
    return Partner(credentials, ops)


def start(browser: Browser, partner: Partner, return_to: str = "/portal/home") -> httpx.Response:
    query = urllib.parse.urlencode({"return_to": return_to})
    return browser.get(f"/sso/oidc/{partner.id}/okta/login?{query}")


def at_provider(authorization_url: str, user: TestUser) -> str:
    """The user signs in at the provider's form; the provider's redirect back (our callback URL)."""
    answer = httpx.post(authorization_url, data={"username": user.email, "password": user.password}, timeout=10)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


def callback_path(location: str) -> str:
    parts = urllib.parse.urlsplit(location)
    return f"{parts.path}?{parts.query}"


def sign_in(server: LiveServer, partner: Partner, user: TestUser) -> tuple[Browser, httpx.Response]:
    browser = Browser(server.url)
    started = start(browser, partner)
    assert started.status_code == 302, started.text
    return browser, browser.get(callback_path(at_provider(started.headers["location"], user)))


def reason_of(page: str) -> str:
    found = re.search(r'<code id="reason">([a-z_]+)</code>', page)
    assert found is not None, page
    return found.group(1)


def failures(server: LiveServer, reason: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    pattern = rf'ledger_sso_logins_total\{{outcome="failure",protocol="oidc",reason="{reason}"\}} ([0-9.e+]+)'
    found = re.search(pattern, text)
    return 0.0 if found is None else float(found.group(1))


def test_login_provisions_updates_and_logs_out(server: LiveServer, provider: OidcProvider) -> None:
    """First sign-in creates the account (JIT), lands where it started with session cookies; a later
    sign-in after the IdP changed the role updates it; logout ends the session."""
    partner = configured(server, provider)
    user = next(iter(provider.users.values()))
    provider.update_user(user.sub, role="user")
    browser, landed = sign_in(server, partner, provider.users[user.sub])
    try:
        assert landed.status_code == 303, landed.text
        assert landed.headers["location"] == "/portal/home"
        assert browser.last_set[PENDING].attributes["max-age"] == "0"
        session = browser.get("/sso/session").json()
        assert session["partner_id"] == partner.id
        assert session["role"] == "user"
        assert session["provider_id"] == "okta"
        first_account = session["account_id"]
        issued = [t.refresh_token for t in provider.tokens.values() if t.user_sub == user.sub and t.refresh_token]
        store = open_oidc_tokens(StorageConfig(server.data_dir, server.database_url))
        try:
            sealed = store.get(first_account, "okta")
            assert sealed is not None
            assert not any(token.encode() in sealed for token in issued)
            vault = RefreshTokenVault(load_master_key(server.data_dir), store)
            assert vault.load(first_account, "okta") in issued
        finally:
            store.close()
        logout = browser.post(f"/sso/oidc/{partner.id}/okta/logout", csrf=True)
        assert logout.status_code == 200, logout.text
        assert logout.json()["sessions_revoked"] == 1
        idp_logout = logout.json()["idp_logout_url"]
        assert idp_logout.startswith(f"{provider.issuer}/logout?client_id={CLIENT_ID}")
        assert httpx.get(idp_logout, timeout=10).status_code == 200
        assert CLIENT_ID in provider.logouts
        assert browser.get("/sso/session").status_code == 401
    finally:
        browser.close()

    provider.update_user(user.sub, role="admin", family_name="Renamed")
    again, landed = sign_in(server, partner, provider.users[user.sub])
    try:
        assert landed.status_code == 303
        session = again.get("/sso/session").json()
        assert session["account_id"] == first_account
        assert session["role"] == "admin"
    finally:
        again.close()


def test_five_to_ten_users_each_get_their_own_account(server: LiveServer, provider: OidcProvider) -> None:
    """Every directory user (8, seed 001 section 7.1) signs in and gets a distinct account."""
    partner = configured(server, provider)
    accounts = set()
    for user in provider.users.values():
        browser, landed = sign_in(server, partner, user)
        try:
            assert landed.status_code == 303, landed.text
            accounts.add(browser.get("/sso/session").json()["account_id"])
        finally:
            browser.close()
    assert len(accounts) == len(provider.users)


def test_roster_sync_deprovisions_and_the_user_is_refused(server: LiveServer, provider: OidcProvider) -> None:
    """A roster without a user deactivates their account and ends their session; their next sign-in is
    refused with ``account_deactivated``; the listed user still signs in."""
    partner = configured(server, provider)
    kept, removed = list(provider.users.values())[:2]
    for user in (kept, removed):
        browser, landed = sign_in(server, partner, user)
        assert landed.status_code == 303
        browser.close()
    leaving, _ = sign_in(server, partner, removed)
    roster = f"staff_id,email\n{kept.partner_user_id},x@y\n".encode()
    answer = partner.ops.send(
        "POST",
        f"/api/v1/operations/sso/{partner.id}/roster",
        params={"file": f"users_{partner.id}_20261206.csv"},
        body=roster,
        headers={"Content-Type": "text/csv"},
    ).json()
    assert len(answer["deactivated"]) == 1
    assert answer["kept"] == 1
    assert answer["sessions_revoked"] >= 2
    assert leaving.get("/sso/session").status_code == 401
    leaving.close()
    before = failures(server, "account_deactivated")
    browser, refused = sign_in(server, partner, removed)
    browser.close()
    assert refused.status_code == 403
    assert reason_of(refused.text) == "account_deactivated"
    assert failures(server, "account_deactivated") == before + 1
    browser, landed = sign_in(server, partner, kept)
    browser.close()
    assert landed.status_code == 303


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault.ALG_NONE, "algorithm_refused"),
        (Fault.ALG_HMAC, "algorithm_refused"),
        (Fault.WRONG_ISSUER, "issuer_mismatch"),
        (Fault.WRONG_AUDIENCE, "audience_mismatch"),
        (Fault.EXPIRED, "expired"),
        (Fault.UNKNOWN_KEY, "signature_invalid"),
        (Fault.WRONG_NONCE, "nonce_mismatch"),
    ],
)
def test_bad_id_tokens_are_refused_with_a_page_and_a_metric(
    server: LiveServer, provider: OidcProvider, fault: Fault, reason: str
) -> None:
    """Each misbehaving provider gets the failure page with its reason code, no session, and a count."""
    partner = configured(server, provider)
    provider.fault = fault
    before = failures(server, reason)
    browser, refused = sign_in(server, partner, next(iter(provider.users.values())))
    try:
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        assert reason_of(refused.text) == reason
        assert "Traceback" not in refused.text
        assert "__Host-ledger_access" not in browser.cookies
    finally:
        browser.close()
    assert failures(server, reason) == before + 1


def test_tampered_state_is_refused(server: LiveServer, provider: OidcProvider) -> None:
    """A callback whose state was altered, or which arrives in a browser that did not start the login, or
    which is replayed, is refused."""
    partner = configured(server, provider)
    user = next(iter(provider.users.values()))
    browser = Browser(server.url)
    try:
        location = at_provider(start(browser, partner).headers["location"], user)
        tampered = location.replace("state=", "state=x")
        refused = browser.get(callback_path(tampered))
        assert reason_of(refused.text) == "state_mismatch"
        stranger = Browser(server.url)
        assert reason_of(stranger.get(callback_path(location)).text) == "state_mismatch"
        stranger.close()
        replay = Browser(server.url)
        location = at_provider(start(replay, partner).headers["location"], user)
        cookie = dict(replay.cookies)
        assert replay.get(callback_path(location)).status_code == 303
        thief = Browser(server.url, cookies=cookie)
        assert reason_of(thief.get(callback_path(location)).text) == "replayed"
        thief.close()
        replay.close()
    finally:
        browser.close()


def test_an_idp_that_does_not_answer_gets_the_timeout_page(server: LiveServer, provider: OidcProvider) -> None:
    """The provider stalls at its token endpoint: after the 1 s timeout the person sees ``idp_unavailable``."""
    partner = configured(server, provider)
    browser = Browser(server.url)
    try:
        location = at_provider(start(browser, partner).headers["location"], next(iter(provider.users.values())))
        provider.fault = Fault.STALL
        refused = browser.get(callback_path(location))
        assert refused.status_code == 503
        assert reason_of(refused.text) == "idp_unavailable"
    finally:
        browser.close()


def test_status_counts_successes_and_failures(server: LiveServer, provider: OidcProvider) -> None:
    """``ledger sso status --json`` shows the provider with its last failure reason and success rate."""
    partner = configured(server, provider)
    user = next(iter(provider.users.values()))
    browser, landed = sign_in(server, partner, user)
    browser.close()
    assert landed.status_code == 303
    provider.fault = Fault.WRONG_NONCE
    browser, _ = sign_in(server, partner, user)
    browser.close()
    result = subprocess.run(
        [sys.executable, "-m", "api", "sso", "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
        env=server.env,
    )
    assert result.returncode == 0, result.stderr
    rows = {r["partnerId"]: r for r in json.loads(result.stdout)["providers"]}
    row = rows[partner.id]
    assert row["protocol"] == "oidc"
    assert (row["successes"], row["failures"]) == (1, 1)
    assert row["successRate"] == 0.5
    assert row["lastFailureReason"] == "nonce_mismatch"


def ledger_cli(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", *args], capture_output=True, text=True, check=False, env=server.env
    )


def test_cli_sync_deprovisions_one_pass(server: LiveServer, provider: OidcProvider, tmp_path: Path) -> None:
    """``ledger sso sync PARTNER users_<partner>_<date>.csv`` deactivates who the roster omits."""
    partner = configured(server, provider)
    kept, removed = list(provider.users.values())[2:4]
    for user in (kept, removed):
        browser, landed = sign_in(server, partner, user)
        browser.close()
        assert landed.status_code == 303
    roster = tmp_path / f"users_{partner.id}_20261206.csv"
    roster.write_text(f"staff_id\n{kept.partner_user_id}\n")
    result = ledger_cli(server, "sso", "sync", partner.id, str(roster))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (len(report["deactivated"]), report["kept"]) == (1, 1)
    browser, refused = sign_in(server, partner, removed)
    browser.close()
    assert reason_of(refused.text) == "account_deactivated"


def test_an_expiring_idp_certificate_alerts_the_partner(server: LiveServer) -> None:
    """A SAML IdP certificate 10 days from expiry: one ``audit.alert`` webhook to the partner and the
    ``ledger_sso_certificate_state`` gauge at 1, within a few watch intervals (1 s in this server)."""
    credentials = server.create_partner(f"p_{uuid.uuid4().hex[:10]}", scopes=(*DEFAULT_SCOPES, "webhooks:manage"))
    client = server.client(credentials)
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))

    def alert(received: list[Received]) -> bool:
        return any(json.loads(r.body)["type"] == "audit.alert" for r in received)

    with webhook_receiver() as receiver:
        client.create_webhook_endpoint(receiver.url, ["audit.alert"])
        saml = {
            "user_kind": "staff",
            "entity_id": "https://idp.partner.example",
            "sso_url": "https://idp.partner.example/sso",
            "certificates": [expiring_in("idp.partner.example", datetime.now(UTC), 10)],
        }
        path = f"/api/v1/operations/sso/{credentials.partner_id}/saml/adfs"
        ops.send("PUT", path, body=json.dumps(saml).encode(), headers=JSON)
        got = receiver.wait_for(alert, timeout=60)
    payload = next(json.loads(r.body) for r in got if json.loads(r.body)["type"] == "audit.alert")
    assert payload["data"]["alert"] == "sso_certificate_expiring"
    assert payload["data"]["certificate"] == "idp"
    assert payload["data"]["days_left"] in (9, 10)
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    gauge = f'ledger_sso_certificate_state{{certificate="idp",partner="{credentials.partner_id}",provider="adfs"}} 1.0'
    assert gauge in metrics
