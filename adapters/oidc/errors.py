"""Why an OpenID Connect login was refused: the check that failed (:class:`OidcCheck`), reported as the
accounts context's :class:`~ledger_core.accounts.errors.LoginRefused` with its reason code.

The reason code (:data:`REASONS`) is what the failure page shows and what
``ledger_sso_logins_total{protocol="oidc",outcome="failure",reason}`` counts, the same vocabulary as SAML;
the finer :class:`OidcCheck` and the evidence go to the server's log only (``details['check']``), never to
the person: they would help an attacker more than the user.
"""

from __future__ import annotations

import enum

from ledger_core.accounts.errors import LoginFailure, LoginRefused


class OidcCheck(enum.Enum):
    """The check an OIDC login failed."""

    PROVIDER_UNREACHABLE = "provider_unreachable"
    DISCOVERY_INVALID = "discovery_invalid"
    PROVIDER_ERROR = "provider_error"
    LOGIN_NOT_STARTED = "login_not_started"
    STATE_MISMATCH = "state_mismatch"
    STATE_REUSED = "state_reused"
    LOGIN_EXPIRED = "login_expired"
    MALFORMED_TOKEN = "malformed_token"  # noqa: S105 - a check name, not a secret
    ALGORITHM_REFUSED = "algorithm_refused"
    UNKNOWN_SIGNING_KEY = "unknown_signing_key"
    BAD_SIGNATURE = "bad_signature"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - a check name, not a secret
    ISSUED_IN_FUTURE = "issued_in_future"
    NONCE_MISMATCH = "nonce_mismatch"
    USERINFO_MISMATCH = "userinfo_mismatch"


REASONS: dict[OidcCheck, LoginFailure] = {
    OidcCheck.PROVIDER_UNREACHABLE: LoginFailure.IDP_UNAVAILABLE,
    OidcCheck.DISCOVERY_INVALID: LoginFailure.IDP_UNAVAILABLE,
    OidcCheck.PROVIDER_ERROR: LoginFailure.IDP_STATUS,
    OidcCheck.LOGIN_NOT_STARTED: LoginFailure.STATE_MISMATCH,
    OidcCheck.STATE_MISMATCH: LoginFailure.STATE_MISMATCH,
    OidcCheck.STATE_REUSED: LoginFailure.REPLAYED,
    OidcCheck.LOGIN_EXPIRED: LoginFailure.EXPIRED,
    OidcCheck.MALFORMED_TOKEN: LoginFailure.TOKEN_INVALID,
    OidcCheck.ALGORITHM_REFUSED: LoginFailure.ALGORITHM_REFUSED,
    OidcCheck.UNKNOWN_SIGNING_KEY: LoginFailure.SIGNATURE_INVALID,
    OidcCheck.BAD_SIGNATURE: LoginFailure.SIGNATURE_INVALID,
    OidcCheck.WRONG_ISSUER: LoginFailure.ISSUER_MISMATCH,
    OidcCheck.WRONG_AUDIENCE: LoginFailure.AUDIENCE_MISMATCH,
    OidcCheck.TOKEN_EXPIRED: LoginFailure.EXPIRED,
    OidcCheck.ISSUED_IN_FUTURE: LoginFailure.NOT_YET_VALID,
    OidcCheck.NONCE_MISMATCH: LoginFailure.NONCE_MISMATCH,
    OidcCheck.USERINFO_MISMATCH: LoginFailure.TOKEN_INVALID,
}
"""The reason code each check is reported under (docs/sso.md "Failure messages (OIDC)")."""


class OidcLoginRefused(LoginRefused):
    """An OIDC login refused by ``check``; ``evidence`` (for the log) says what was found."""

    def __init__(self, check: OidcCheck, partner_id: str, evidence: str = "") -> None:
        super().__init__(
            REASONS[check], f"OpenID Connect sign-in refused ({check.value})", protocol="oidc", check=check.value
        )
        self.check = check
        self.partner_id = partner_id
        self.evidence = evidence
