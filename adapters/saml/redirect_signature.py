"""Verifying a message signed for the HTTP-Redirect binding (SAML bindings section 3.4.4.1).

The signature covers the query string as it was sent: ``SAMLRequest=<value>[&RelayState=<value>]&SigAlg=<value>``
with the values still URL-encoded exactly as received, so this works on the raw query string. Only
RSA-SHA256 is accepted; keys come from the IdP's configured certificates, never from the message.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ledger_core.accounts.errors import LoginFailure, LoginRefused

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


def raw_parameters(query_string: str) -> dict[str, str]:
    """The query's parameters with their values as sent (still URL-encoded); the first of each name wins."""
    found: dict[str, str] = {}
    for part in query_string.split("&"):
        name, _, value = part.partition("=")
        found.setdefault(unquote_plus(name), value)
    return found


def verify_redirect_signature(query_string: str, certificates: list[str]) -> None:
    """Refuse (``unsigned`` or ``signature_invalid``) unless one of ``certificates`` signed the query."""
    raw = raw_parameters(query_string)
    kind = "SAMLRequest" if "SAMLRequest" in raw else "SAMLResponse"
    if kind not in raw or "Signature" not in raw or "SigAlg" not in raw:
        raise LoginRefused(LoginFailure.UNSIGNED, "the logout message is not signed")
    if unquote_plus(raw["SigAlg"]) != RSA_SHA256:
        raise LoginRefused(LoginFailure.ALGORITHM_REFUSED, "logout messages must be signed with RSA-SHA256")
    signed = f"{kind}={raw[kind]}"
    if "RelayState" in raw:
        signed += f"&RelayState={raw['RelayState']}"
    signed += f"&SigAlg={raw['SigAlg']}"
    try:
        signature = base64.b64decode(unquote_plus(raw["Signature"]), validate=True)
    except (binascii.Error, ValueError):
        raise LoginRefused(LoginFailure.SIGNATURE_INVALID, "the logout signature is not base64") from None
    for pem in certificates:
        key = x509.load_pem_x509_certificate(pem.encode("ascii")).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(signature, signed.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        return
    raise LoginRefused(LoginFailure.SIGNATURE_INVALID, "the logout message is not signed by the identity provider")
