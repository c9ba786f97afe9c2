"""The use cases of accounts and identity, shared by the HTTP API, the CLI and embedders (``ledger.accounts``).

Configuration (operations staff): :meth:`Accounts.configure_saml`, :meth:`Accounts.configure_oidc`,
:meth:`Accounts.providers`, :meth:`Accounts.remove_provider`. Sign-in (every protocol):
:meth:`Accounts.sign_in` takes a verified :class:`~.identity.IdentityAssertion` from the SAML or OIDC adapter,
:meth:`Accounts.sign_in_embedded` a verified ``sso_token``; both provision the account on a first sign-in
(``account.provisioned``), record changed attributes later (``account.attributes_updated``) and refuse a
deactivated account (:class:`~.errors.LoginRefused` ``account_deactivated``). Deprovisioning:
:meth:`Accounts.deactivate` / :meth:`Accounts.reactivate` (``account.deactivated`` / ``account.reactivated``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger_core.accounts.account import UserAccount, account_id, account_subject
from ledger_core.accounts.errors import LoginFailure, LoginRefused
from ledger_core.accounts.identity import (
    EMBED_PROVIDER_ID,
    IdentityAssertion,
    IdentityProviderKind,
    SignedIn,
    StaffRole,
    UserKind,
)
from ledger_core.accounts.ports import PersonalDataSealer
from ledger_core.accounts.providers import (
    IdentityProvider,
    OidcSettings,
    PartnerSso,
    SamlSettings,
    check_roles,
    provider_secret_subject,
)
from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.engine.ports import Clock, PartnerLogReader
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import check_identifier, check_partner_slug, check_text, parse_choice

_SCAN_ROWS = 1000


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """A configuration command's outcome: the provider (None once removed) and the log positions written."""

    partner_id: str
    provider_id: str
    provider: IdentityProvider | None
    positions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AccountView:
    """An account without its personal attributes."""

    account_id: str
    partner_id: str
    user_kind: UserKind
    partner_user_id: str
    role: StaffRole | None
    active: bool
    provider_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "accountId": self.account_id,
            "partnerId": self.partner_id,
            "userKind": self.user_kind.value,
            "partnerUserId": self.partner_user_id,
            "role": None if self.role is None else self.role.value,
            "active": self.active,
            "providerId": self.provider_id,
        }


def _view(account: UserAccount) -> AccountView:
    return AccountView(
        str(account.id),
        account.partner_id or "",
        account.user_kind,
        account.partner_user_id,
        account.role,
        account.active,
        account.provider_id,
    )


