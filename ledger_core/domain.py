"""Every aggregate of the domain, for building the event registry (``EventRegistry(ALL_AGGREGATES)``)."""

from __future__ import annotations

from ledger_core.aggregate import LedgerAggregate
from ledger_core.claims import Claim
from ledger_core.documents import Document
from ledger_core.enrollments import Enrollment
from ledger_core.members import Member
from ledger_core.partners import Partner
from ledger_core.reminders import Reminder
from ledger_core.subscriptions import Subscription

ALL_AGGREGATES: tuple[type[LedgerAggregate], ...] = (
    Partner,
    Claim,
    Document,
    Member,
    Enrollment,
    Subscription,
    Reminder,
)
