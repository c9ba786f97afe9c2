"""Where a partner's IdP finds our service provider: one SP per (partner, provider), under ``/sso/saml``.

The entity id is the metadata URL (a common convention: the id resolves to the document that describes
it); the ACS takes the HTTP-POST binding and the SLO endpoint the HTTP-Redirect binding (SAML 2.0
bindings sections 3.4 and 3.5).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpEndpoints:
    entity_id: str
    metadata_url: str
    login_url: str
    acs_url: str
    slo_url: str

    @classmethod
    def of(cls, base_url: str, partner_id: str, provider_id: str) -> SpEndpoints:
        root = f"{base_url.rstrip('/')}/sso/saml/{partner_id}/{provider_id}"
        return cls(f"{root}/metadata", f"{root}/metadata", f"{root}/login", f"{root}/acs", f"{root}/slo")

    def to_json(self) -> dict[str, str]:
        return {
            "entity_id": self.entity_id,
            "metadata_url": self.metadata_url,
            "login_url": self.login_url,
            "acs_url": self.acs_url,
            "slo_url": self.slo_url,
            "nameid_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        }
