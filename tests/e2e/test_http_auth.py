"""Zero-trust authentication over real HTTP: the five headers, replay, skew, signatures, partners, scopes, OAuth."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support.http_server import MAX_BODY, LiveServer, claim_body, ledger_command, servers

from api.client.core import rfc3339
from api.client.ledger_client import LedgerApiError, LedgerClient

CLAIMS = "/api/v1/claims"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per backend for this module."""
    yield from servers(request, tmp_path_factory, request.param)


def partner(server: LiveServer, scopes: tuple[str, ...] | None = None) -> LedgerClient:
    pid = f"a_{uuid.uuid4().hex[:10]}"
    credentials = server.create_partner(pid) if scopes is None else server.create_partner(pid, scopes=scopes)
    return server.client(credentials, max_retries=0)


def raw(
    client: LedgerClient,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    override: Mapping[str, str] | None = None,
    drop: str | None = None,
    timestamp: str | None = None,
    request_id: str | None = None,
) -> httpx.Response:
    """A request signed by ``client``, then altered (a header overridden or dropped) before sending."""
    headers = client.signed_headers(method, path, "", body, timestamp=timestamp, request_id=request_id)
    headers = {**headers, "Content-Type": "application/json", **(override or {})}
    if drop is not None:
        headers.pop(drop)
    return client.http.request(method, path, content=body, headers=headers)


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Authorization", "AUTH_INVALID_TOKEN"),
        ("X-API-Key", "AUTH_KEY_MISMATCH"),
        ("X-Request-ID", "AUTH_INVALID_SIGNATURE"),
        ("X-Timestamp", "AUTH_INVALID_SIGNATURE"),
        ("X-Signature", "AUTH_INVALID_SIGNATURE"),
    ],
)
def test_each_of_the_five_headers_is_required(server: LiveServer, header: str, expected: str) -> None:
    """Leaving out any one of the five headers is a 401 with the code naming what is wrong."""
    client = partner(server)
    response = raw(client, "GET", "/api/v1/audit/checkpoint", drop=header)
    assert response.status_code == 401
    assert code(response) == expected
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "X-RateLimit-Limit" in response.headers  # charged to the client address
    assert "reason" not in response.json()["error"]["details"]


def test_a_tampered_request_fails_its_signature(server: LiveServer) -> None:
    """Changing the body, path or signature after signing is AUTH_INVALID_SIGNATURE; the original passes."""
    client = partner(server)
    body = b'{"a": 1}'
    signed = client.signed_headers("POST", CLAIMS, "", body)
    tampered = client.http.post(CLAIMS, content=b'{"a": 2}', headers=signed)
    assert (tampered.status_code, code(tampered)) == (401, "AUTH_INVALID_SIGNATURE")
    wrong = raw(client, "GET", "/api/v1/audit/checkpoint", override={"X-Signature": "0" * 64})
    assert (wrong.status_code, code(wrong)) == (401, "AUTH_INVALID_SIGNATURE")
    elsewhere = client.http.get("/api/v1/audit/public-key", headers=client.signed_headers("GET", "/x", "", b""))
    assert code(elsewhere) == "AUTH_INVALID_SIGNATURE"
    assert raw(client, "GET", "/api/v1/audit/public-key").status_code == 200


def test_clock_skew_beyond_300_seconds_is_refused(server: LiveServer) -> None:
    """X-Timestamp more than 300 s in the past or future is AUTH_REQUEST_EXPIRED; 250 s off passes."""
    client = partner(server)
    now = datetime.now(UTC)
    for offset in (-301, 301):
        response = raw(client, "GET", "/api/v1/audit/public-key", timestamp=rfc3339(now + timedelta(seconds=offset)))
        assert (response.status_code, code(response)) == (401, "AUTH_REQUEST_EXPIRED")
    late = raw(client, "GET", "/api/v1/audit/public-key", timestamp=rfc3339(now - timedelta(seconds=250)))
    assert late.status_code == 200
    skewed = LedgerClient(
        server.url,
        client_id=client.client_id,
        client_secret=client._client_secret,
        api_key=client.api_key,
        api_secret=client._api_secret,
        clock=lambda: datetime.now(UTC) + timedelta(minutes=10),
        max_retries=0,
    )
    with skewed, pytest.raises(LedgerApiError) as error:
        skewed.public_key()
    assert error.value.code == "AUTH_REQUEST_EXPIRED"


