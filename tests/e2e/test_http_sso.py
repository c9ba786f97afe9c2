"""Single sign-on foundation end to end, on both backends: the ``sso_token`` recipe of docs/sso.md, browser
sessions (cookies, CSRF, rotation with reuse detection, logout everywhere), the operations API for
identity providers, and deprovisioning (sessions revoked, sign-in refused)."""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from support.browser import Browser
from support.certificates import self_signed
from support.http_server import LiveServer, servers

from api.client.ledger_client import LedgerApiError, LedgerClient
from api.security.credentials import PartnerCredentials

DOC = Path(__file__).parents[2] / "docs" / "sso.md"
AUDIENCE = "https://fairunderwriting.com/portal"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from servers(request, tmp_path_factory, request.param, {"LEDGER_SSO_BASE_URL": "https://sso.test"})


def new_partner(server: LiveServer) -> PartnerCredentials:
    return server.create_partner(f"p_{uuid.uuid4().hex[:10]}")


def token_for(credentials: PartnerCredentials, user: str, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": credentials.partner_id,
        "aud": AUDIENCE,
        "sub": user,
        "kind": "staff",
        "role": "user",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(24),
    }
    headers = {"typ": "sso+jwt", "kid": credentials.api_key}
    headers.update(overrides.pop("headers", {}))
    key = overrides.pop("key", credentials.api_secret)
    algorithm = overrides.pop("algorithm", "HS256")
    if algorithm == "HS512" and isinstance(key, str):
        key = key * 2  # long enough for HS512; the server refuses the algorithm before any key
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=algorithm, headers=headers)


def reason_of(page: str) -> str:
    found = re.search(r'<code id="reason">([a-z_]+)</code>', page)
    assert found is not None, page
    return found.group(1)


