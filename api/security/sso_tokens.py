"""``sso_token``: how a partner backend that already authenticated its user opens a portal session for them
(seed 001 section 5.2, "SSO Integration"; docs/sso.md has the recipe a partner follows).

A JWS compact token (RFC 7515) signed HS256 with the partner's API secret (the HMAC key of its signed API
requests)::

    header  {"alg": "HS256", "typ": "sso+jwt", "kid": "<API key id>"}
    claims  {"iss": "<partner id>", "aud": "<portal audience>", "sub": "<member or staff id>",
             "kind": "member" | "staff", "role": "admin" | "user" | "read-only" (staff only, optional),
             "iat": <now>, "exp": <now + at most 300 s>, "jti": "<random, >= 16 characters>"}

Verification (RFC 8725): the algorithm allow-list is fixed (HS256 only: never ``none``, never the header's
choice), ``typ`` is checked, the key id must be an active API key of the ``iss`` partner (whose secret the
server re-derives), ``aud`` must be the portal, ``exp - iat`` at most the configured lifetime, and ``jti``
is used once (the shared one-time store remembers it until ``exp``). What is verified is handed to
:meth:`ledger_core.accounts.use_cases.Accounts.sign_in_embedded`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt

from api.security.secrets import derive_api_secret
from ledger_core.accounts.errors import LoginFailure, LoginRefused
from ledger_core.accounts.identity import UserKind
from ledger_core.accounts.ports import OneTimeStore

ALGORITHMS = ["HS256"]
TOKEN_TYPE = "sso+jwt"  # noqa: S105 - a JWT "typ" value, not a secret
ONE_TIME_KIND = "sso_token"
MIN_JTI = 16


class PartnerKeys(Protocol):
    """Whether ``secret`` is the current secret of the active API key ``key_id`` of an active partner."""

    def __call__(self, partner_id: str, key_id: str, secret: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class EmbeddedIdentity:
    """What a valid ``sso_token`` vouches for."""

    partner_id: str
    user_kind: UserKind
    partner_user_id: str
    role: str | None
    expires_at: datetime


def _refuse(reason: LoginFailure, message: str) -> LoginRefused:
    return LoginRefused(reason, message)


class SsoTokenVerifier:
    """Verifies ``sso_token`` values (see the module docstring) and uses each one up."""

    def __init__(
        self,
        *,
        deployment_secret: bytes,
        partner_keys: PartnerKeys,
        one_time: OneTimeStore,
        audience: str,
        max_ttl: timedelta,
        skew: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._secret = deployment_secret
        self._partner_keys = partner_keys
        self._one_time = one_time
        self._audience = audience
        self._max_ttl = max_ttl
        self._skew = skew
        self._clock = clock

    def verify(self, token: str) -> EmbeddedIdentity:
        """The identity the token vouches for; :class:`LoginRefused` (``token_invalid``, ``expired``,
        ``replayed``, ``algorithm_refused``) otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _refuse(LoginFailure.TOKEN_INVALID, "the sso_token is not a signed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise _refuse(LoginFailure.ALGORITHM_REFUSED, "the sso_token must be signed with HS256")
        if header.get("typ") != TOKEN_TYPE:
            raise _refuse(LoginFailure.TOKEN_INVALID, f"the sso_token header must say typ {TOKEN_TYPE}")
        key_id, partner_id = header.get("kid"), unverified.get("iss")
        if not isinstance(key_id, str) or not isinstance(partner_id, str) or not key_id or not partner_id:
            raise _refuse(LoginFailure.TOKEN_INVALID, "the sso_token names no API key (kid) or partner (iss)")
        secret = derive_api_secret(self._secret, key_id)
        if not self._partner_keys(partner_id, key_id, secret):
            raise _refuse(LoginFailure.TOKEN_INVALID, "the sso_token's key is not an active key of its partner")
        claims = self._decode(token, secret, partner_id)
        return self._identity(claims, partner_id)

    def _decode(self, token: str, secret: str, partner_id: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=partner_id,
                leeway=self._skew,
                options={"require": ["iss", "aud", "sub", "iat", "exp", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise _refuse(LoginFailure.EXPIRED, "the sso_token has expired") from None
        except jwt.ImmatureSignatureError:
            raise _refuse(LoginFailure.NOT_YET_VALID, "the sso_token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise _refuse(LoginFailure.AUDIENCE_MISMATCH, "the sso_token is meant for another audience") from None
        except jwt.PyJWTError:
            raise _refuse(LoginFailure.TOKEN_INVALID, "the sso_token's signature or claims are invalid") from None
        return claims

    def _identity(self, claims: dict[str, Any], partner_id: str) -> EmbeddedIdentity:
        issued, expires = claims["iat"], claims["exp"]
        if not isinstance(issued, int | float) or not isinstance(expires, int | float):
            raise _refuse(LoginFailure.TOKEN_INVALID, "iat and exp must be numbers")
        if timedelta(seconds=expires - issued) > self._max_ttl:
            raise _refuse(
                LoginFailure.TOKEN_INVALID, f"an sso_token lives at most {int(self._max_ttl.total_seconds())} s"
            )
        if issued > (self._clock() + self._skew).timestamp():
            raise _refuse(LoginFailure.NOT_YET_VALID, "the sso_token was issued in the future")
        jti, subject, kind = claims["jti"], claims["sub"], claims.get("kind")
        if not isinstance(jti, str) or len(jti) < MIN_JTI or len(jti) > 200:
            raise _refuse(LoginFailure.TOKEN_INVALID, f"jti must be a random string of at least {MIN_JTI} characters")
        if kind not in {k.value for k in UserKind} or not isinstance(subject, str) or not subject:
            raise _refuse(LoginFailure.TOKEN_INVALID, "kind must be member or staff, and sub the partner's user id")
        role = claims.get("role")
        if role is not None and not isinstance(role, str):
            raise _refuse(LoginFailure.ROLE_INVALID, "role must be a string")
        expires_at = datetime.fromtimestamp(expires, UTC)
        if not self._one_time.put(ONE_TIME_KIND, f"{partner_id}:{jti}", expires_at + self._skew):
            raise _refuse(LoginFailure.REPLAYED, "this sso_token was already used")
        return EmbeddedIdentity(partner_id, UserKind(kind), subject, role, expires_at)