def test_a_replayed_request_is_refused(server: LiveServer) -> None:
    """Sending the same signed request twice: the second is AUTH_REPLAYED_REQUEST and nothing runs twice."""
    client = partner(server)
    request_id = str(uuid.uuid4())
    body = httpx.Request("POST", "/", json=claim_body("CLM-R1")).read()
    stamp = rfc3339(datetime.now(UTC))
    headers = {**client.signed_headers("POST", CLAIMS, "", body, timestamp=stamp, request_id=request_id)}
    headers["Content-Type"] = "application/json"
    first = client.http.post(CLAIMS, content=body, headers=headers)
    assert first.status_code == 201
    replay = client.http.post(CLAIMS, content=body, headers=headers)
    assert (replay.status_code, code(replay)) == (401, "AUTH_REPLAYED_REQUEST")
    assert len(client.audit_logs(limit=100, type="claim.submitted").data) == 1


def test_an_api_key_of_another_partner_is_refused(server: LiveServer) -> None:
    """A token of partner A with the API key (and secret) of partner B is AUTH_KEY_MISMATCH."""
    alice, bob = partner(server), partner(server)
    mixed = LedgerClient(
        server.url,
        client_id=alice.client_id,
        client_secret=alice._client_secret,
        api_key=bob.api_key,
        api_secret=bob._api_secret,
        max_retries=0,
    )
    with mixed, pytest.raises(LedgerApiError) as error:
        mixed.public_key()
    assert (error.value.status, error.value.code) == (401, "AUTH_KEY_MISMATCH")


def test_a_partner_never_sees_another_partners_data(server: LiveServer) -> None:
    """Claims, documents, entries and proofs of another partner are 404, exactly like missing ones."""
    alice, bob = partner(server), partner(server)
    document = alice.upload_document(b"alice only " + uuid.uuid4().bytes, document_type="photo", media_type="image/gif")
    claim = alice.submit_claim(claim_body("CLM-P1", [{"type": "photo", "hash": document.hash}]))
    assert claim.status == "verified"
    position = alice.audit_logs(limit=1).data[0].position
    attempts: list[tuple[Callable[[], object], str]] = [
        (lambda: bob.get_claim(claim.claim_id), "CLAIM_NOT_FOUND"),
        (lambda: bob.get_claim_proof(claim.claim_id), "CLAIM_NOT_FOUND"),
        (lambda: bob.claim_events(claim.claim_id), "CLAIM_NOT_FOUND"),
        (lambda: bob.verify_claim(claim.claim_id), "CLAIM_NOT_FOUND"),
        (lambda: bob.get_document(document.hash), "DOCUMENT_NOT_FOUND"),
        (lambda: bob.audit_proof(position), "ENTRY_NOT_FOUND"),
    ]
    for attempt, expected in attempts:
        with pytest.raises(LedgerApiError) as error:
            attempt()
        assert (error.value.status, error.value.code) == (404, expected)
    with pytest.raises(LedgerApiError) as unknown:
        bob.get_claim(str(uuid.uuid4()))
    assert unknown.value.message == "claim not found"
    assert {e.aggregate_id for e in bob.iter_audit_logs()}.isdisjoint({claim.claim_id})
    assert bob.audit_logs(aggregate=claim.claim_id).data == []
    same = bob.submit_claim(claim_body("CLM-P1"))  # the same reference is a different claim for bob
    assert same.claim_id != claim.claim_id


def test_scopes_limit_what_a_token_may_do(server: LiveServer) -> None:
    """A read-only partner gets 403 on writes; unknown scopes are refused; a narrower token is narrower."""
    reader = partner(server, scopes=("claims:read", "audit:read"))
    with pytest.raises(LedgerApiError) as denied:
        reader.submit_claim(claim_body("CLM-S1"))
    assert (denied.value.status, denied.value.code) == (403, "AUTH_INSUFFICIENT_SCOPE")
    assert denied.value.details == {"required": "claims:write"}
    with pytest.raises(LedgerApiError) as invalid:
        reader.fetch_token(scope="claims:write")
    assert (invalid.value.status, invalid.value.code) == (400, "INVALID_SCOPE")
    writer = partner(server)
    narrow = writer.fetch_token(scope="audit:read")
    assert narrow.scope == "audit:read"
    writer._token, writer._token_expires = narrow.access_token, time.monotonic() + 3000
    with pytest.raises(LedgerApiError) as narrowed:
        writer.submit_claim(claim_body("CLM-S2"))
    assert narrowed.value.code == "AUTH_INSUFFICIENT_SCOPE"
    assert writer.public_key()


