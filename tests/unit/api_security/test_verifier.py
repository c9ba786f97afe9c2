"""api.security.verifier: the five-header check, each failure with its code, skew, replay, key ownership."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from adapters.memory.replay import InProcessReplayCache
from api.client.signing import sign
from api.security import AuthenticationError
from api.security.secrets import derive_api_secret
from api.security.tokens import TokenIssuer
from api.security.verifier import ApiKeyRecord, RequestAuthenticator, parse_request_timestamp

from .helpers import DEPLOYMENT_SECRET, NOW

KEY = "pk_aaaaaaaaaaaaaaaa"
KEYS = {
    KEY: ApiKeyRecord("acme_insurance", True, None),
    "pk_globex00000000000": ApiKeyRecord("globex", True, None),
    "pk_revoked00000000000": ApiKeyRecord("acme_insurance", False, None),
    "pk_rotated00000000000": ApiKeyRecord("acme_insurance", True, NOW - timedelta(seconds=1)),
    "pk_overlap00000000000": ApiKeyRecord("acme_insurance", True, NOW + timedelta(hours=1)),
}
PATH, QUERY, BODY = "/api/v1/claims", "b=2&a=1", b'{"claimType":"auto"}'

Sign = Callable[..., dict[str, str]]


@pytest.fixture
def authenticator(issuer: TokenIssuer) -> RequestAuthenticator:
    """An authenticator over the test issuer, a dict of keys and an in-process replay cache."""
    return RequestAuthenticator(issuer.validator(), KEYS.get, DEPLOYMENT_SECRET, InProcessReplayCache())


@pytest.fixture
def signed(issuer: TokenIssuer) -> Sign:
    """Build the five headers for a request, signed correctly unless told otherwise."""
    token = issuer.issue(partner_id="acme_insurance", client_id="partner_acme_insurance", scopes=[], now=NOW)

    def build(
        *,
        method: str = "POST",
        path: str = PATH,
        query: str = QUERY,
        body: bytes = BODY,
        key_id: str = KEY,
        at: datetime = NOW,
        request_id: str | None = None,
    ) -> dict[str, str]:
        request_id = request_id or str(uuid.uuid4())
        timestamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        secret = derive_api_secret(DEPLOYMENT_SECRET, key_id)
        return {
            "Authorization": f"Bearer {token.access_token}",
            "X-API-Key": key_id,
            "X-Request-ID": request_id,
            "X-Timestamp": timestamp,
            "X-Signature": sign(secret, method, path, query, timestamp, request_id, body),
        }

    return build


def _fails(
    authenticator: RequestAuthenticator, headers: dict[str, str], now: datetime = NOW, **request: Any
) -> tuple[str, str]:
    args: dict[str, Any] = {"method": "POST", "path": PATH, "raw_query": QUERY, "body": BODY, **request}
    with pytest.raises(AuthenticationError) as caught:
        authenticator.authenticate(headers=headers, now=now, **args)
    assert caught.value.status == 401
    return caught.value.code, caught.value.reason


def test_valid_request_passes(authenticator: RequestAuthenticator, signed: Sign) -> None:
    """A correctly signed request yields the partner, key, request id and timestamp."""
    headers = signed()
    result = authenticator.authenticate("POST", PATH, QUERY, headers, BODY, NOW + timedelta(seconds=5))
    assert result.partner_id == "acme_insurance"
    assert result.key_id == KEY
    assert result.request_id == headers["X-Request-ID"]
    assert result.timestamp == NOW


def test_header_names_are_case_insensitive(authenticator: RequestAuthenticator, signed: Sign) -> None:
    """Lower-case header names (as ASGI delivers them) work."""
    headers = {name.lower(): value for name, value in signed().items()}
    assert authenticator.authenticate("POST", PATH, QUERY, headers, BODY, NOW).partner_id == "acme_insurance"


def test_header_pairs_are_accepted(authenticator: RequestAuthenticator, signed: Sign) -> None:
    """Raw (name, value) pairs, as an ASGI scope carries them, work too."""
    pairs = [(name.lower(), value) for name, value in signed().items()]
    assert authenticator.authenticate("POST", PATH, QUERY, pairs, BODY, NOW).partner_id == "acme_insurance"


@pytest.mark.parametrize(
    ("header", "code", "reason"),
    [
        ("Authorization", "AUTH_INVALID_TOKEN", "malformed"),
        ("X-API-Key", "AUTH_KEY_MISMATCH", "unknown"),
        ("X-Request-ID", "AUTH_INVALID_SIGNATURE", "malformed_request_id"),
        ("X-Timestamp", "AUTH_INVALID_SIGNATURE", "malformed_timestamp"),
        ("X-Signature", "AUTH_INVALID_SIGNATURE", "malformed_signature"),
    ],
)
def test_repeated_headers_are_refused(
    authenticator: RequestAuthenticator, signed: Sign, header: str, code: str, reason: str
) -> None:
    """A security header sent twice (even with identical values) is ambiguous and refused."""
    pairs = [*signed().items(), (header.lower(), signed()[header])]
    with pytest.raises(AuthenticationError) as caught:
        authenticator.authenticate("POST", PATH, QUERY, pairs, BODY, NOW)
    assert (caught.value.code, caught.value.reason) == (code, reason)


@pytest.mark.parametrize(
    ("header", "code", "reason"),
    [
        ("Authorization", "AUTH_INVALID_TOKEN", "missing"),
        ("X-API-Key", "AUTH_KEY_MISMATCH", "missing"),
        ("X-Request-ID", "AUTH_INVALID_SIGNATURE", "missing_request_id"),
        ("X-Timestamp", "AUTH_INVALID_SIGNATURE", "missing_timestamp"),
        ("X-Signature", "AUTH_INVALID_SIGNATURE", "missing_signature"),
    ],
)
def test_each_missing_header_is_refused(
    authenticator: RequestAuthenticator, signed: Sign, header: str, code: str, reason: str
) -> None:
    """All five headers are required; each missing one has its own code and reason."""
    headers = signed()
    del headers[header]
    assert _fails(authenticator, headers) == (code, reason)


@pytest.mark.parametrize(
    ("header", "value", "code", "reason"),
    [
        ("Authorization", "Basic YTpi", "AUTH_INVALID_TOKEN", "malformed"),
        ("Authorization", "Bearer", "AUTH_INVALID_TOKEN", "malformed"),
        ("Authorization", "Bearer not.a.jwt", "AUTH_INVALID_TOKEN", "malformed"),
        ("X-API-Key", "pk_nobody000000000000", "AUTH_KEY_MISMATCH", "unknown"),
        ("X-Request-ID", "request-1", "AUTH_INVALID_SIGNATURE", "malformed_request_id"),
        ("X-Timestamp", "1768487400", "AUTH_INVALID_SIGNATURE", "malformed_timestamp"),
        ("X-Timestamp", "2026-01-15T16:30:00+02:00", "AUTH_INVALID_SIGNATURE", "malformed_timestamp"),
        ("X-Timestamp", "2026-02-30T14:30:00Z", "AUTH_INVALID_SIGNATURE", "malformed_timestamp"),
        ("X-Signature", "not-hex", "AUTH_INVALID_SIGNATURE", "malformed_signature"),
        ("X-Signature", "00" * 32, "AUTH_INVALID_SIGNATURE", "mismatch"),
    ],
)
def test_each_bad_header_is_refused(
    authenticator: RequestAuthenticator, signed: Sign, header: str, value: str, code: str, reason: str
) -> None:
    """A malformed or wrong header value fails with the documented code and reason."""
    headers = signed()
    headers[header] = value
    assert _fails(authenticator, headers) == (code, reason)


@pytest.mark.parametrize(
    ("key_id", "reason"),
    [
        ("pk_globex00000000000", "other_partner"),
        ("pk_revoked00000000000", "inactive"),
        ("pk_rotated00000000000", "expired"),
    ],
)
def test_key_must_be_an_active_key_of_the_tokens_partner(
    authenticator: RequestAuthenticator, signed: Sign, key_id: str, reason: str
) -> None:
    """Another partner's key, a revoked key or a rotated-out key is refused even when correctly signed."""
    assert _fails(authenticator, signed(key_id=key_id)) == ("AUTH_KEY_MISMATCH", reason)