class Accounts:
    """Identity providers, accounts and sign-in over one ledger."""

    def __init__(self, app: LedgerApplication, sealer: PersonalDataSealer, clock: Clock) -> None:
        self.app = app
        self.sealer = sealer
        self.clock = clock

    # -- configuration --------------------------------------------------------------------------------
    def configure_saml(
        self,
        partner_id: str,
        provider_id: str,
        *,
        user_kind: str,
        settings: Mapping[str, Any],
        default_role: str | None = None,
        allow_http: bool = False,
    ) -> ProviderResult:
        """Add or replace a SAML IdP of ``partner_id`` (seed 001 section 1.2's YAML as ``settings``)."""
        kind = parse_choice(UserKind, user_kind, "user_kind")
        checked = SamlSettings.parse(settings, allow_http=allow_http)
        return self._configure(
            partner_id, provider_id, IdentityProviderKind.SAML, kind, default_role, checked.to_json(), None
        )

    def configure_oidc(
        self,
        partner_id: str,
        provider_id: str,
        *,
        user_kind: str,
        settings: Mapping[str, Any],
        client_secret: str | None,
        default_role: str | None = None,
        allow_http: bool = False,
    ) -> ProviderResult:
        """Add or replace an OIDC provider; ``client_secret`` is sealed under the provider's key (None keeps
        the secret already configured)."""
        kind = parse_choice(UserKind, user_kind, "user_kind")
        checked = OidcSettings.parse(settings, allow_http=allow_http)
        slug, pid = check_partner_slug(partner_id), check_identifier(provider_id, "provider_id", max_length=64)
        sealed: dict[str, Any] | None
        if client_secret:
            secret = check_text(client_secret, "client_secret", max_length=2000)
            sealed = self.sealer.seal(provider_secret_subject(slug, pid), "client_secret", secret)
        else:
            existing = self._find_sso(slug)
            current = None if existing is None else existing.providers.get(pid)
            sealed = None if current is None or current.client_secret is None else dict(current.client_secret)
        return self._configure(slug, pid, IdentityProviderKind.OIDC, kind, default_role, checked.to_json(), sealed)

    def providers(self, partner_id: str) -> list[IdentityProvider]:
        """Every provider of ``partner_id`` (empty when none is configured)."""
        sso = self._find_sso(check_partner_slug(partner_id))
        return [] if sso is None else sorted(sso.providers.values(), key=lambda p: p.provider_id)

    def provider(self, partner_id: str, provider_id: str) -> IdentityProvider:
        """One provider (:class:`NotFound` ``identity_provider``)."""
        sso = self._find_sso(check_partner_slug(partner_id))
        if sso is None:
            raise NotFound("identity_provider", provider_id)
        return sso.provider(provider_id)

    def client_secret(self, partner_id: str, provider_id: str) -> str | None:
        """The OIDC client secret in plaintext, for the relying party only (never logged or answered)."""
        provider = self.provider(partner_id, provider_id)
        if provider.client_secret is None:
            return None
        subject = provider_secret_subject(provider.partner_id, provider.provider_id)
        return self.sealer.open(subject, "client_secret", provider.client_secret)

    def remove_provider(self, partner_id: str, provider_id: str) -> ProviderResult:
        """Remove a provider; its sealed client secret is shredded (its key destroyed)."""
        slug = check_partner_slug(partner_id)
        sso = self._find_sso(slug)
        if sso is None:
            raise NotFound("identity_provider", provider_id)
        had_secret = sso.provider(provider_id).client_secret is not None
        sso.remove(provider_id)
        positions = save(self.app, sso)
        if had_secret:
            self.sealer.erase(provider_secret_subject(slug, provider_id))
        return ProviderResult(slug, provider_id, None, positions)

    # -- sign-in --------------------------------------------------------------------------------------
    def sign_in(self, assertion: IdentityAssertion, kind: IdentityProviderKind) -> SignedIn:
        """Sign in with a verified assertion from a provider of ``kind``: provision, update or refuse."""
        try:
            provider = self.provider(assertion.partner_id, assertion.provider_id)
        except (NotFound, InvalidCommand):
            raise LoginRefused(LoginFailure.PROVIDER_UNKNOWN, "no such identity provider") from None
        if provider.kind is not kind:
            raise LoginRefused(LoginFailure.PROVIDER_KIND_MISMATCH, f"this provider is not {kind.value}")
        role = self._role(provider, assertion.role)
        if not assertion.partner_user_id or not assertion.partner_user_id.strip():
            raise LoginRefused(
                LoginFailure.MISSING_ATTRIBUTE, "the assertion has no partner user id", attribute="partner_id"
            )
        personal = {
            name: value
            for name, value in (
                ("email", assertion.email),
                ("first_name", assertion.first_name),
                ("last_name", assertion.last_name),
            )
            if value
        }
        return self._enter(
            provider.partner_id,
            provider.user_kind,
            assertion.partner_user_id.strip(),
            provider.provider_id,
            role,
            personal,
        )

    def sign_in_embedded(
        self, partner_id: str, user_kind: UserKind, partner_user_id: str, role: str | None
    ) -> SignedIn:
        """Sign in a user a partner backend vouched for with a verified ``sso_token`` (no attributes)."""
        if user_kind is UserKind.MEMBER:
            checked_role = None
            if role:
                raise LoginRefused(LoginFailure.ROLE_INVALID, "a member has no role")
        else:
            try:
                checked_role = parse_choice(StaffRole, role or StaffRole.READ_ONLY.value, "role")
            except InvalidCommand:
                raise LoginRefused(LoginFailure.ROLE_INVALID, "the role is not admin, user or read-only") from None
        return self._enter(
            check_partner_slug(partner_id), user_kind, partner_user_id, EMBED_PROVIDER_ID, checked_role, {}
        )

    # -- deprovisioning -------------------------------------------------------------------------------
    def account(self, partner_id: str, user_kind: str, partner_user_id: str) -> AccountView:
        return _view(self._account(partner_id, user_kind, partner_user_id))

    def deactivate(
        self, partner_id: str, user_kind: str, partner_user_id: str, reason: str, actor: str
    ) -> tuple[AccountView, tuple[int, ...]]:
        """Deactivate an account (the partner removed the user); it cannot sign in again until reactivated.
        Revoking its live sessions is the caller's (:meth:`~.sessions.SessionService.logout_everywhere`)."""
        account = self._account(partner_id, user_kind, partner_user_id)
        account.deactivate(reason, actor)
        return _view(account), save(self.app, account)

    def reactivate(
        self, partner_id: str, user_kind: str, partner_user_id: str, actor: str
    ) -> tuple[AccountView, tuple[int, ...]]:
        account = self._account(partner_id, user_kind, partner_user_id)
        account.reactivate(actor)
        return _view(account), save(self.app, account)

    def accounts_of(self, partner_id: str) -> list[AccountView]:
        """Every account of ``partner_id``, oldest first (what a deprovisioning sync compares with the
        partner's user list). Reads the partner's own log rows, then each account."""
        slug = check_partner_slug(partner_id)
        reader = self.app.log_reader
        if not isinstance(reader, PartnerLogReader):
            raise TypeError("the ledger's log reader cannot read one partner's rows")
        ids: list[str] = []
        position = 0
        while rows := reader.read_partner_rows(slug, position, _SCAN_ROWS):
            ids += [row.aggregate_id for row in rows if row.type == UserAccount.Provisioned.EVENT_TYPE]
            position = rows[-1].position + 1
        return [_view(self.app.load(UserAccount, UUID(found), "user_account")) for found in ids]

    def view(self, account: str) -> AccountView:
        """The account with this id (what a session names); ``NotFound`` for an unknown or malformed id."""
        try:
            found = self.app.find(UserAccount, UUID(account))
        except ValueError:
            found = None
        if found is None:
            raise NotFound("account", account)
        return _view(found)

    def is_active(self, account: str) -> bool:
        """Whether the account with this id exists and is active (sessions check it on refresh)."""
        try:
            found = self.app.find(UserAccount, UUID(account))
        except ValueError:
            return False
        return found is not None and found.active

    # -- internals ------------------------------------------------------------------------------------
    def _configure(
        self,
        partner_id: str,
        provider_id: str,
        kind: IdentityProviderKind,
        user_kind: UserKind,
        default_role: str | None,
        settings: dict[str, Any],
        secret: dict[str, Any] | None,
    ) -> ProviderResult:
        slug = check_partner_slug(partner_id)
        pid = check_identifier(provider_id, "provider_id", max_length=64)
        if pid == EMBED_PROVIDER_ID:
            raise InvalidCommand(f"{EMBED_PROVIDER_ID} is reserved", field="provider_id")
        provider = IdentityProvider(slug, pid, kind, user_kind, check_roles(user_kind, default_role), settings, secret)
        sso = self._find_sso(slug)
        if sso is None:
            sso = PartnerSso._create(PartnerSso.Opened, id=derive_id("partner_sso", slug), partner_id=slug)
        sso.configure(provider)
        return ProviderResult(slug, pid, provider, save(self.app, sso))

    def _find_sso(self, partner_id: str) -> PartnerSso | None:
        return self.app.find(PartnerSso, derive_id("partner_sso", partner_id))

    @staticmethod
    def _role(provider: IdentityProvider, raw: str | None) -> StaffRole | None:
        if provider.user_kind is UserKind.MEMBER:
            return None
        if raw is None or not raw.strip():
            return provider.default_role or StaffRole.READ_ONLY
        try:
            return parse_choice(StaffRole, raw.strip().lower(), "role")
        except InvalidCommand:
            raise LoginRefused(
                LoginFailure.ROLE_INVALID, "the role attribute is not admin, user or read-only"
            ) from None

    def _account(self, partner_id: str, user_kind: str, partner_user_id: str) -> UserAccount:
        kind = parse_choice(UserKind, user_kind, "user_kind")
        aid = account_id(check_partner_slug(partner_id), kind, partner_user_id)
        return self.app.load(UserAccount, aid, "user_account")

    def _enter(
        self,
        partner_id: str,
        user_kind: UserKind,
        partner_user_id: str,
        provider_id: str,
        role: StaffRole | None,
        personal: Mapping[str, str],
    ) -> SignedIn:
        try:
            aid = account_id(partner_id, user_kind, check_text(partner_user_id, "partner_user_id", max_length=200))
        except InvalidCommand:
            raise LoginRefused(
                LoginFailure.MISSING_ATTRIBUTE, "the partner user id is not valid", attribute="partner_id"
            ) from None
        account = self.app.find(UserAccount, aid)
        if account is not None and not account.active:
            raise LoginRefused(LoginFailure.ACCOUNT_DEACTIVATED, "this account has been deactivated by the partner")
        sealed, commitments = self.sealer.seal_fields(account_subject(aid), personal) if personal else ({}, {})
        if account is None:
            account = UserAccount.provision(
                partner_id=partner_id,
                user_kind=user_kind,
                partner_user_id=partner_user_id,
                provider_id=provider_id,
                role=role,
                personal=sealed,
                fingerprints=commitments,
            )
            provisioned, changed = True, list(account.fingerprints)
        else:
            # an sso_token carries no attributes and no role: it changes nothing recorded
            role_update = role if provider_id != EMBED_PROVIDER_ID else None
            changed = account.update_attributes(
                provider_id=provider_id, role=role_update, personal=sealed, fingerprints=commitments
            )
            provisioned = False
        positions = save(self.app, account)
        return SignedIn(
            str(aid),
            partner_id,
            user_kind,
            account.partner_user_id,
            account.role,
            provider_id,
            provisioned,
            tuple(changed),
            positions,
        )
