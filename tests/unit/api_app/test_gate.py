"""The gate's blocking half (``admit``): authentication, limits, scopes and idempotency, with real parts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.memory.idempotency import InProcessIdempotencyStore
from adapters.memory.ratelimit import InProcessRateLimiter
from adapters.memory.replay import InProcessReplayCache
from api.client.ledger_client import rfc3339
from api.client.signing import sign
from api.http.auth import RawRequest, Refused, Security, admit
from api.http.observability import Metrics
from api.security.credentials import PartnerCredentials, PartnerDirectory
from api.security.tokens import TokenIssuer, generate_signing_key
from api.settings import Settings
from ledger_core.ledger import Ledger
from ledger_core.shared.vocabulary import TierLimits

ISSUER = TokenIssuer(generate_signing_key(), issuer="https://i", audience="https://a")


@pytest.fixture
def security(ledger: Ledger, deployment_secret: bytes) -> Security:
    """The gate's parts over the temporary ledger, with in-process stores and a tight anonymous limit."""
    settings = Settings(issuer="https://i", audience="https://a").with_limits({"anonymous": TierLimits(60, 2, None)})
    return Security(
        settings=settings,
        validator=ISSUER.validator(),
        deployment_secret=deployment_secret,
        replay=InProcessReplayCache(),
        limiter=InProcessRateLimiter(),
        idempotency=InProcessIdempotencyStore(),
        directory=PartnerDirectory(ledger, lambda: datetime.now(UTC)),
        metrics=Metrics(),
        clock=lambda: datetime.now(UTC),
    )


def request(
    who: PartnerCredentials,
    body: bytes = b"{}",
    *,
    key: str | None = None,
    scopes: tuple[str, ...] = ("claims:write",),
    needs: str | None = "claims:write",
    request_id: str = "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b",
) -> RawRequest:
    token = ISSUER.issue(partner_id=who.partner_id, client_id=who.client_id, scopes=scopes, now=datetime.now(UTC))
    stamp = rfc3339(datetime.now(UTC))
    headers = {
        "authorization": f"Bearer {token.access_token}",
        "x-api-key": who.api_key,
        "x-request-id": request_id,
        "x-timestamp": stamp,
        "x-signature": sign(who.api_secret, "POST", "/api/v1/claims", "", stamp, request_id, body),
    }
    if key is not None:
        headers["idempotency-key"] = key
    return RawRequest("POST", "/api/v1/claims", "", headers, body, "10.0.0.1", needs)


def test_an_authenticated_request_is_admitted_with_its_limits(security: Security, acme: PartnerCredentials) -> None:
    """A correct request passes and carries the partner's rate-limit headers (standard tier)."""
    admission = admit(security, request(acme), datetime.now(UTC))
    assert admission.auth.partner_id == "acme"
    assert admission.headers["X-RateLimit-Limit"] == "1000"
    assert admission.idempotency is None


def test_idempotency_key_in_flight_then_replayed(security: Security, acme: PartnerCredentials) -> None:
    """While the first request holds the key a twin gets 409; once stored, the same request replays."""
    first = admit(security, request(acme, key="k1"), datetime.now(UTC))
    assert first.idempotency is not None
    with pytest.raises(Refused) as busy:
        admit(security, request(acme, key="k1", request_id="6f1c2a8e-3b4d-4e5f-9a0b-000000000002"), datetime.now(UTC))
    assert getattr(busy.value.error, "code", None) == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
    assert "X-RateLimit-Remaining" in busy.value.headers
    key, lease = first.idempotency
    security.idempotency.complete("acme", key, lease, 201, (("content-type", "application/json"),), b"{}")
    again = admit(
        security, request(acme, key="k1", request_id="6f1c2a8e-3b4d-4e5f-9a0b-000000000003"), datetime.now(UTC)
    )
    assert again.replay is not None
    assert again.replay.status == 201
    with pytest.raises(Refused) as reused:
        admit(
            security,
            request(acme, b'{"x":1}', key="k1", request_id="6f1c2a8e-3b4d-4e5f-9a0b-000000000004"),
            datetime.now(UTC),
        )
    assert getattr(reused.value.error, "code", None) == "IDEMPOTENCY_KEY_REUSED"


def test_missing_scope_is_refused_after_counting(security: Security, acme: PartnerCredentials) -> None:
    """A token without the handler's scope is 403, and the refusal still carries rate-limit headers."""
    with pytest.raises(Refused) as denied:
        admit(security, request(acme, scopes=("claims:read",)), datetime.now(UTC))
    assert getattr(denied.value.error, "code", None) == "AUTH_INSUFFICIENT_SCOPE"
    assert "X-RateLimit-Limit" in denied.value.headers


def test_authentication_failures_are_charged_to_the_address(security: Security, acme: PartnerCredentials) -> None:
    """Failed authentication counts against the anonymous limit of the client address, then 429."""
    forged = request(acme)
    forged.headers["x-signature"] = "0" * 64
    codes = []
    for _ in range(3):
        with pytest.raises(Refused) as refused:
            admit(security, forged, datetime.now(UTC))
        codes.append(getattr(refused.value.error, "code", None))
    assert codes[:2] == ["AUTH_INVALID_SIGNATURE", "AUTH_INVALID_SIGNATURE"]
    assert codes[2] == "RATE_LIMIT_EXCEEDED"
    sample = security.metrics.registry.get_sample_value(
        "ledger_auth_failures_total", {"code": "AUTH_INVALID_SIGNATURE", "reason": "mismatch"}
    )
    assert sample == 3


def test_a_replayed_request_is_charged_to_the_address_not_the_partner(
    security: Security, acme: PartnerCredentials
) -> None:
    """The replay check runs with the partner's rate limit (one Redis script in production): a replayed
    id is AUTH_REPLAYED_REQUEST, counted as an authentication failure and charged to the address's
    anonymous limit, while the partner's allowance is not touched."""
    first = admit(security, request(acme), datetime.now(UTC))
    remaining = int(first.headers["X-RateLimit-Remaining"])
    with pytest.raises(Refused) as replayed:
        admit(security, request(acme), datetime.now(UTC))  # same X-Request-ID, freshly signed
    assert getattr(replayed.value.error, "code", None) == "AUTH_REPLAYED_REQUEST"
    assert replayed.value.headers["X-RateLimit-Limit"] == "60"  # the anonymous policy (the partner has 1000)
    sample = security.metrics.registry.get_sample_value(
        "ledger_auth_failures_total", {"code": "AUTH_REPLAYED_REQUEST", "reason": "seen"}
    )
    assert sample == 1
    after = admit(security, request(acme, request_id="6f1c2a8e-3b4d-4e5f-9a0b-000000000003"), datetime.now(UTC))
    assert int(after.headers["X-RateLimit-Remaining"]) == remaining - 1
