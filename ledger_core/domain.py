"""Every aggregate of the domain, for building the event registry (``EventRegistry(ALL_AGGREGATES)``)."""

from __future__ import annotations

from ledger_core.accounts.account import UserAccount
from ledger_core.accounts.providers import PartnerSso
from ledger_core.claims.batch.claims_file import ClaimsFile
from ledger_core.claims.claim import Claim
from ledger_core.claims.documents import Document
from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.members.enrollments import Enrollment
from ledger_core.members.feeds.deliveries import FeedDeliveries
from ledger_core.members.feeds.eligibility_file import EligibilityFile
from ledger_core.members.member import Member
from ledger_core.members.reminders import Reminder
from ledger_core.members.subscriptions import Subscription
from ledger_core.partners.embedding import PartnerEmbedding
from ledger_core.partners.partner import Partner
from ledger_core.partners.theme import PartnerTheme

ALL_AGGREGATES: tuple[type[LedgerAggregate], ...] = (
    Partner,
    Claim,
    Document,
    Member,
    Enrollment,
    Subscription,
    Reminder,
    EligibilityFile,
    FeedDeliveries,
    ClaimsFile,
    PartnerSso,
    UserAccount,
    PartnerTheme,
    PartnerEmbedding,
)
