"""User accounts of partner staff and members, provisioned just in time on a first sign-in (seed 001 §1.2).

The id is ``derive_id("user_account", partner_id, user_kind, partner_user_id)``: the same person signing
in through SAML, OIDC or a partner's ``sso_token`` is one account. Personal attributes (email, first and
last name) reach the aggregate already sealed under the account's own key, each with a salted commitment
(the privacy rule of ``ledger_core/members/privacy.py``); the aggregate compares commitments, never
plaintext, so a later sign-in with changed attributes records only the fields that changed. The log says
who (the account id and the partner's user id), which partner and which provider; never a password, an
assertion or a plaintext name. A deactivated account cannot sign in until it is reactivated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from uuid import UUID

from ledger_core.accounts.identity import AccountStatus, StaffRole, UserKind
from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.validation import check_identifier, check_text

PERSONAL_ATTRIBUTES = ("email", "first_name", "last_name")


def account_id(partner_id: str, user_kind: UserKind, partner_user_id: str) -> UUID:
    return derive_id("user_account", partner_id, user_kind.value, partner_user_id)


def account_subject(account: UUID) -> str:
    """The privacy subject (key owner) of an account's personal attributes."""
    return f"account:{account}"


def _check_personal(personal: Mapping[str, Any], fingerprints: Mapping[str, Any]) -> None:
    if set(personal) != set(fingerprints) or not set(personal) <= set(PERSONAL_ATTRIBUTES):
        raise InvalidCommand(f"personal attributes must be among {list(PERSONAL_ATTRIBUTES)}", field="personal")
    for name, value in personal.items():
        inner = value.get("sealed") if isinstance(value, Mapping) else None
        if not isinstance(inner, Mapping) or not {"alg", "kid", "nonce", "ct"} <= set(inner):
            raise InvalidCommand(f"{name} must be a sealed value", field=name)
        commitment = fingerprints[name]
        if not isinstance(commitment, Mapping) or not isinstance(commitment.get("commitment"), str):
            raise InvalidCommand(f"{name} must have a commitment", field=name)


class UserAccount(LedgerAggregate):
    """One person who signs in for a partner (staff or member)."""

    AGGREGATE_TYPE: ClassVar[str] = "Account"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Provisioned(Created):
        EVENT_TYPE: ClassVar[str] = "account.provisioned"
        user_kind: str
        partner_user_id: str
        provider_id: str
        role: str | None
        personal: dict[str, Any]
        fingerprints: dict[str, Any]

    class AttributesUpdated(Event):
        EVENT_TYPE: ClassVar[str] = "account.attributes_updated"
        provider_id: str
        changed: list[str]
        role: str | None
        personal: dict[str, Any]
        fingerprints: dict[str, Any]

        def apply(self, aggregate: UserAccount) -> None:
            aggregate.role = None if self.role is None else StaffRole(self.role)
            aggregate.personal.update(self.personal)
            aggregate.fingerprints.update(self.fingerprints)

    class Deactivated(Event):
        EVENT_TYPE: ClassVar[str] = "account.deactivated"
        reason: str
        actor: str

        def apply(self, aggregate: UserAccount) -> None:
            aggregate.status = AccountStatus.DEACTIVATED

    class Reactivated(Event):
        EVENT_TYPE: ClassVar[str] = "account.reactivated"
        actor: str

        def apply(self, aggregate: UserAccount) -> None:
            aggregate.status = AccountStatus.ACTIVE

    def __init__(
        self,
        partner_id: str | None,
        user_kind: str,
        partner_user_id: str,
        provider_id: str,
        role: str | None,
        personal: dict[str, Any],
        fingerprints: dict[str, Any],
    ) -> None:
        self.partner_id = partner_id
        self.user_kind = UserKind(user_kind)
        self.partner_user_id = partner_user_id
        self.provider_id = provider_id
        self.role = None if role is None else StaffRole(role)
        self.personal: dict[str, Any] = dict(personal)
        self.fingerprints: dict[str, Any] = dict(fingerprints)
        self.status = AccountStatus.ACTIVE

    @classmethod
    def provision(
        cls,
        *,
        partner_id: str,
        user_kind: UserKind,
        partner_user_id: str,
        provider_id: str,
        role: StaffRole | None,
        personal: Mapping[str, Any],
        fingerprints: Mapping[str, Any],
    ) -> UserAccount:
        """A new account (just-in-time provisioning); a staff account has a role, a member account none."""
        user_id = check_text(partner_user_id, "partner_user_id", max_length=200)
        if (role is None) != (user_kind is UserKind.MEMBER):
            raise InvalidCommand("staff accounts have a role and member accounts none", field="role")
        _check_personal(personal, fingerprints)
        return cls._create(
            cls.Provisioned,
            id=account_id(partner_id, user_kind, user_id),
            partner_id=partner_id,
            user_kind=user_kind.value,
            partner_user_id=user_id,
            provider_id=check_identifier(provider_id, "provider_id"),
            role=None if role is None else role.value,
            personal=dict(personal),
            fingerprints=dict(fingerprints),
        )

    def update_attributes(
        self,
        *,
        provider_id: str,
        role: StaffRole | None,
        personal: Mapping[str, Any],
        fingerprints: Mapping[str, Any],
    ) -> list[str]:
        """Record the attributes whose commitment changed (and a role change); returns the changed names."""
        _check_personal(personal, fingerprints)
        changed = sorted(name for name, value in fingerprints.items() if self.fingerprints.get(name) != value)
        role_changed = role is not None and role is not self.role
        if not changed and not role_changed:
            return []
        new_role = role if role_changed else self.role
        self.trigger_event(
            self.AttributesUpdated,
            provider_id=provider_id,
            changed=changed + (["role"] if role_changed else []),
            role=None if new_role is None else new_role.value,
            personal={name: dict(personal[name]) for name in changed},
            fingerprints={name: dict(fingerprints[name]) for name in changed},
        )
        return changed + (["role"] if role_changed else [])

    def deactivate(self, reason: str, actor: str) -> None:
        """Deactivate (deprovisioned by the partner); an already deactivated account records nothing."""
        check_text(reason, "reason", max_length=500)
        if self.status is AccountStatus.ACTIVE:
            self.trigger_event(self.Deactivated, reason=reason, actor=check_text(actor, "actor", max_length=200))

    def reactivate(self, actor: str) -> None:
        if self.status is AccountStatus.DEACTIVATED:
            self.trigger_event(self.Reactivated, actor=check_text(actor, "actor", max_length=200))

    @property
    def active(self) -> bool:
        return self.status is AccountStatus.ACTIVE
