"""Deprovisioning sync (seed 001 section 1.4): the partner's roster of users who remain active decides which
accounts stay open; every other active account of that partner and user kind is deactivated.

The accounts of a partner are found in the partner's own log entries (``account.provisioned``, one per
account ever created), so the sync needs no index beside the log. Each deactivation is an
``account.deactivated`` event (reason: the roster's date; actor: who ran the sync); an account already
deactivated records nothing; an account listed again is left as it is (reactivation stays a deliberate
operations act, never a side effect of a file). Revoking the sessions and forgetting the provider tokens of
the deactivated accounts is the caller's, which owns those stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

from ledger_core.accounts.account import UserAccount
from ledger_core.accounts.identity import UserKind
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.ports import PartnerLogReader
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import check_partner_slug, check_text, parse_choice

PROVISIONED = "account.provisioned"
_SCAN = 1000


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
    """Roster syncs over one ledger; ``app.log_reader`` must read a partner's entries."""

    def __init__(self, app: LedgerApplication) -> None:
        reader = app.log_reader
        if not isinstance(reader, PartnerLogReader):
            raise TypeError("deprovisioning needs a log reader that reads a partner's entries")
        self.app = app
        self.partner_log: PartnerLogReader = reader

    def account_ids(self, partner_id: str) -> Iterator[UUID]:
        """Every account ever provisioned for ``partner_id``, in log order."""
        position = 0
        while rows := self.partner_log.read_partner_rows(partner_id, position, _SCAN):
            for row in rows:
                if row.type == PROVISIONED:
                    yield UUID(row.aggregate_id)
            position = rows[-1].position + 1

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
        for aid in self.account_ids(slug):
            account = self.app.find(UserAccount, aid)
            if account is None or account.user_kind is not kind:
                continue
            if not account.active:
                inactive.append(str(aid))
            elif account.partner_user_id in active_ids:
                kept.append(str(aid))
            else:
                account.deactivate(reason, actor)
                positions.extend(save(self.app, account))
                deactivated.append(str(aid))
        return RosterSync(
            slug, kind, len(active_ids), tuple(kept), tuple(deactivated), tuple(inactive), tuple(positions)
        )
