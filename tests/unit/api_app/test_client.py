"""The SDK without a server (httpx MockTransport): signing, retries with Retry-After, token refresh, errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from api.client.ledger_client import LedgerApiError, LedgerClient
from api.client.signing import verify_signature

SECRET = "nW0x9Yk3JtQb5vR2LhS8fGdC1aZpUeXm7oIyTq4sK6E"


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": code.lower(), "details": {}, "requestId": "r", "documentation": ""}}
    return httpx.Response(status, json=body, headers=headers)


def make(api: Callable[[httpx.Request], httpx.Response], tokens: list[str] | None = None) -> LedgerClient:
    issued = tokens if tokens is not None else []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            issued.append(f"token-{len(issued)}")
            return httpx.Response(
                200, json={"access_token": issued[-1], "token_type": "Bearer", "expires_in": 3600, "scope": ""}
            )
        return api(request)

    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://ledger.test")
    return LedgerClient(
        "http://ledger.test", client_id="partner_a", client_secret="cs_x", api_key="pk_1", api_secret=SECRET, http=http
    )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record backoff sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)  # the SDK's retry backoff calls time.sleep
    return recorded


def test_every_request_carries_five_valid_headers() -> None:
    """The signature the SDK sends verifies with the server's check over the exact path, query and body."""
    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [], "has_more": False})

    with make(api) as client:
        client.audit_logs(limit=5, type="claim.submitted", since="2026-01-01T00:00:00Z")
    request = seen[0]
    headers = request.headers
    assert headers["Authorization"] == "Bearer token-0"
    assert headers["X-API-Key"] == "pk_1"
    query = request.url.query.decode()
    assert "since=2026-01-01T00%3A00%3A00Z" in query
    assert verify_signature(
        SECRET,
        headers["X-Signature"],
        "GET",
        request.url.path,
        query,
        headers["X-Timestamp"],
        headers["X-Request-ID"],
        request.content,
    )


def test_429_and_5xx_are_retried_with_retry_after_and_fresh_signatures(sleeps: list[float]) -> None:
    """Retries wait at least Retry-After, re-sign with a new request id, and keep the Idempotency-Key."""
    answers = [error(429, "RATE_LIMIT_EXCEEDED", {"Retry-After": "3"}), error(503, "SERVICE_UNAVAILABLE")]
    seen: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return (
            answers.pop(0)
            if answers
            else httpx.Response(
                201,
                json={
                    "verificationId": None,
                    "claimId": "c",
                    "status": "pending",
                    "proof": None,
                    "partnerClaimId": "C",
                },
            )
        )

    with make(api) as client:
        result = client.submit_claim({"partnerClaimId": "C"})
    assert result.claim_id == "c"
    assert len(seen) == 3
    assert sleeps[0] >= 3
    assert len({r.headers["X-Request-ID"] for r in seen}) == 3
    assert len({r.headers["Idempotency-Key"] for r in seen}) == 1


def test_retries_give_up_and_raise_the_envelope(sleeps: list[float]) -> None:
    """After max_retries the last error is raised with its code, status and request id."""
    with make(lambda request: error(500, "INTERNAL_ERROR")) as client:
        client.max_retries = 2
        with pytest.raises(LedgerApiError) as raised:
            client.get_claim("c")
    assert (raised.value.status, raised.value.code, raised.value.request_id) == (500, "INTERNAL_ERROR", "r")
    assert len(sleeps) == 2


def test_client_errors_are_not_retried(sleeps: list[float]) -> None:
    """A 404 is raised at once."""
    with make(lambda request: error(404, "CLAIM_NOT_FOUND")) as client, pytest.raises(LedgerApiError) as raised:
        client.get_claim("c")
    assert raised.value.code == "CLAIM_NOT_FOUND"
    assert sleeps == []


def test_an_expired_token_is_refreshed_once() -> None:
    """401 AUTH_INVALID_TOKEN fetches a new token and repeats the call with it."""
    tokens: list[str] = []
    used: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        used.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer token-0":
            return error(401, "AUTH_INVALID_TOKEN")
        return httpx.Response(200, text="vkey+abc\n")

    with make(api, tokens) as client:
        assert client.public_key() == "vkey+abc"
    assert used == ["Bearer token-0", "Bearer token-1"]


def test_uploads_send_raw_bytes_or_a_multipart_form() -> None:
    """Raw uploads put type and metadata in the query; multipart puts them in form fields with the file."""
    seen: list[httpx.Request] = []
    document = {
        "documentId": "d",
        "hash": "h",
        "type": "photo",
        "mediaType": "image/png",
        "sizeBytes": 3,
        "metadata": {},
        "created": True,
    }

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=document)

    with make(api) as client:
        client.upload_document(b"abc", document_type="photo", media_type="image/png", metadata={"k": "v"})
        client.upload_document(b"abc", document_type="photo", media_type="image/png", multipart=True)
    raw, form = seen
    assert raw.headers["Content-Type"] == "image/png"
    assert raw.content == b"abc"
    assert json.loads(dict(raw.url.params)["metadata"]) == {"k": "v"}
    assert form.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="type"\r\n\r\nphoto' in form.content
    assert b'name="file"; filename="document"\r\nContent-Type: image/png\r\n\r\nabc' in form.content


def test_error_text_carries_the_request_id() -> None:
    """str() of an error answer names the request id, so a log line or a ticket can quote it."""
    with make(lambda request: error(404, "CLAIM_NOT_FOUND")) as client, pytest.raises(LedgerApiError) as raised:
        client.get_claim("c")
    assert str(raised.value) == "404 CLAIM_NOT_FOUND: claim_not_found (request_id r)"
    assert LedgerApiError(502, "UNKNOWN", "bad gateway", {}, "", {}).args == ("502 UNKNOWN: bad gateway",)
