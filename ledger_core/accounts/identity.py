"""The vocabulary of sign-in: provider kinds, user kinds, staff roles, and the verified identity assertion.

An :class:`IdentityAssertion` is what a protocol adapter hands to the login use case once it has verified
a SAML response or an OIDC id_token: nothing here is trusted before that verification, and nothing here
is a password or the raw assertion. ``partner_user_id`` is the seed's ``partner_id`` attribute (the
partner's internal id of the user, seed 001 section 1.2): the account's natural key. For a member IdP
it is the partner's member id (``partner_member_id`` of the eligibility feed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

EMBED_PROVIDER_ID = "sso_token"
"""The provider id recorded for sessions opened by a partner backend's ``sso_token`` (no IdP involved)."""


class IdentityProviderKind(StrEnum):
    SAML = "saml"
    OIDC = "oidc"


class UserKind(StrEnum):
    """Who an identity provider signs in: the partner's staff (partner console) or its members (portal)."""

    STAFF = "staff"
    MEMBER = "member"


class StaffRole(StrEnum):
    """A staff user's role (seed 001 section 1.2 attribute ``role``)."""

    ADMIN = "admin"
    USER = "user"
    READ_ONLY = "read-only"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


@dataclass(frozen=True, slots=True)
class IdentityAssertion:
    """A verified sign-in, as a protocol adapter produced it.

    ``issuer`` is the IdP's entity id (SAML) or issuer (OIDC); ``subject`` the NameID or ``sub``;
    ``role`` the raw role attribute (staff only; None: the provider's default role). ``session_ref`` is
    an opaque, keyed digest the adapter can recompute at single logout (never the NameID itself).
    """

    partner_id: str
    provider_id: str
    issuer: str
    subject: str
    partner_user_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    role: str | None
    authenticated_at: datetime
    session_ref: str | None = None


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The outcome of a successful sign-in: whose session to open (no personal attribute in it).

    ``positions`` are the log positions written (provisioning, attribute update), empty when nothing changed.
    """

    account_id: str
    partner_id: str
    user_kind: UserKind
    partner_user_id: str
    role: StaffRole | None
    provider_id: str
    provisioned: bool
    changed: tuple[str, ...]
    positions: tuple[int, ...]
