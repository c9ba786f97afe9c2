"""Enrollment links: signed (HS256 under a key derived from the deployment secret), typed and expiring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from api.security.enrollment_tokens import EnrollmentTokenInvalid, EnrollmentTokens

NOW = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
SECRET = b"s" * 32


def tokens(secret: bytes = SECRET, base_url: str = "https://fu.example/enroll") -> EnrollmentTokens:
    return EnrollmentTokens(secret, issuer="https://ledger.example", base_url=base_url, ttl=timedelta(hours=2))


def test_link_round_trip_and_expiry() -> None:
    """The URL carries a token naming the partner and member; it verifies until it expires."""
    url = tokens().url("nm", "12345678", NOW)
    assert url.startswith("https://fu.example/enroll?token=")
    token = url.split("token=", 1)[1]
    grant = tokens().verify(token, NOW + timedelta(minutes=119))
    assert (grant.partner_id, grant.partner_member_id, grant.expires_at) == ("nm", "12345678", NOW + timedelta(hours=2))
    with pytest.raises(EnrollmentTokenInvalid, match="expired"):
        tokens().verify(token, NOW + timedelta(hours=2))
    assert "?a=1&token=" in tokens(base_url="https://fu.example/enroll?a=1").url("nm", "1", NOW)


def test_forged_retyped_and_foreign_tokens_are_refused() -> None:
    """Another deployment's key, another typ, another audience or alg none: all refused."""
    token = tokens().issue("nm", "1", NOW)
    with pytest.raises(EnrollmentTokenInvalid):
        tokens(b"t" * 32).verify(token, NOW)
    with pytest.raises(EnrollmentTokenInvalid):
        tokens(base_url="https://other.example").verify(token, NOW)
    claims = jwt.decode(token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"typ": "enroll+jwt"})  # "" is "no key" for none
    with pytest.raises(EnrollmentTokenInvalid):
        tokens().verify(unsigned, NOW)
    retyped = jwt.encode(claims, b"x" * 32, algorithm="HS256", headers={"typ": "at+jwt"})
    with pytest.raises(EnrollmentTokenInvalid, match="not an enrollment token"):
        tokens().verify(retyped, NOW)
    with pytest.raises(EnrollmentTokenInvalid):
        tokens().verify("not-a-token", NOW)
