"""The partner IdP's metadata, written from its configuration (seed 001 §1.2) for pysaml2 to trust.

pysaml2 takes the keys it verifies signatures with from metadata only (``only_use_keys_in_metadata``):
a certificate inside a response's own ``KeyInfo`` is never trusted. The metadata lists only the configured
certificates that are valid now (several during a rollover); when none is, sign-in is refused with
``idp_certificate_expired`` instead of trusting an expired key (seed 001 §1.4 "Certificate Expiration").
"""

from __future__ import annotations

from datetime import datetime
from xml.sax.saxutils import quoteattr

from adapters.saml import _pysaml2 as saml
from ledger_core.accounts.errors import LoginFailure, LoginRefused
from ledger_core.accounts.providers import SamlSettings, certificate_window


def valid_certificates(settings: SamlSettings, now: datetime) -> list[str]:
    """The configured certificates whose validity window contains ``now``."""
    valid = []
    for pem in settings.certificates:
        not_before, not_after = certificate_window(pem)
        if not_before <= now < not_after:
            valid.append(pem)
    return valid


def _base64_body(pem: str) -> str:
    return "".join(line.strip() for line in pem.splitlines() if line.strip() and "-----" not in line)


def idp_metadata(settings: SamlSettings, now: datetime) -> str:
    """An ``EntityDescriptor`` with one ``IDPSSODescriptor`` (SAML metadata section 2.4.3)."""
    certificates = valid_certificates(settings, now)
    if not certificates:
        raise LoginRefused(LoginFailure.IDP_CERTIFICATE_EXPIRED, "every configured IdP certificate has expired")
    keys = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{_base64_body(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for pem in certificates
    )
    logout = (
        ""
        if settings.slo_url is None
        else f'<md:SingleLogoutService Binding="{saml.BINDING_HTTP_REDIRECT}" Location={quoteattr(settings.slo_url)}/>'
    )
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
        f' xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID={quoteattr(settings.entity_id)}>'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{keys}{logout}<md:NameIDFormat>{saml.NAMEID_FORMAT_EMAILADDRESS}</md:NameIDFormat>"
        f'<md:SingleSignOnService Binding="{saml.BINDING_HTTP_REDIRECT}" Location={quoteattr(settings.sso_url)}/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )
