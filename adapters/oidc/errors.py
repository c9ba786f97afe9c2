"""Why an OpenID Connect login was refused: one reason per check, carried by :class:`OidcLoginRefused`.

Every refusal is shown to the person as a page saying what failed (:data:`REASON_MESSAGES`, never the
token or the claims) and counted by reason in ``ledger_sso_logins_total{protocol="oidc",outcome,reason}``.
"""

from __future__ import annotations

import enum

from ledger_core.engine.errors import LedgerError


class OidcFailure(enum.Enum):
    """The check an OIDC login failed; the value is the metric label and the ``details.reason``."""

    PROVIDER_UNREACHABLE = "provider_unreachable"
    DISCOVERY_INVALID = "discovery_invalid"
    PROVIDER_ERROR = "provider_error"
    LOGIN_NOT_STARTED = "login_not_started"
    STATE_MISMATCH = "state_mismatch"
    STATE_REUSED = "state_reused"
    LOGIN_EXPIRED = "login_expired"
    MALFORMED_TOKEN = "malformed_token"  # noqa: S105 - a reason label, not a secret
    ALGORITHM_REFUSED = "algorithm_refused"
    UNKNOWN_SIGNING_KEY = "unknown_signing_key"
    BAD_SIGNATURE = "bad_signature"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - a reason label, not a secret
    ISSUED_IN_FUTURE = "issued_in_future"
    NONCE_MISMATCH = "nonce_mismatch"
    USERINFO_MISMATCH = "userinfo_mismatch"


REASON_MESSAGES: dict[OidcFailure, str] = {
    OidcFailure.PROVIDER_UNREACHABLE: (
        "Your organisation's sign-in service did not answer in time. Try again in a few minutes."
    ),
    OidcFailure.DISCOVERY_INVALID: (
        "Your organisation's sign-in service is misconfigured (its discovery document is invalid)."
    ),
    OidcFailure.PROVIDER_ERROR: "Your organisation's sign-in service refused the sign-in.",
    OidcFailure.LOGIN_NOT_STARTED: "This sign-in was not started from this browser. Start again from the sign-in page.",
    OidcFailure.STATE_MISMATCH: "This sign-in response does not belong to the sign-in this browser started.",
    OidcFailure.STATE_REUSED: "This sign-in response was already used. Start again from the sign-in page.",
    OidcFailure.LOGIN_EXPIRED: "The sign-in took too long. Start again from the sign-in page.",
    OidcFailure.MALFORMED_TOKEN: "The identity token from your organisation could not be read.",
    OidcFailure.ALGORITHM_REFUSED: "The identity token is signed with an algorithm we do not accept.",
    OidcFailure.UNKNOWN_SIGNING_KEY: "The identity token is signed with a key your organisation does not publish.",
    OidcFailure.BAD_SIGNATURE: "The identity token's signature is not valid.",
    OidcFailure.WRONG_ISSUER: "The identity token was issued by another sign-in service.",
    OidcFailure.WRONG_AUDIENCE: "The identity token was issued for another application.",
    OidcFailure.TOKEN_EXPIRED: "The identity token has expired.",
    OidcFailure.ISSUED_IN_FUTURE: "The identity token is dated in the future.",
    OidcFailure.NONCE_MISMATCH: "The identity token does not answer this browser's sign-in request.",
    OidcFailure.USERINFO_MISMATCH: "The user information does not match the identity token.",
}


class OidcLoginRefused(LedgerError):
    """An OpenID Connect login refused for ``reason``; ``details`` say which partner and which check."""

    code = "SSO_LOGIN_REFUSED"

    def __init__(self, reason: OidcFailure, partner_id: str, evidence: str = "") -> None:
        super().__init__(REASON_MESSAGES[reason], reason=reason.value, partner_id=partner_id, protocol="oidc")
        self.reason = reason
        self.partner_id = partner_id
        self.evidence = evidence
