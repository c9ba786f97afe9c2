"""The edge under attack (issue 18, items 1, 2, 5, 6 and 7), through HTTP against a real server.

Each test is a defect found by probing a live server: unauthenticated bodies, parser recursion,
integers past 64 bits, duplicate JSON names, look-alike identifiers, repeated credentials, and the
small promises of docs/http.md (415, 413 with its limit, rate-limit headers on every error, ...).
"""

from __future__ import annotations

import json
import select
import socket
import stat
import time
import unicodedata
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from support.http_server import LiveServer, claim_body, live_server

from api.client.ledger_client import LedgerClient
from ledger_core.shared.vocabulary import SCOPES

LARGE = 16_384
SERVER_ENV = {"LEDGER_LARGE_BODY_BYTES": str(LARGE), "LEDGER_MAX_LARGE_BODIES": "1"}
RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)
INT64_MAX = 2**63 - 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One embedded (SQLite) server; large bodies over 16 KiB stream one at a time."""
    with live_server(tmp_path_factory.mktemp("edge") / "data", extra_env=SERVER_ENV) as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> LedgerClient:
    """A partner holding every scope."""
    credentials = server.create_partner(f"edge_{uuid.uuid4().hex[:8]}", scopes=sorted(SCOPES))
    return server.client(credentials, max_retries=0)


def signed(
    client: LedgerClient,
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    content_type: str | None = "application/json",
    extra: list[tuple[str, str]] | None = None,
) -> httpx.Response:
    headers = list(client.signed_headers(method, path, query, body).items())
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    headers.extend(extra or [])
    return client.http.request(method, path + (f"?{query}" if query else ""), content=body, headers=headers)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The envelope's error, checked to be the seed's shape, with the rate-limit headers docs promise."""
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "details", "requestId", "documentation"}
    for name in RATE_LIMIT_HEADERS:
        assert name in response.headers, (response.status_code, error["code"], name)
    return error


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response (head and a ``Content-Length`` body) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65_536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65_536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def raw_exchange(url: str, head: bytes, body_prefix: bytes) -> bytes:
    """Send a request head and the start of its body on a plain socket; the response."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30) as sock:
        sock.sendall(head + body_prefix)
        return read_response(sock)


# -- 1. unauthenticated bodies -------------------------------------------------------------------
def test_unauthenticated_95_mib_upload_is_answered_401_before_its_body(server: LiveServer) -> None:
    """Headers declaring a 95 MiB upload and 64 KiB of it: the 401 comes without the rest being sent."""
    declared = 95 * 1_048_576
    head = (
        f"POST /api/v1/documents HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    answer = raw_exchange(server.url, head, b"%" * 65_536)
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 401"), answer[:300]
    assert b"AUTH_INVALID_TOKEN" in answer


def test_token_endpoint_caps_its_unauthenticated_body(server: LiveServer) -> None:
    """``/oauth/token`` reads at most 4 KiB from anyone: 413 with ``details.limit``, declared or streamed."""
    declared = httpx.post(
        f"{server.url}/oauth/token",
        content=b"grant_type=client_credentials&x=" + b"a" * 10_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert declared.status_code == 413
    assert error_of(declared)["details"]["limit"] == 4096

    def chunks() -> Iterator[bytes]:
        yield b"grant_type=client_credentials&x="
        for _ in range(8):
            yield b"a" * 1024

    streamed = httpx.post(
        f"{server.url}/oauth/token", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413
    assert error_of(streamed)["details"]["limit"] == 4096


def test_large_bodies_stream_one_at_a_time_beyond_which_503(server: LiveServer, client: LedgerClient) -> None:
    """With one large-body slot, a second large upload while the first streams is 503 with Retry-After;
    once the first is done, the second passes."""
    document = b"%PDF-" + uuid.uuid4().bytes * 4096  # 64 KiB: over the 16 KiB threshold
    path = "/api/v1/documents"
    headers = client.signed_headers("POST", path, "type=pdf", document)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {path}?type=pdf HTTP/1.1\r\nHost: x\r\n{head}Content-Type: application/pdf\r\n"
        f"Content-Length: {len(document)}\r\n\r\n"
    ).encode()
    parts = urlsplit(server.url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    first = socket.create_connection(address, timeout=30)
    try:
        first.sendall(request + document[: LARGE * 2])  # past the threshold: it holds the slot, and waits
        refused = None
        give_up = time.monotonic() + 120  # a bound on waiting, not a timing assertion: a loaded host is slow
        while refused is None and time.monotonic() < give_up:
            if select.select([first], [], [], 0)[0]:  # answered already: refused while an earlier body held
                early = read_response(first)  # the slot (a previous test's upload not yet let go)
                assert early.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 503"), early[:300]
                first.close()
                first = socket.create_connection(address, timeout=30)
                first.sendall(request + document[: LARGE * 2])
            # until the server has read far enough into the first body to hold the slot
            other = b"%PDF-" + uuid.uuid4().bytes * 4096
            answer = signed(client, "POST", path, "type=pdf", other, content_type="application/pdf")
            if answer.status_code == 503:
                refused = answer
                break
            assert answer.status_code == 201, answer.text
            time.sleep(0.05)  # let the server's reading of the first body come round
        assert refused is not None, "a second large body was never refused"
        assert refused.headers["Retry-After"] == "1"
        assert error_of(refused)["code"] == "SERVICE_UNAVAILABLE"
        first.sendall(document[LARGE * 2 :])
        reply = read_response(first)
        assert reply.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 201"), reply[:300]
    finally:
        first.close()
    retry = signed(client, "POST", path, "type=pdf", document, content_type="application/pdf")
    assert retry.status_code == 200, retry.text  # the same document again: already registered


# -- 2. 500s -------------------------------------------------------------------------------------
def test_deep_nesting_is_400_and_logs_no_traceback(server: LiveServer, client: LedgerClient) -> None:
    """``[`` x N on the unauthenticated token endpoint and on a JSON endpoint: 400 MALFORMED_JSON."""
    token = httpx.post(f"{server.url}/oauth/token", content=b"[" * 4000, headers={"Content-Type": "application/json"})
    claims = signed(client, "POST", "/api/v1/claims", body=b"[" * 60_000)
    ids = set()
    for response in (token, claims):
        assert response.status_code == 400, response.text
        error = error_of(response)
        assert (error["code"], error["details"]["reason"]) == ("MALFORMED_JSON", "too_deep")
        ids.add(error["requestId"])
    logged = [line for line in server.log_lines() if line.get("request_id") in ids]
    assert logged
    assert all(line["level"] == "INFO" and "exception" not in line for line in logged)


def test_integers_past_int64_in_webhook_routes_are_400(client: LedgerClient) -> None:
    """Cursor, delivery ids in the path (of an unknown endpoint too), resend and replay: 400, never 500."""
    endpoint = client.create_webhook_endpoint("http://127.0.0.1:9/hook", ["claim.verified"]).endpoint.endpoint_id
    huge, beyond = "9" * 30, str(2**64)
    base = f"/api/v1/webhooks/endpoints/{endpoint}"
    answers = [
        signed(client, "GET", f"{base}/deliveries", f"starting_after={huge}"),
        signed(client, "GET", f"{base}/deliveries", f"starting_after={INT64_MAX + 1}"),
        signed(client, "GET", f"{base}/deliveries/{huge}"),
        signed(client, "GET", f"/api/v1/webhooks/endpoints/unknown/deliveries/{beyond}"),
        signed(client, "POST", f"{base}/deliveries/{beyond}/resend"),
        signed(client, "POST", f"{base}/replay", body=json.dumps({"sincePosition": 2**64}).encode()),
    ]
    for answer in answers:
        assert answer.status_code == 400, (answer.request.url, answer.text)
        assert error_of(answer)["code"] == "VALIDATION_ERROR"
    in_range = signed(client, "GET", f"{base}/deliveries", f"starting_after={INT64_MAX}")
    assert in_range.status_code == 200


def test_outcomes_over_the_largest_dates_is_the_range_cap(client: LedgerClient) -> None:
    """0001-01-01 to 9999-12-31 is refused by the period cap (400 naming end_date), not a ValueError."""
    answer = signed(client, "GET", "/api/v1/outcomes", "start_date=0001-01-01&end_date=9999-12-31")
    assert answer.status_code == 400, answer.text
    error = error_of(answer)
    assert error["details"]["field"] == "end_date"
    assert "at most" in error["message"]
    last_month = signed(client, "GET", "/api/v1/outcomes", "start_date=9999-12-01&end_date=9999-12-31")
    assert last_month.status_code == 200, last_month.text


# -- 5. I-JSON, identifiers, amounts ---------------------------------------------------------------
def test_duplicate_member_names_are_refused(client: LedgerClient) -> None:
    """RFC 7493 section 2.3: ``claimAmount`` twice is 400 naming it, and nothing is recorded."""
    claim_id = f"DUP-{uuid.uuid4().hex[:8]}"
    body = json.dumps(claim_body(claim_id)).encode()[:-1] + b', "claimAmount": "5.00"}'
    answer = signed(client, "POST", "/api/v1/claims", body=body)
    assert answer.status_code == 400
    error = error_of(answer)
    assert (error["code"], error["details"]["member"]) == ("MALFORMED_JSON", "claimAmount")
    nested = json.dumps(claim_body(f"DUP2-{uuid.uuid4().hex[:8]}")).encode()
    twice = b'"documents": [{"type": "pdf", "type": "photo", "hash": "' + b"a" * 64 + b'"}]'
    nested = nested.replace(b'"documents": []', twice)
    assert signed(client, "POST", "/api/v1/claims", body=nested).status_code == 400


@pytest.mark.parametrize("amount", ["\u0661\u0660", " 10.00", "10.00 ", "\uff11\uff10", "1_0"])
def test_amounts_take_ascii_digits_only(client: LedgerClient, amount: str) -> None:
    """Arabic-Indic or full-width digits and surrounding spaces are not an amount (400 claimAmount)."""
    body = json.dumps(claim_body(f"AMT-{uuid.uuid4().hex[:8]}", amount=amount)).encode()
    answer = signed(client, "POST", "/api/v1/claims", body=body)
    assert answer.status_code == 400, answer.text
    assert error_of(answer)["details"]["field"] == "claimAmount"


@pytest.mark.parametrize("hidden", ["\u202e", "\u200b", "\u2066", "\ufeff", "\u200d"])
def test_identifiers_refuse_bidi_and_invisible_characters(client: LedgerClient, hidden: str) -> None:
    """A partnerClaimId with a bidi override or a zero-width character is 400, naming the character."""
    body = json.dumps(claim_body(f"ID{hidden}{uuid.uuid4().hex[:8]}")).encode()
    answer = signed(client, "POST", "/api/v1/claims", body=body)
    assert answer.status_code == 400, answer.text
    error = error_of(answer)
    assert error["details"]["field"] == "partnerClaimId"
    assert error["details"]["character"] == f"U+{ord(hidden):04X}"


def test_identifiers_are_one_key_in_nfc(client: LedgerClient) -> None:
    """The decomposed and composed spellings of one identifier are one claim (UAX 15 NFC)."""
    suffix = uuid.uuid4().hex[:8]
    composed = f"caf\u00e9-{suffix}"
    decomposed = unicodedata.normalize("NFD", composed)
    first = signed(client, "POST", "/api/v1/claims", body=json.dumps(claim_body(decomposed)).encode())
    again = signed(client, "POST", "/api/v1/claims", body=json.dumps(claim_body(composed)).encode())
    assert first.status_code in (201, 202), first.text
    assert again.status_code == 200, again.text  # the same claim: an identical resubmission
    assert again.json()["claimId"] == first.json()["claimId"]
    assert first.json()["partnerClaimId"] == composed


# -- 6. repeated credentials ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Authorization", "X-API-Key", "X-Signature", "X-Request-ID", "X-Timestamp"])
def test_a_repeated_security_header_is_refused(client: LedgerClient, name: str) -> None:
    """Two of one security header (even a copy of the signed one): 400 REPEATED_HEADER naming it."""
    headers = client.signed_headers("GET", "/api/v1/audit/checkpoint", "", b"")
    answer = client.http.get("/api/v1/audit/checkpoint", headers=[*headers.items(), (name, headers[name])])
    assert answer.status_code == 400
    error = error_of(answer)
    assert (error["code"], error["details"]["header"]) == ("REPEATED_HEADER", name.lower())


def test_token_endpoint_refuses_two_authorization_headers(server: LiveServer) -> None:
    """Two Basic credentials on ``/oauth/token``: 400 REPEATED_HEADER, neither tried."""
    answer = httpx.post(
        f"{server.url}/oauth/token",
        content=b"grant_type=client_credentials",
        headers=[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", "Basic YTpi"),
            ("Authorization", "Basic Yzpk"),
        ],
    )
    assert answer.status_code == 400
    assert error_of(answer)["code"] == "REPEATED_HEADER"


# -- 7. the small promises -----------------------------------------------------------------------
def test_a_json_endpoint_refuses_other_media_types_with_415(client: LedgerClient) -> None:
    """A claim sent as text/plain or without a Content-Type: 415 UNSUPPORTED_MEDIA_TYPE."""
    body = json.dumps(claim_body(f"CT-{uuid.uuid4().hex[:8]}")).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        answer = signed(client, "POST", "/api/v1/claims", body=body, content_type=content_type)
        assert answer.status_code == 415, (content_type, answer.text)
        assert error_of(answer)["code"] == "UNSUPPORTED_MEDIA_TYPE"
    charset = signed(client, "POST", "/api/v1/claims", body=body, content_type="application/json; charset=utf-8")
    assert charset.status_code in (201, 202)


def test_an_empty_body_says_a_json_body_is_needed(client: LedgerClient) -> None:
    """No body on a JSON endpoint: 400 with a sentence, not ``'data'``."""
    answer = signed(client, "POST", "/api/v1/claims")
    assert answer.status_code == 400
    error = error_of(answer)
    assert "JSON body" in error["message"]
    assert "'data'" not in json.dumps(error)


def test_consistency_names_the_missing_parameter(client: LedgerClient) -> None:
    """``consistency?from=0``: the 400 names ``to``."""
    answer = signed(client, "GET", "/api/v1/audit/consistency", "from=0")
    assert answer.status_code == 400
    error = error_of(answer)
    assert "'to'" in error["message"]
    assert [field["field"] for field in error["details"]["fields"]] == ["to"]


def test_text_answers_name_their_charset_once(client: LedgerClient) -> None:
    """The checkpoint and the verifier key: ``text/plain; charset=utf-8``, the parameter once (RFC 6838 4.3)."""
    for path in ("/api/v1/audit/checkpoint", "/api/v1/audit/public-key"):
        answer = signed(client, "GET", path)
        assert answer.status_code == 200
        assert answer.headers.get_list("content-type") == ["text/plain; charset=utf-8"]


def test_a_claim_naming_another_partner_is_403_partner_mismatch(client: LedgerClient) -> None:
    """docs/http.md: a request naming another partner is 403 PARTNER_MISMATCH (as /outcomes does)."""
    body = json.dumps({**claim_body(f"PM-{uuid.uuid4().hex[:8]}"), "partnerId": "someone_else"}).encode()
    answer = signed(client, "POST", "/api/v1/claims", body=body)
    assert answer.status_code == 403
    assert error_of(answer)["code"] == "PARTNER_MISMATCH"


def test_errors_before_any_policy_still_carry_rate_limit_headers(server: LiveServer, client: LedgerClient) -> None:
    """A path no route matches, a body over the limit, a repeated header: each error has the headers."""
    unknown = signed(client, "GET", "/api/v1/no-such-thing")
    assert unknown.status_code == 404
    error_of(unknown)
    too_big = signed(client, "POST", "/api/v1/claims", body=b"{" + b" " * 70_000 + b"}")
    assert too_big.status_code == 413
    assert error_of(too_big)["details"]["limit"] == 65_536
    assert httpx.get(f"{server.url}/oauth/token").status_code == 405
    error_of(httpx.get(f"{server.url}/oauth/token"))


def test_the_database_files_are_owner_only(server: LiveServer, client: LedgerClient) -> None:
    """``ledger.db`` and its ``-wal``/``-shm`` are 0600, like the key files beside them."""
    signed(client, "GET", "/api/v1/audit/checkpoint")  # the server has written: the WAL exists
    files = [path for path in server.data_dir.iterdir() if path.name.startswith("ledger.db")]
    assert {path.name for path in files} >= {"ledger.db", "ledger.db-wal", "ledger.db-shm"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
