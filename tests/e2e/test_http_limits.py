"""Rate limits, idempotency, the error envelope and version headers over real HTTP, on both backends."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from support.http_server import LIMITED_PARTNER, MAX_BODY, LiveServer, claim_body, servers

from api.client.ledger_client import LedgerApiError, LedgerClient

CLAIMS = "/api/v1/claims"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per backend for this module."""
    yield from servers(request, tmp_path_factory, request.param)


def partner(server: LiveServer, partner_id: str | None = None, **options: object) -> LedgerClient:
    credentials = server.create_partner(partner_id or f"l_{uuid.uuid4().hex[:10]}")
    return server.client(credentials, **{"max_retries": 0, **options})


def signed_post(client: LedgerClient, body: bytes, key: str | None = None) -> httpx.Response:
    headers = {**client.signed_headers("POST", CLAIMS, "", body), "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.http.post(CLAIMS, content=body, headers=headers)


def error_of(response: httpx.Response) -> dict[str, object]:
    error: dict[str, object] = response.json()["error"]
    assert set(error) == {"code", "message", "details", "requestId", "documentation"}
    assert error["requestId"] == response.headers["X-Request-ID"]
    origin = f"{response.url.scheme}://{response.url.netloc.decode()}"
    assert error["documentation"] == f"{origin}/docs/errors#{error['code']}"  # served by the server itself
    return error


def test_rate_limit_refuses_with_429_then_recovers(server: LiveServer) -> None:
    """A burst of 3 passes with falling Remaining; the 4th is 429 with Retry-After; after it, calls pass."""
    limited = _limited_client(server)  # the server settings give this partner a tight policy
    remaining = []
    for _ in range(3):
        limited.public_key()
        assert limited.last_response is not None
        remaining.append(int(limited.last_response.headers["X-RateLimit-Remaining"]))
        assert limited.last_response.headers["RateLimit-Policy"].startswith('"minute";q=60;w=60, "burst";q=3;w=1')
    assert remaining == sorted(remaining, reverse=True)
    with pytest.raises(LedgerApiError) as refused:
        limited.public_key()
    assert (refused.value.status, refused.value.code) == (429, "RATE_LIMIT_EXCEEDED")
    retry_after = int(refused.value.headers["retry-after"])
    assert retry_after >= 1
    assert refused.value.details["retry_after"] == retry_after
    assert "x-ratelimit-reset" in refused.value.headers
    time.sleep(retry_after)
    assert limited.public_key()
    patient = _limited_client(server, max_retries=5)  # the SDK waits out 429s by itself
    for _ in range(2):
        assert patient.public_key()


_LIMITED: dict[str, object] = {}


def _limited_client(server: LiveServer, **options: object) -> LedgerClient:
    credentials = _LIMITED[server.url]
    return server.client(credentials, **{"max_retries": 0, **options})  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _limited_partner(server: LiveServer) -> None:
    """The ``limited`` partner (tight policy in the server settings), created once per server."""
    if server.url not in _LIMITED:
        _LIMITED[server.url] = server.create_partner(LIMITED_PARTNER)


def test_every_response_carries_rate_limit_headers(server: LiveServer) -> None:
    """Success, domain errors, auth failures and the token endpoint all carry both header families."""
    client = partner(server)
    client.public_key()
    responses = [client.last_response]
    with pytest.raises(LedgerApiError):
        client.get_claim(str(uuid.uuid4()))
    responses.append(client.last_response)
    responses.append(httpx.get(f"{server.url}/api/v1/audit/checkpoint"))
    responses.append(httpx.post(f"{server.url}/oauth/token", data={"grant_type": "client_credentials"}))
    for response in responses:
        assert response is not None
        for name in (
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
            "RateLimit-Policy",
            "RateLimit",
        ):
            assert name in response.headers, (response.status_code, name)


def test_idempotency_key_replays_and_refuses_reuse(server: LiveServer) -> None:
    """Same key and body: the stored response again (Idempotent-Replayed); same key, other body: 422."""
    client = partner(server)
    key = str(uuid.uuid4())
    body = json.dumps(claim_body("CLM-I1")).encode()
    first = signed_post(client, body, key)
    assert first.status_code == 201
    again = signed_post(client, body, key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    other = signed_post(client, json.dumps(claim_body("CLM-I2")).encode(), key)
    assert other.status_code == 422
    assert error_of(other)["code"] == "IDEMPOTENCY_KEY_REUSED"
    bad = signed_post(client, body, "x" * 300)
    assert (bad.status_code, error_of(bad)["code"]) == (400, "IDEMPOTENCY_KEY_INVALID")
    assert len(client.audit_logs(limit=100, type="claim.submitted").data) == 1


def test_a_refused_request_leaves_its_idempotency_key_free(server: LiveServer) -> None:
    """The key is claimed with the rate limit (one Redis round trip), but a request the content check
    refuses (415) leaves it free at once: the same key then runs its request."""
    client = partner(server)
    key = str(uuid.uuid4())
    body = json.dumps(claim_body("CLM-I3")).encode()
    headers = {**client.signed_headers("POST", CLAIMS, "", body), "Content-Type": "text/plain", "Idempotency-Key": key}
    refused = client.http.post(CLAIMS, content=body, headers=headers)
    assert (refused.status_code, error_of(refused)["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    accepted = signed_post(client, body, key)
    assert accepted.status_code == 201
    assert "Idempotent-Replayed" not in accepted.headers


def test_in_flight_duplicate_is_409_and_a_late_seal_is_202(server: LiveServer) -> None:
    """With the sealer paused, a claim waits and answers 202 (no proof); its twin meanwhile gets 409."""
    if server.sealer is None:
        pytest.skip("needs the separate sealer process (PostgreSQL topology) to pause sealing")
    client = partner(server)
    body = json.dumps(claim_body("CLM-F1")).encode()
    key = str(uuid.uuid4())
    results: list[httpx.Response] = []
    server.sealer.send_signal(signal.SIGSTOP)
    try:
        slow = threading.Thread(target=lambda: results.append(signed_post(client, body, key)))
        slow.start()
        time.sleep(0.5)
        twin = signed_post(client, body, key)
        assert twin.status_code == 409
        assert error_of(twin)["code"] == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
        assert twin.headers["Retry-After"] == "1"
        slow.join(timeout=30)
    finally:
        server.sealer.send_signal(signal.SIGCONT)
    assert results[0].status_code == 202
    assert results[0].json()["proof"] is None
    claim_id = results[0].json()["claimId"]
    deadline = time.monotonic() + 10
    codes: list[str] = []
    while time.monotonic() < deadline:
        try:
            assert client.get_claim_proof(claim_id).proof is not None
            break
        except LedgerApiError as error:  # 409 NOT_SEALED until the sealer catches up
            codes.append(error.code)
            time.sleep(0.1)
    else:
        pytest.fail("the claim was never sealed")
    assert set(codes) <= {"NOT_SEALED"}


def test_errors_use_the_envelope_for_every_failure(server: LiveServer) -> None:
    """404, 405, malformed JSON, oversize, invalid and unknown fields: one envelope, the right codes."""
    client = partner(server)
    missing = httpx.get(f"{server.url}/api/v1/nothing-here")
    assert (missing.status_code, error_of(missing)["code"]) == (404, "NOT_FOUND")
    method = httpx.delete(f"{server.url}/health")
    assert (method.status_code, error_of(method)["code"]) == (405, "METHOD_NOT_ALLOWED")
    assert "GET" in method.headers["Allow"]
    malformed = signed_post(client, b'{"partnerClaimId": ')
    assert (malformed.status_code, error_of(malformed)["code"]) == (400, "MALFORMED_JSON")
    oversize = signed_post(client, b" " * (MAX_BODY + 1))
    assert (oversize.status_code, error_of(oversize)["code"]) == (413, "PAYLOAD_TOO_LARGE")
    invalid = signed_post(client, json.dumps({**claim_body("CLM-E1"), "claimType": "boat"}).encode())
    assert (invalid.status_code, error_of(invalid)["code"]) == (400, "VALIDATION_ERROR")
    assert invalid.json()["error"]["details"]["fields"][0]["field"] == "claimType"
    unknown = signed_post(client, json.dumps({**claim_body("CLM-E2"), "surprise": 1}).encode())
    assert (unknown.status_code, error_of(unknown)["code"]) == (400, "VALIDATION_ERROR")
    domain = signed_post(client, json.dumps({**claim_body("CLM-E3"), "submittedAt": "yesterday"}).encode())
    assert error_of(domain)["details"] == {"field": "submittedAt", "value": "yesterday", "source": "body"}
    given = str(uuid.uuid4())
    echoed = httpx.get(f"{server.url}/api/v1/nothing-here", headers={"X-Request-ID": given})
    assert error_of(echoed)["requestId"] == given
    assert "Traceback" not in echoed.text


def test_version_lifecycle_headers_and_retired_version(server: LiveServer) -> None:
    """v1 carries Deprecation/Sunset/Link (it is marked deprecated in the test settings); v0 is 410."""
    client = partner(server)
    client.public_key()
    response = client.last_response
    assert response is not None
    assert response.headers["Deprecation"] == "@1767225600"
    assert response.headers["Sunset"] == "Wed, 01 Jan 2031 00:00:00 GMT"
    assert 'rel="deprecation"' in response.headers["Link"]
    retired = httpx.get(f"{server.url}/api/v0/claims")
    assert retired.status_code == 410
    error = error_of(retired)
    assert error["code"] == "API_VERSION_RETIRED"
    assert error["details"] == {"version": "v0", "migration": "https://docs.proveniq.example/ledger/v1-migration"}
    assert 'rel="successor-version"' in retired.headers["Link"]


def test_logs_are_json_lines_carrying_the_request_id(server: LiveServer) -> None:
    """Every request leaves one structured access-log line with its request id, route and status."""
    client = partner(server)
    given = str(uuid.uuid4())
    httpx.get(f"{server.url}/api/v1/nothing-here", headers={"X-Request-ID": given})
    client.public_key()
    time.sleep(0.2)
    lines = [line for line in server.log_lines() if line.get("logger") == "api.access"]
    mine = [line for line in lines if line.get("request_id") == given]
    assert len(mine) == 1
    assert (mine[0]["status"], mine[0]["route"]) == (404, "unmatched")
    assert any(line.get("route") == "/api/v1/audit/public-key" and line.get("partner_id") for line in lines)
