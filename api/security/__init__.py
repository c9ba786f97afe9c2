"""Partner authentication building blocks, free of any web framework (docs/authentication.md).

- :mod:`api.client.signing`: canonical query, ``string_to_sign``, HMAC request signatures (server and SDK).
- :mod:`api.security.secrets`: derived API secrets, hashed OAuth client secrets, the deployment secret.
- :mod:`api.security.tokens`: RFC 9068 access tokens (Ed25519), JWKS, RFC 8725 validation, token requests.
- :mod:`api.security.verifier`: the zero-trust check of the five headers on every ``/api/v1`` call.

This module holds the error hierarchy. Every error is a :class:`~ledger_core.engine.errors.LedgerError` with a
stable ``code`` (the HTTP layer maps codes to statuses in one place: all of these are 401) and a
``reason`` that is safe to use as a metrics label but is deliberately not shown to the caller in detail.
"""

from __future__ import annotations

from typing import Any

from ledger_core.engine.errors import LedgerError

__all__ = [
    "AUTH_ERROR_CODES",
    "AuthenticationError",
    "InvalidRequestSignature",
    "InvalidToken",
    "KeyMismatch",
    "ReplayedRequest",
    "RequestExpired",
]


class AuthenticationError(LedgerError):
    """The request could not be authenticated (HTTP 401). ``reason`` is a short label for metrics."""

    code = "AUTH_INVALID_TOKEN"
    status = 401

    def __init__(self, message: str, reason: str, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)
        self.reason = reason


class InvalidToken(AuthenticationError):
    """``Authorization: Bearer`` missing, malformed, badly signed, expired, or for another issuer/audience.

    Reasons: ``missing``, ``malformed``, ``missing_claim``, ``wrong_type``, ``bad_algorithm``,
    ``unknown_key``, ``bad_signature``, ``wrong_issuer``, ``wrong_audience``, ``expired``, ``not_yet_valid``.
    """

    code = "AUTH_INVALID_TOKEN"


class InvalidRequestSignature(AuthenticationError):
    """``X-Signature`` missing or wrong, or a signed header (``X-Request-ID``, ``X-Timestamp``) malformed."""

    code = "AUTH_INVALID_SIGNATURE"


class RequestExpired(AuthenticationError):
    """``X-Timestamp`` is more than the allowed skew (300 s) away from the server's clock."""

    code = "AUTH_REQUEST_EXPIRED"


class ReplayedRequest(AuthenticationError):
    """``X-Request-ID`` was already used by this partner within the replay window."""

    code = "AUTH_REPLAYED_REQUEST"


class KeyMismatch(AuthenticationError):
    """``X-API-Key`` missing, unknown, revoked or expired, or not a key of the token's partner."""

    code = "AUTH_KEY_MISMATCH"


class KeyTooOld(AuthenticationError):
    """``X-API-Key`` reached the partner's maximum key age (its rotation schedule): rotate it.

    ``details.expired_at`` says when; reason ``max_age``.
    """

    code = "AUTH_KEY_EXPIRED"


AUTH_ERROR_CODES: dict[str, int] = {
    cls.code: cls.status
    for cls in (InvalidToken, InvalidRequestSignature, RequestExpired, ReplayedRequest, KeyMismatch, KeyTooOld)
}