def test_key_in_rotation_overlap_still_works(authenticator: RequestAuthenticator, signed: Sign) -> None:
    """A rotated key keeps working until its overlap ends."""
    headers = signed(key_id="pk_overlap00000000000")
    assert authenticator.authenticate("POST", PATH, QUERY, headers, BODY, NOW).key_id == "pk_overlap00000000000"


def test_invalid_token_is_refused_before_anything_else(authenticator: RequestAuthenticator, signed: Sign) -> None:
    """An expired token fails with AUTH_INVALID_TOKEN even if the rest of the request is fine."""
    headers = signed()
    assert _fails(authenticator, headers, now=NOW + timedelta(hours=2)) == ("AUTH_INVALID_TOKEN", "expired")


@pytest.mark.parametrize(
    ("change", "value"),
    [("method", "PUT"), ("path", "/api/v1/claims/x"), ("raw_query", "b=2&a=2"), ("body", b"{}")],
)
def test_tampered_request_is_refused(
    authenticator: RequestAuthenticator, signed: Sign, change: str, value: object
) -> None:
    """Changing the method, path, query or body after signing breaks the signature."""
    request: dict[str, Any] = {change: value}
    assert _fails(authenticator, signed(), **request) == ("AUTH_INVALID_SIGNATURE", "mismatch")