def test_the_documented_sso_token_recipe_runs(server: LiveServer, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/sso.md's python blocks, run in order with a real partner's credentials, open a session once."""
    credentials = new_partner(server)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {
        "PARTNER_ID": credentials.partner_id,
        "API_KEY": credentials.api_key,
        "API_SECRET": credentials.api_secret,
        "LEDGER_URL": server.url,
    }
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert capsys.readouterr().out.strip() == f"member {credentials.partner_id}"


def test_session_cookies_csrf_rotation_and_reuse(server: LiveServer) -> None:
    """The exchange sets __Host- cookies; state changes need the CSRF header; a reused refresh token
    revokes the family; logout everywhere ends every session of the account."""
    credentials = new_partner(server)
    browser = Browser(server.url)
    other = Browser(server.url)
    try:
        opened = browser.post("/sso/token", json={"sso_token": token_for(credentials, "emp-1")})
        assert opened.status_code == 200, opened.text
        assert opened.json()["role"] == "user"
        assert opened.json()["user_kind"] == "staff"
        for name in ("__Host-ledger_access", "__Host-ledger_refresh", "__Host-ledger_csrf"):
            attributes = browser.last_set[name].attributes
            assert attributes["secure"]
            assert attributes["path"] == "/"
            assert attributes["samesite"].lower() == "lax"
            assert bool(attributes.get("httponly")) is (name != "__Host-ledger_csrf")
        assert browser.get("/sso/session").json()["partner_id"] == credentials.partner_id
        assert other.post("/sso/token", json={"sso_token": token_for(credentials, "emp-1")}).status_code == 200

        refused = browser.post("/sso/logout")  # no X-CSRF-Token
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "SSO_CSRF_REFUSED"
        assert browser.post("/sso/session/refresh").json()["error"]["code"] == "SSO_CSRF_REFUSED"

        stolen = dict(browser.cookies)
        assert browser.post("/sso/session/refresh", csrf=True).status_code == 200
        assert browser.cookies["__Host-ledger_refresh"] != stolen["__Host-ledger_refresh"]
        assert browser.get("/sso/session").status_code == 200
        thief = Browser(server.url, cookies=stolen)
        replay = thief.post("/sso/session/refresh", csrf=True)
        assert replay.status_code == 401
        assert replay.json()["error"]["code"] == "SSO_REFRESH_REUSED"
        gone = browser.get("/sso/session")
        assert gone.status_code == 401
        assert gone.json()["error"]["code"] == "SSO_SESSION_INVALID"

        everywhere = other.post("/sso/logout/everywhere", csrf=True)
        assert everywhere.status_code == 200
        assert everywhere.json()["sessions_revoked"] == 1
        assert other.last_set["__Host-ledger_access"].attributes["max-age"] == "0"
        assert other.get("/sso/session").status_code == 401
        thief.close()
    finally:
        browser.close()
        other.close()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "https://elsewhere.example"}, "audience_mismatch"),
        ({"iat": int(time.time()) - 900, "exp": int(time.time()) - 600}, "expired"),
        ({"exp": int(time.time()) + 3600}, "token_invalid"),  # lives longer than 300 s
        ({"key": "not-the-api-secret-" * 2}, "token_invalid"),
        ({"algorithm": "HS512"}, "algorithm_refused"),
        ({"headers": {"typ": "JWT"}}, "token_invalid"),
        ({"jti": "short"}, "token_invalid"),
        ({"kind": "admin"}, "token_invalid"),
        ({"role": "superuser"}, "role_invalid"),
    ],
)
def test_sso_token_refusals(server: LiveServer, overrides: dict[str, Any], reason: str) -> None:
    """Each forged or unfit token gets the failure page with its reason code, and no cookie."""
    credentials = new_partner(server)
    browser = Browser(server.url)
    try:
        answer = browser.post("/sso/token", json={"sso_token": token_for(credentials, "emp-1", **overrides)})
        assert answer.status_code == 403
        assert answer.headers["content-type"].startswith("text/html")
        assert reason_of(answer.text) == reason
        assert "Traceback" not in answer.text
        assert not browser.cookies
    finally:
        browser.close()


def test_alg_none_is_refused(server: LiveServer) -> None:
    """An unsigned token (alg none) never opens a session."""
    credentials = new_partner(server)
    unsigned = token_for(credentials, "emp-1", key=None, algorithm="none")
    browser = Browser(server.url)
    try:
        answer = browser.post("/sso/token", json={"sso_token": unsigned})
    finally:
        browser.close()
    assert answer.status_code == 403
    assert reason_of(answer.text) == "algorithm_refused"


def operator_client(server: LiveServer) -> LedgerClient:
    return server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))


def test_operations_api_configures_providers(server: LiveServer) -> None:
    """Operations staff add SAML and OIDC providers; answers carry the SP endpoints, never the secret;
    a partner without the operations scope is refused."""
    credentials = new_partner(server)
    partner = credentials.partner_id
    ops = operator_client(server)
    _, certificate = self_signed("idp.example")
    saml = {
        "user_kind": "staff",
        "default_role": "user",
        "entity_id": "https://partner.okta.example",
        "sso_url": "https://partner.okta.example/app/sso/saml",
        "certificates": [certificate],
    }
    answer = ops.send(
        "PUT", f"/api/v1/operations/sso/{partner}/saml/okta", body=json.dumps(saml).encode(), headers=JSON
    ).json()
    provider = answer["providers"][0]
    assert answer["positions"]
    assert provider["kind"] == "saml"
    assert provider["sp"]["acs_url"] == f"https://sso.test/sso/saml/{partner}/okta/acs"
    secret = "oidc-client-secret-" + uuid.uuid4().hex
    oidc = {
        "user_kind": "member",
        "issuer": "https://partner.auth0.example/",
        "client_id": "ledger",
        "redirect_uri": "https://sso.test/sso/oidc/callback",
        "client_secret": secret,
    }
    listed = ops.send(
        "PUT", f"/api/v1/operations/sso/{partner}/oidc/auth0", body=json.dumps(oidc).encode(), headers=JSON
    )
    assert secret not in listed.text
    shown = ops.send("GET", f"/api/v1/operations/sso/{partner}").json()
    assert {p["provider_id"]: p["client_secret_set"] for p in shown["providers"]} == {"auth0": True, "okta": False}
    with pytest.raises(LedgerApiError) as refused:
        server.client(credentials).send("GET", f"/api/v1/operations/sso/{partner}")
    assert refused.value.status == 403
    removed = ops.send("DELETE", f"/api/v1/operations/sso/{partner}/auth0").json()
    assert [p["provider_id"] for p in removed["providers"]] == ["okta"]
    with pytest.raises(LedgerApiError) as missing:
        ops.send("DELETE", f"/api/v1/operations/sso/{partner}/auth0")
    assert missing.value.code == "IDENTITY_PROVIDER_NOT_FOUND"


JSON = {"Content-Type": "application/json"}


def test_deactivation_revokes_sessions_and_refuses_sign_in(server: LiveServer) -> None:
    """Operations deactivate a user: live sessions end, the next sign-in is refused, reactivation restores it."""
    credentials = new_partner(server)
    partner = credentials.partner_id
    ops = operator_client(server)
    browser = Browser(server.url)
    try:
        assert browser.post("/sso/token", json={"sso_token": token_for(credentials, "emp-7")}).status_code == 200
        body = json.dumps({"reason": "left the company"}).encode()
        answer = ops.send(
            "POST", f"/api/v1/operations/sso/{partner}/accounts/staff/emp-7/deactivate", body=body, headers=JSON
        ).json()
        assert answer["active"] is False
        assert answer["sessions_revoked"] == 1
        assert answer["positions"]
        assert browser.get("/sso/session").status_code == 401
        refused = browser.post("/sso/token", json={"sso_token": token_for(credentials, "emp-7")})
        assert refused.status_code == 403
        assert reason_of(refused.text) == "account_deactivated"
        ops.send("POST", f"/api/v1/operations/sso/{partner}/accounts/staff/emp-7/reactivate")
        assert browser.post("/sso/token", json={"sso_token": token_for(credentials, "emp-7")}).status_code == 200
    finally:
        browser.close()
