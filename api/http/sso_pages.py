"""The page a browser sees when a sign-in is refused: a clear sentence, the reason code, the request id.

No stack trace, no assertion, no name or email: the reason code (``LoginFailure``) is what the partner's
IT team looks up in docs/sso.md, and the request id is what our support finds in the access log.
"""

from __future__ import annotations

from html import escape

from ledger_core.accounts.errors import LoginFailure

MESSAGES: dict[LoginFailure, str] = {
    LoginFailure.PROVIDER_UNKNOWN: "This sign-in link matches no identity provider of your organization.",
    LoginFailure.PROVIDER_KIND_MISMATCH: "This sign-in link does not match your organization's provider.",
    LoginFailure.MALFORMED_RESPONSE: "The response from your identity provider could not be read.",
    LoginFailure.SIGNATURE_INVALID: "The response is not signed with your identity provider's certificate.",
    LoginFailure.UNSIGNED: "The response from your identity provider is not signed.",
    LoginFailure.SIGNATURE_WRAPPING: "The response from your identity provider has been tampered with.",
    LoginFailure.ISSUER_MISMATCH: "The response comes from an identity provider other than the one configured.",
    LoginFailure.AUDIENCE_MISMATCH: "The response was meant for another application.",
    LoginFailure.DESTINATION_MISMATCH: "The response was sent to another address than ours.",
    LoginFailure.RECIPIENT_MISMATCH: "The response names another recipient than ours.",
    LoginFailure.EXPIRED: "The sign-in took too long and has expired. Please sign in again.",
    LoginFailure.NOT_YET_VALID: "The response is not valid yet (check the identity provider's clock).",
    LoginFailure.REPLAYED: "This sign-in response was already used. Please sign in again.",
    LoginFailure.UNKNOWN_IN_RESPONSE_TO: "This response does not answer a sign-in we started. Please sign in again.",
    LoginFailure.IDP_CERTIFICATE_EXPIRED: "Your identity provider's certificate has expired; ask your IT team.",
    LoginFailure.IDP_STATUS: "Your identity provider did not sign you in.",
    LoginFailure.MISSING_ATTRIBUTE: "Your identity provider did not send an attribute we need.",
    LoginFailure.ROLE_INVALID: "Your identity provider sent a role we do not know.",
    LoginFailure.ACCOUNT_DEACTIVATED: "Your account has been deactivated by your organization.",
    LoginFailure.STATE_MISMATCH: "This sign-in response does not match a sign-in we started. Please sign in again.",
    LoginFailure.NONCE_MISMATCH: "This sign-in response does not match a sign-in we started. Please sign in again.",
    LoginFailure.ALGORITHM_REFUSED: "The token is signed with an algorithm we do not accept.",
    LoginFailure.TOKEN_INVALID: "The sign-in token is not valid.",
    LoginFailure.IDP_UNAVAILABLE: "Your identity provider did not answer in time. Please try again later.",
}

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in refused</title></head>
<body>
<main>
<h1>We could not sign you in</h1>
<p id="message">{message}</p>
<p>Reason code: <code id="reason">{reason}</code></p>
<p>Request id: <code id="request-id">{request_id}</code></p>
<p>If this keeps happening, send the reason code and the request id to your IT team.</p>
</main>
</body>
</html>
"""


def login_failure_page(reason: str, request_id: str) -> bytes:
    """The HTML body for a refused sign-in with reason code ``reason``."""
    try:
        message = MESSAGES[LoginFailure(reason)]
    except ValueError:
        message = "The sign-in was refused."
    return _PAGE.format(message=escape(message), reason=escape(reason), request_id=escape(request_id)).encode()
