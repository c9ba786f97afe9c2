"""The signed, expiring token in an eligibility answer's ``enrollment_url`` (seed 001 §3.3 endpoint 1).

A JWS compact token (RFC 7515), ``alg`` HS256 under a key derived from the deployment secret::

    key = HMAC-SHA256(deployment_secret, "enrollment-token" 0x1F "v1")

header ``typ: enroll+jwt``; claims ``iss`` (the server's issuer), ``aud`` (the enrollment base URL),
``partner_id``, ``partner_member_id`` (the partner's own identifier: no personal data), ``iat``, ``exp``
and a random ``jti``. The enrollment portal verifies it with :meth:`EnrollmentTokens.verify`: the
algorithm allow-list is fixed, ``typ`` is checked, and ``iss``, ``aud`` and ``exp`` are required
(RFC 8725 §3.1, §3.11). Rotating the deployment secret invalidates every outstanding link.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

import jwt

ALGORITHMS = ["HS256"]
TOKEN_TYPE = "enroll+jwt"  # noqa: S105 - a JWT "typ" value, not a secret
_LABEL = b"enrollment-token\x1fv1"


class EnrollmentTokenInvalid(Exception):
    """The token is malformed, forged, expired or not an enrollment token."""


@dataclass(frozen=True, slots=True)
class EnrollmentGrant:
    """What a valid token says."""

    partner_id: str
    partner_member_id: str
    expires_at: datetime


class EnrollmentTokens:
    """Issues and verifies enrollment links for one deployment."""

    def __init__(self, deployment_secret: bytes, *, issuer: str, base_url: str, ttl: timedelta) -> None:
        self._key = hmac.new(deployment_secret, _LABEL, hashlib.sha256).digest()
        self.issuer = issuer
        self.base_url = base_url
        self.ttl = ttl

    def issue(self, partner_id: str, partner_member_id: str, now: datetime) -> str:
        claims = {
            "iss": self.issuer,
            "aud": self.base_url,
            "partner_id": partner_id,
            "partner_member_id": partner_member_id,
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm="HS256", headers={"typ": TOKEN_TYPE})

    def url(self, partner_id: str, partner_member_id: str, now: datetime) -> str:
        """``<base_url>?token=<token>`` (the seed's ``https://fairunderwriting.com/enroll?token=...``)."""
        separator = "&" if "?" in self.base_url else "?"
        return self.base_url + separator + urlencode({"token": self.issue(partner_id, partner_member_id, now)})

    def verify(self, token: str, now: datetime) -> EnrollmentGrant:
        """The grant of a valid token; :class:`EnrollmentTokenInvalid` otherwise."""
        try:
            if jwt.get_unverified_header(token).get("typ") != TOKEN_TYPE:
                raise EnrollmentTokenInvalid("not an enrollment token")
            claims = jwt.decode(
                token,
                self._key,
                algorithms=ALGORITHMS,
                audience=self.base_url,
                issuer=self.issuer,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_exp": False},
            )
        except jwt.PyJWTError as error:
            raise EnrollmentTokenInvalid(str(error)) from None
        expires = int(claims["exp"])
        if now.timestamp() >= expires:
            raise EnrollmentTokenInvalid("the enrollment link has expired")
        partner_id, member = claims.get("partner_id"), claims.get("partner_member_id")
        if not isinstance(partner_id, str) or not isinstance(member, str):
            raise EnrollmentTokenInvalid("the token names no member")
        return EnrollmentGrant(partner_id, member, datetime.fromtimestamp(expires, now.tzinfo))
