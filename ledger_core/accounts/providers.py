"""Per-partner identity provider configuration (seed 001 sections 1.2 and 1.3), one aggregate per partner.

The id is ``derive_id("partner_sso", partner_id)``; it holds every provider of the partner by provider id
(``okta``, ``azure``...). A provider is SAML (:class:`SamlSettings`: the IdP's entity id, SSO and SLO
URLs, signing certificates, attribute map) or OIDC (:class:`OidcSettings`: issuer, client id, scopes,
redirect URI, claim map), and signs in either the partner's staff (with a default role) or its members.
Settings are public configuration; the OIDC client secret reaches the aggregate already sealed (the
use case seals it under the provider's own key, so removing the provider shreds the secret).
Reconfiguring with identical values records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from cryptography import x509

from ledger_core.accounts.identity import IdentityProviderKind, StaffRole, UserKind
from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.shared.validation import check_identifier, check_text, parse_choice

ATTRIBUTE_NAMES = ("email", "first_name", "last_name", "partner_id", "role")
"""The attributes every provider maps (seed 001 section 1.2); ``partner_id`` is the partner's user id."""
SAML_DEFAULT_ATTRIBUTES: Mapping[str, str] = {
    "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "first_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "last_name": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "partner_id": "partnerId",
    "role": "role",
}
OIDC_DEFAULT_CLAIMS: Mapping[str, str] = {
    "email": "email",
    "first_name": "given_name",
    "last_name": "family_name",
    "partner_id": "sub",
    "role": "role",
}
MAX_PROVIDERS = 10
MAX_CERTIFICATES = 3


def check_https_url(value: Any, field_name: str, *, allow_http: bool = False) -> str:
    """An absolute https URL (http too when ``allow_http``: loopback test providers)."""
    text = check_text(value, field_name, max_length=2000)
    parts = urlsplit(text)
    schemes = {"https", "http"} if allow_http else {"https"}
    if parts.scheme not in schemes or not parts.netloc:
        raise InvalidCommand(f"{field_name} must be an absolute {'/'.join(sorted(schemes))} URL", field=field_name)
    return text


def certificate_expiry(pem: str, field_name: str = "certificates") -> datetime:
    """The ``notAfter`` of a PEM X.509 certificate (RFC 5280 section 4.1.2.5); InvalidCommand if not one."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise InvalidCommand(f"{field_name} must hold PEM X.509 certificates", field=field_name) from None
    return certificate.not_valid_after_utc.astimezone(UTC)


def certificate_window(pem: str) -> tuple[datetime, datetime]:
    """``(notBefore, notAfter)`` of a PEM certificate, UTC."""
    certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    return certificate.not_valid_before_utc, certificate.not_valid_after_utc


def _attribute_map(value: Mapping[str, Any] | None, defaults: Mapping[str, str]) -> dict[str, str]:
    merged = {**defaults, **(value or {})}
    unknown = sorted(set(merged) - set(ATTRIBUTE_NAMES))
    if unknown:
        raise InvalidCommand(f"unknown attributes {unknown}; expected {list(ATTRIBUTE_NAMES)}", field="attributes")
    return {name: check_text(merged[name], f"attributes.{name}", max_length=300) for name in ATTRIBUTE_NAMES}


@dataclass(frozen=True, slots=True)
class SamlSettings:
    """A SAML IdP as its metadata describes it (seed 001 section 1.2: idp_entity_id ... attributes)."""

    entity_id: str
    sso_url: str
    certificates: tuple[str, ...]
    slo_url: str | None = None
    attributes: Mapping[str, str] = field(default_factory=lambda: dict(SAML_DEFAULT_ATTRIBUTES))

    @classmethod
    def parse(cls, raw: Mapping[str, Any], *, allow_http: bool = False) -> SamlSettings:
        """Validated settings from JSON (``entity_id``, ``sso_url``, ``slo_url``, ``certificates``, ``attributes``)."""
        certificates = raw.get("certificates")
        if isinstance(certificates, str):
            certificates = [certificates]
        if not isinstance(certificates, Sequence) or not 1 <= len(certificates) <= MAX_CERTIFICATES:
            raise InvalidCommand(
                f"certificates must list 1 to {MAX_CERTIFICATES} PEM certificates", field="certificates"
            )
        pems = tuple(check_text(pem, "certificates", max_length=20_000, multiline=True).strip() for pem in certificates)
        for pem in pems:
            certificate_expiry(pem)
        slo = raw.get("slo_url")
        return cls(
            entity_id=check_text(raw.get("entity_id"), "entity_id", max_length=1000),
            sso_url=check_https_url(raw.get("sso_url"), "sso_url", allow_http=allow_http),
            certificates=pems,
            slo_url=None if slo in (None, "") else check_https_url(slo, "slo_url", allow_http=allow_http),
            attributes=_attribute_map(raw.get("attributes"), SAML_DEFAULT_ATTRIBUTES),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "sso_url": self.sso_url,
            "slo_url": self.slo_url,
            "certificates": list(self.certificates),
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """An OIDC provider (seed 001 section 1.3): discovery at ``issuer``; the client secret is kept apart, sealed."""

    issuer: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    claims: Mapping[str, str] = field(default_factory=lambda: dict(OIDC_DEFAULT_CLAIMS))

    @classmethod
    def parse(cls, raw: Mapping[str, Any], *, allow_http: bool = False) -> OidcSettings:
        """Validated settings from JSON (``issuer``, ``client_id``, ``redirect_uri``, ``scopes``, ``claims``)."""
        scopes = raw.get("scopes") or ["openid", "profile", "email"]
        if isinstance(scopes, str):
            scopes = scopes.split()
        checked = tuple(check_identifier(scope, "scopes", max_length=100) for scope in scopes)
        if "openid" not in checked:
            raise InvalidCommand("scopes must include openid", field="scopes")
        return cls(
            issuer=check_https_url(raw.get("issuer"), "issuer", allow_http=allow_http),
            client_id=check_text(raw.get("client_id"), "client_id", max_length=300),
            redirect_uri=check_https_url(raw.get("redirect_uri"), "redirect_uri", allow_http=allow_http),
            scopes=checked,
            claims=_attribute_map(raw.get("claims"), OIDC_DEFAULT_CLAIMS),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scopes": list(self.scopes),
            "claims": dict(self.claims),
        }


@dataclass(frozen=True, slots=True)
class IdentityProvider:
    """One configured provider of a partner. ``client_secret`` is a sealed value (OIDC), never plaintext."""

    partner_id: str
    provider_id: str
    kind: IdentityProviderKind
    user_kind: UserKind
    default_role: StaffRole | None
    settings: Mapping[str, Any]
    client_secret: Mapping[str, Any] | None = None

    @property
    def saml(self) -> SamlSettings:
        """The SAML settings (:class:`NotFound` ``saml_provider`` when this provider is OIDC)."""
        if self.kind is not IdentityProviderKind.SAML:
            raise NotFound("saml_provider", self.provider_id)
        return SamlSettings.parse(self.settings, allow_http=True)

    @property
    def oidc(self) -> OidcSettings:
        """The OIDC settings (:class:`NotFound` ``oidc_provider`` when this provider is SAML)."""
        if self.kind is not IdentityProviderKind.OIDC:
            raise NotFound("oidc_provider", self.provider_id)
        return OidcSettings.parse(self.settings, allow_http=True)

    def to_json(self) -> dict[str, Any]:
        """The public view (``clientSecretSet`` instead of the secret)."""
        return {
            "partnerId": self.partner_id,
            "providerId": self.provider_id,
            "kind": self.kind.value,
            "userKind": self.user_kind.value,
            "defaultRole": None if self.default_role is None else self.default_role.value,
            "settings": dict(self.settings),
            "clientSecretSet": self.client_secret is not None,
        }


def provider_secret_subject(partner_id: str, provider_id: str) -> str:
    """The key-store subject that seals a provider's client secret (destroyed when the provider is removed)."""
    return f"idp:{partner_id}:{provider_id}"


