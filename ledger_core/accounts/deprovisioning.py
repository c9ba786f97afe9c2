"""Deprovisioning sync (seed 001 section 1.4): the partner's roster of users who remain active decides which
accounts stay open; every other active account of that partner and user kind is deactivated.

The accounts of a partner are found in the partner's own log entries (``account.provisioned``, one per
account ever created, :meth:`~ledger_core.accounts.use_cases.Accounts.accounts_of`), so the sync needs no
index beside the log. Each deactivation is an
``account.deactivated`` event (reason: the roster's date; actor: who ran the sync); an account already
deactivated records nothing; an account listed again is left as it is (reactivation stays a deliberate
operations act, never a side effect of a file). Revoking the sessions and forgetting the provider tokens of
the deactivated accounts is the caller's, which owns those stores.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger_core.accounts.identity import UserKind
from ledger_core.accounts.use_cases import Accounts
from ledger_core.shared.validation import check_partner_slug, check_text, parse_choice


@dataclass(frozen=True, slots=True)
class RosterSync:
    """What one sync did: ids are account ids (the log's aggregate ids), never names or emails."""

    partner_id: str
    user_kind: UserKind
    listed: int
    kept: tuple[str, ...]
    deactivated: tuple[str, ...]
    already_inactive: tuple[str, ...]
    positions: tuple[int, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "partner_id": self.partner_id,
            "user_kind": self.user_kind.value,
            "listed": self.listed,
            "kept": len(self.kept),
            "deactivated": list(self.deactivated),
            "already_inactive": len(self.already_inactive),
            "positions": list(self.positions),
        }


class Deprovisioning:
    """Roster syncs over the accounts of one ledger (:meth:`Accounts.accounts_of` finds a partner's accounts)."""

    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    def sync(
        self, partner_id: str, user_kind: str, active_ids: frozenset[str], *, reason: str, actor: str
    ) -> RosterSync:
        """Deactivate every active ``user_kind`` account of ``partner_id`` whose partner user id is not listed."""
        slug = check_partner_slug(partner_id)
        kind = parse_choice(UserKind, user_kind, "user_kind")
        check_text(reason, "reason", max_length=500)
        kept: list[str] = []
        deactivated: list[str] = []
        inactive: list[str] = []
        positions: list[int] = []
        for account in self.accounts.accounts_of(slug):
            if account.user_kind is not kind:
                continue
            if not account.active:
                inactive.append(account.account_id)
            elif account.partner_user_id in active_ids:
                kept.append(account.account_id)
            else:
                _, written = self.accounts.deactivate(slug, kind.value, account.partner_user_id, reason, actor)
                positions.extend(written)
                deactivated.append(account.account_id)
        return RosterSync(
            slug, kind, len(active_ids), tuple(kept), tuple(deactivated), tuple(inactive), tuple(positions)
        )