def test_equivalent_url_spelling_still_verifies(authenticator: RequestAuthenticator, signed: Sign) -> None:
    """Query order and escaping differences between client and server do not matter."""
    headers = signed(query="b=2&a=1")
    assert authenticator.authenticate("POST", PATH, "a=%31&b=2", headers, BODY, NOW).partner_id


@pytest.mark.parametrize("offset", [300, -300])
def test_skew_of_300_seconds_is_accepted(authenticator: RequestAuthenticator, signed: Sign, offset: int) -> None:
    """Exactly 300 s either way is still inside the window."""
    headers = signed(at=NOW + timedelta(seconds=offset))
    assert authenticator.authenticate("POST", PATH, QUERY, headers, BODY, NOW).partner_id == "acme_insurance"


@pytest.mark.parametrize(("offset", "reason"), [(-301, "too_old"), (301, "in_future")])
def test_skew_beyond_300_seconds_is_refused(
    authenticator: RequestAuthenticator, signed: Sign, offset: int, reason: str
) -> None:
    """301 s in the past or the future is AUTH_REQUEST_EXPIRED."""
    assert _fails(authenticator, signed(at=NOW + timedelta(seconds=offset))) == ("AUTH_REQUEST_EXPIRED", reason)


def test_replay_is_refused(authenticator: RequestAuthenticator, signed: Sign) -> None:
    """The same signed request sent twice fails the second time, whatever the id's letter case."""
    headers = signed(request_id="6F1C2A8E-3B4D-4E5F-9A0B-1C2D3E4F5A6B")
    authenticator.authenticate("POST", PATH, QUERY, headers, BODY, NOW)
    assert _fails(authenticator, headers) == ("AUTH_REPLAYED_REQUEST", "seen")
    again = signed(request_id="6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b")
    assert _fails(authenticator, again) == ("AUTH_REPLAYED_REQUEST", "seen")


def test_request_ids_are_per_partner(issuer: TokenIssuer, signed: Sign) -> None:
    """Two partners may use the same request id."""
    cache = InProcessReplayCache()
    authenticator = RequestAuthenticator(issuer.validator(), KEYS.get, DEPLOYMENT_SECRET, cache)
    request_id = str(uuid.uuid4())
    authenticator.authenticate("POST", PATH, QUERY, signed(request_id=request_id), BODY, NOW)
    assert cache.remember("globex", request_id, 600)


def test_unverified_requests_do_not_burn_request_ids(authenticator: RequestAuthenticator, signed: Sign) -> None:
    """A forged or stale request with someone's request id leaves that id usable."""
    request_id = str(uuid.uuid4())
    forged = signed(request_id=request_id)
    forged["X-Signature"] = "ab" * 32
    assert _fails(authenticator, forged)[0] == "AUTH_INVALID_SIGNATURE"
    stale = signed(request_id=request_id, at=NOW - timedelta(seconds=400))
    assert _fails(authenticator, stale)[0] == "AUTH_REQUEST_EXPIRED"
    genuine = signed(request_id=request_id)
    assert authenticator.authenticate("POST", PATH, QUERY, genuine, BODY, NOW).request_id == request_id


def test_signature_uses_the_derived_secret_of_the_key(authenticator: RequestAuthenticator, signed: Sign) -> None:
    """A request signed with another key's secret (even of the same partner) does not verify."""
    headers = signed(key_id="pk_overlap00000000000")
    headers["X-API-Key"] = KEY
    assert _fails(authenticator, headers) == ("AUTH_INVALID_SIGNATURE", "mismatch")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15T14:30:00Z", NOW),
        ("2026-01-15t14:30:00z", NOW),
        ("2026-01-15T14:30:00+00:00", NOW),
        ("2026-01-15T14:30:00.5Z", NOW + timedelta(milliseconds=500)),
        ("2026-01-15T14:30:00.123456789Z", NOW + timedelta(microseconds=123456)),
    ],
)
def test_timestamp_forms(text: str, expected: datetime) -> None:
    """RFC 3339 UTC with Z or +00:00 and up to nine fractional digits is read exactly (to the microsecond)."""
    assert parse_request_timestamp(text) == expected