def check_roles(user_kind: UserKind, default_role: str | None) -> StaffRole | None:
    """Staff providers have a default role (``read-only`` when unset); member providers have none."""
    if user_kind is UserKind.MEMBER:
        if default_role not in (None, ""):
            raise InvalidCommand("a member provider has no role", field="default_role")
        return None
    return parse_choice(StaffRole, default_role or StaffRole.READ_ONLY.value, "default_role")


class PartnerSso(LedgerAggregate):
    """A partner's identity providers."""

    AGGREGATE_TYPE: ClassVar[str] = "Sso"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Opened(Created):
        EVENT_TYPE: ClassVar[str] = "sso.configuration_opened"

    class ProviderConfigured(Event):
        EVENT_TYPE: ClassVar[str] = "sso.provider_configured"
        provider_id: str
        kind: str
        user_kind: str
        default_role: str | None
        settings: dict[str, Any]
        client_secret: dict[str, Any] | None

        def apply(self, aggregate: PartnerSso) -> None:
            aggregate.providers[self.provider_id] = IdentityProvider(
                aggregate.partner_id or "",
                self.provider_id,
                IdentityProviderKind(self.kind),
                UserKind(self.user_kind),
                None if self.default_role is None else StaffRole(self.default_role),
                self.settings,
                self.client_secret,
            )

    class ProviderRemoved(Event):
        EVENT_TYPE: ClassVar[str] = "sso.provider_removed"
        provider_id: str

        def apply(self, aggregate: PartnerSso) -> None:
            del aggregate.providers[self.provider_id]

    def __init__(self, partner_id: str | None) -> None:
        self.partner_id = partner_id
        self.providers: dict[str, IdentityProvider] = {}

    def configure(self, provider: IdentityProvider) -> None:
        """Add or replace ``provider`` (identical configuration: nothing recorded)."""
        if self.providers.get(provider.provider_id) == provider:
            return
        if provider.provider_id not in self.providers and len(self.providers) >= MAX_PROVIDERS:
            raise InvalidCommand(f"at most {MAX_PROVIDERS} identity providers per partner", field="provider_id")
        self.trigger_event(
            self.ProviderConfigured,
            provider_id=provider.provider_id,
            kind=provider.kind.value,
            user_kind=provider.user_kind.value,
            default_role=None if provider.default_role is None else provider.default_role.value,
            settings=dict(provider.settings),
            client_secret=None if provider.client_secret is None else dict(provider.client_secret),
        )

    def remove(self, provider_id: str) -> None:
        self.provider(provider_id)
        self.trigger_event(self.ProviderRemoved, provider_id=provider_id)

    def provider(self, provider_id: str) -> IdentityProvider:
        found = self.providers.get(provider_id)
        if found is None:
            raise NotFound("identity_provider", provider_id)
        return found