def test_oauth_token_endpoint_follows_rfc6749(server: LiveServer) -> None:
    """Form or JSON bodies, Basic or body credentials; bad secrets and grants get the envelope's codes."""
    client = partner(server)
    secret = client._client_secret
    form = {"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": secret}
    by_form = httpx.post(f"{server.url}/oauth/token", data=form)
    assert by_form.status_code == 200
    assert by_form.headers["Cache-Control"] == "no-store"
    assert by_form.json()["token_type"] == "Bearer"
    assert "X-RateLimit-Remaining" in by_form.headers
    by_json = httpx.post(f"{server.url}/oauth/token", json=form)
    assert by_json.status_code == 200
    wrong = httpx.post(f"{server.url}/oauth/token", data={**form, "client_secret": secret + "x"})
    assert (wrong.status_code, code(wrong)) == (401, "AUTH_INVALID_CLIENT")
    assert wrong.json()["error"]["details"]["error"] == "invalid_client"
    basic = base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    both = httpx.post(f"{server.url}/oauth/token", data=form, headers={"Authorization": f"Basic {basic}"})
    assert (both.status_code, code(both)) == (400, "VALIDATION_ERROR")
    grant = httpx.post(f"{server.url}/oauth/token", data={**form, "grant_type": "password"})
    assert (grant.status_code, code(grant)) == (400, "UNSUPPORTED_GRANT_TYPE")


def test_a_token_signed_by_another_key_is_refused(server: LiveServer) -> None:
    """A well-formed at+jwt signed with a key not in the JWKS is AUTH_INVALID_TOKEN."""
    client = partner(server)
    kid = jwt.get_unverified_header(client.token())["kid"]
    now = int(time.time())
    claims = {
        "iss": "https://ledger.proveniq.local",
        "aud": "https://ledger.proveniq.local/api/v1",
        "sub": client.client_id.removeprefix("partner_"),
        "client_id": client.client_id,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "scope": "audit:read",
    }
    forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"typ": "at+jwt", "kid": kid})
    response = raw(client, "GET", "/api/v1/audit/public-key", override={"Authorization": f"Bearer {forged}"})
    assert (response.status_code, code(response)) == (401, "AUTH_INVALID_TOKEN")


def test_rotated_key_overlaps_and_revocation_takes_effect(server: LiveServer) -> None:
    """``ledger partners rotate-key``: old and new keys both work; once revoked, the old one is refused."""
    client = partner(server)
    pid = client.client_id.removeprefix("partner_")
    rotated = ledger_command("partners", "rotate-key", pid, env=server.env)
    assert rotated.returncode == 0, rotated.stderr
    new = json.loads(rotated.stdout)
    assert new["replacedKey"] == client.api_key
    assert new["apiKey"].startswith("pk_")
    assert client.public_key()  # the old key still works during the overlap
    fresh = LedgerClient(
        server.url,
        client_id=client.client_id,
        client_secret=client._client_secret,
        api_key=new["apiKey"],
        api_secret=new["apiSecret"],
        max_retries=0,
    )
    with fresh:
        assert fresh.public_key()
    revoked = ledger_command("partners", "revoke-key", pid, client.api_key, env=server.env)
    assert revoked.returncode == 0, revoked.stderr
    deadline = time.monotonic() + 5
    refused: LedgerApiError | None = None
    while refused is None and time.monotonic() < deadline:
        try:
            client.public_key()
            time.sleep(0.2)
        except LedgerApiError as error:
            refused = error
    assert refused is not None, "revocation never took effect"
    assert refused.code == "AUTH_KEY_MISMATCH"


def _answer_before_the_body(server: LiveServer, headers: Mapping[str, str]) -> tuple[int, str]:
    """POST headers declaring a body of 100 x the limit, send none of it, and read the answer (10 s timeout:
    a server waiting for the body would never answer)."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        lines = [f"POST {CLAIMS} HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {100 * MAX_BODY}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())["error"]["code"]


def test_the_body_is_read_only_after_the_headers_are_authenticated(server: LiveServer) -> None:
    """A request with bad credentials is refused from its headers alone: the 401 arrives before any of its
    (oversized) body is sent. With good credentials the declared size is refused at once (413), still unread."""
    client = partner(server)
    signed = {**client.signed_headers("POST", CLAIMS, "", b""), "Content-Type": "application/json"}
    assert _answer_before_the_body(server, {**signed, "Authorization": "Bearer x.y.z"}) == (401, "AUTH_INVALID_TOKEN")
    assert _answer_before_the_body(server, signed) == (413, "PAYLOAD_TOO_LARGE")
