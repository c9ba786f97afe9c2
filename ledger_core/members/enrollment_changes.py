"""Enrollments changed since a time, read from the partner's log: the API twin of the enrollment feed.

Each change is one log entry of the partner's that moved an enrollment or a subscription
(``enrollment.*``, ``subscription.*``), in log order, named by its position (the cursor: Stripe-style
``starting_after``) and time. :meth:`ledger_core.members.use_cases.Membership.enrollment_changes`
pairs each with the member's status now, under the rules of ``GET /enrollments/{id}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.audit_log import LogQuery, PartnerLog
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import decode_entry
from ledger_core.members.enrollments import Enrollment
from ledger_core.members.subscriptions import Subscription

SCAN_PAGE = 100


@dataclass(frozen=True, slots=True)
class MemberChange:
    """One change of a member's enrollment or subscription: where (``position``, the cursor) and when."""

    position: int
    changed_at: str
    partner_member_id: str


def member_changes(
    app: LedgerApplication, partner_id: str, since: str | None, cursor: int | None
) -> Iterator[MemberChange]:
    """The partner's enrollment and subscription changes after ``cursor``, recorded at or after ``since``."""
    log = PartnerLog(app.log_reader)
    while True:
        page = log.page(partner_id, LogQuery(SCAN_PAGE, cursor, since=since))
        for row in page.rows:
            member = _member_of(app, row)
            if member is not None:
                yield MemberChange(row.position, decode_entry(row.entry).recorded_at, member)
        if not page.has_more or not page.rows:
            return
        cursor = page.rows[-1].position


def _member_of(app: LedgerApplication, row: StoredRow) -> str | None:
    """The partner's member id of the enrollment or subscription the row belongs to (None for other rows)."""
    kind: type[Enrollment] | type[Subscription]
    if row.type.startswith("enrollment."):
        kind = Enrollment
    elif row.type.startswith("subscription."):
        kind = Subscription
    else:
        return None
    aggregate = app.find(kind, UUID(row.aggregate_id))
    return None if aggregate is None else aggregate.partner_member_id
