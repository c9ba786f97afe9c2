"""Errors of the accounts context. Evidence never includes personal plaintext (no email, no name).

:class:`LoginRefused` is every refused sign-in, with a :class:`LoginFailure` reason code that the
failure page shows and the metrics count; the reason never reveals which user tried.
"""

from __future__ import annotations

from enum import StrEnum

from ledger_core.engine.errors import LedgerError


class LoginFailure(StrEnum):
    """Why a sign-in was refused (docs/sso.md lists each with its message)."""

    PROVIDER_UNKNOWN = "provider_unknown"
    PROVIDER_KIND_MISMATCH = "provider_kind_mismatch"
    MALFORMED_RESPONSE = "malformed_response"
    SIGNATURE_INVALID = "signature_invalid"
    UNSIGNED = "unsigned"
    SIGNATURE_WRAPPING = "signature_wrapping"
    ISSUER_MISMATCH = "issuer_mismatch"
    AUDIENCE_MISMATCH = "audience_mismatch"
    DESTINATION_MISMATCH = "destination_mismatch"
    RECIPIENT_MISMATCH = "recipient_mismatch"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REPLAYED = "replayed"
    UNKNOWN_IN_RESPONSE_TO = "unknown_in_response_to"
    IDP_CERTIFICATE_EXPIRED = "idp_certificate_expired"
    IDP_STATUS = "idp_status"
    MISSING_ATTRIBUTE = "missing_attribute"
    ROLE_INVALID = "role_invalid"
    ACCOUNT_DEACTIVATED = "account_deactivated"
    STATE_MISMATCH = "state_mismatch"
    NONCE_MISMATCH = "nonce_mismatch"
    ALGORITHM_REFUSED = "algorithm_refused"
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - a reason code, not a secret
    IDP_UNAVAILABLE = "idp_unavailable"


class LoginRefused(LedgerError):
    """A sign-in was refused; ``reason`` says why (also ``details['reason']``)."""

    code = "SSO_LOGIN_REFUSED"

    def __init__(self, reason: LoginFailure, message: str, **details: object) -> None:
        super().__init__(message, reason=reason.value, **details)
        self.reason = reason


class SessionInvalid(LedgerError):
    """No live session for this token: unknown, expired, revoked or of the wrong kind."""

    code = "SSO_SESSION_INVALID"

    def __init__(self, why: str) -> None:
        super().__init__("the session is not valid; sign in again", why=why)


class RefreshTokenReused(SessionInvalid):
    """A refresh token was presented a second time: its whole family of sessions is revoked."""

    code = "SSO_REFRESH_REUSED"

    def __init__(self, family_id: str) -> None:
        LedgerError.__init__(self, "refresh token reused: every session of its family is revoked", family=family_id)
        self.family_id = family_id


class CsrfRefused(LedgerError):
    """A state-changing browser request without the session's CSRF token (double-submit cookie check)."""

    code = "SSO_CSRF_REFUSED"

    def __init__(self) -> None:
        super().__init__("the X-CSRF-Token header is missing or does not match the session")
