"""Request and response shapes of single sign-on: the operations API that configures a partner's identity
providers and deactivates accounts, and the browser session endpoints (docs/sso.md).

Field names follow the seed's configuration YAML (seed 001 §1.2-1.3): snake_case. A response never
carries a client secret (``client_secret_set`` says whether one is configured) nor personal attributes.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

UserKindName = Literal["staff", "member"]
RoleName = Literal["admin", "user", "read-only"]


class SsoShape(msgspec.Struct):
    """Base of the SSO shapes: field names as written (snake_case)."""


class SsoRequest(SsoShape, forbid_unknown_fields=True):
    """Base of request bodies: unknown fields are refused."""


class SamlProviderRequest(SsoRequest):
    """A SAML IdP (seed 001 §1.2): the partner's IdP metadata and attribute map."""

    user_kind: UserKindName
    entity_id: str
    sso_url: str
    certificates: list[str]
    slo_url: str | None = None
    attributes: dict[str, str] | None = None
    default_role: RoleName | None = None


class OidcProviderRequest(SsoRequest):
    """An OIDC provider (seed 001 §1.3). ``client_secret`` is sealed at rest and never answered."""

    user_kind: UserKindName
    issuer: str
    client_id: str
    redirect_uri: str
    client_secret: str | None = None
    scopes: list[str] | None = None
    claims: dict[str, str] | None = None
    default_role: RoleName | None = None


class ProviderResponse(SsoShape):
    partner_id: str
    provider_id: str
    kind: str
    user_kind: str
    default_role: str | None
    settings: dict[str, Any]
    client_secret_set: bool
    sp: dict[str, str] | None = None
    """What the partner's IT team enters in its IdP (SAML: entity id, ACS URL, SLO URL, metadata URL)."""


class ProvidersResponse(SsoShape):
    partner_id: str
    providers: list[ProviderResponse]
    positions: list[int] = msgspec.field(default_factory=list)


class DeactivateRequest(SsoRequest):
    reason: str


class AccountResponse(SsoShape):
    account_id: str
    partner_id: str
    user_kind: str
    partner_user_id: str
    role: str | None
    active: bool
    provider_id: str
    positions: list[int] = msgspec.field(default_factory=list)
    sessions_revoked: int = 0


class SessionResponse(SsoShape):
    """Who the browser session belongs to (no personal attribute)."""

    account_id: str
    partner_id: str
    user_kind: str
    role: str | None
    provider_id: str
    expires_at: str


class TokenExchangeRequest(SsoRequest):
    sso_token: str


class LogoutResponse(SsoShape):
    sessions_revoked: int
    idp_logout_url: str | None = None


class AcsForm(msgspec.Struct):
    """The HTTP-POST binding's form at the ACS (SAML bindings section 3.5.4)."""

    SAMLResponse: str
    RelayState: str | None = None
