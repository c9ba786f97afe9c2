"""The embedding API: one object that runs commands, reads state and verifies the log.

Open one with :func:`adapters.opening.open_ledger` (which picks the storage) or build one from ports::

    ledger = Ledger(recorder, log_reader, key_store, clock=clock, claim_facts=facts)
    ledger.partners.register(...); ledger.claims.submit(...); ledger.membership.enroll(...)
    ledger.verify()

``claims``, ``documents`` and ``membership`` are the use cases the HTTP API and the CLI call too
(:mod:`ledger_core.claims.use_cases`, :mod:`ledger_core.members.use_cases`): a claim submitted here is
verified exactly as ``POST /api/v1/claims`` verifies it. The other attributes are the contexts' finer
services (``members``, ``eligibility``, ``enrollments``, ...), which the use cases are built on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder

from ledger_core.accounts.use_cases import Accounts
from ledger_core.claims.batch.importing import ClaimImport
from ledger_core.claims.batch.reconciliation import Reconciliation
from ledger_core.claims.facts import ClaimFacts
from ledger_core.claims.use_cases import Claims, Documents
from ledger_core.domain import ALL_AGGREGATES
from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.application import DEFAULT_AGGREGATE_CACHE_SIZE, LedgerApplication
from ledger_core.engine.chain import ChainSummary
from ledger_core.engine.envelope import Envelope
from ledger_core.engine.ports import Clock, LogReader
from ledger_core.members.eligibility import EligibilityService
from ledger_core.members.enrollments import EnrollmentService
from ledger_core.members.feeds.loading import FeedPolicy
from ledger_core.members.feeds.ports import FeedLogReader
from ledger_core.members.feeds.preparation import RowPreparer
from ledger_core.members.feeds.use_cases import Feeds
from ledger_core.members.member import MemberService
from ledger_core.members.outcome_projection import OutcomeProjection
from ledger_core.members.outcomes import MemoryOutcomeStore, OutcomeStore
from ledger_core.members.portal import MemberPortal
from ledger_core.members.ports import EnrollmentLinks, KeyStore
from ledger_core.members.privacy import PersonalDataVault
from ledger_core.members.reminders import ReminderService
from ledger_core.members.subscriptions import SubscriptionService
from ledger_core.members.use_cases import MemberPolicy, Membership
from ledger_core.partners.embedding import EmbeddingService
from ledger_core.partners.ports import ThemeAssetStore
from ledger_core.partners.service import PartnerService
from ledger_core.partners.theme import PartnerThemes
from ledger_core.partners.theme_assets import MemoryThemeAssets


@dataclass(frozen=True)
class LogStats:
    """Counts over the whole log."""

    size: int
    head_leaf_hash: str | None
    by_type: dict[str, int]
    by_aggregate_type: dict[str, int]
    partners: int


class Ledger:
    """Commands, reads and verification over one ledger. Close it when done (or use ``with``)."""

    def __init__(
        self,
        recorder: ApplicationRecorder,
        log_reader: LogReader,
        key_store: KeyStore,
        *,
        clock: Clock,
        claim_facts: ClaimFacts,
        aggregates: Iterable[type[LedgerAggregate]] = ALL_AGGREGATES,
        restricted_states: Iterable[str] = (),
        outcome_store: OutcomeStore | None = None,
        member_policy: MemberPolicy | None = None,
        enrollment_links: EnrollmentLinks | None = None,
        feed_policy: FeedPolicy | None = None,
        feed_preparer: RowPreparer | None = None,
        theme_assets: ThemeAssetStore | None = None,
        on_close: Callable[[], None] | None = None,
        aggregate_cache_size: int = DEFAULT_AGGREGATE_CACHE_SIZE,
    ) -> None:
        """``claim_facts`` answers the risk rules' cross-claim questions (over this same log); ``member_policy``
        and ``enrollment_links`` configure :attr:`membership` (without links, no enrollment URL is offered);
        ``aggregate_cache_size``: aggregates kept decoded in this process (LRU); ``feed_preparer`` checks and
        seals the rows of big eligibility files (e.g. in worker processes; default: in this process)."""
        self.app = LedgerApplication(recorder, log_reader, aggregates, aggregate_cache_size=aggregate_cache_size)
        self.vault = PersonalDataVault(key_store)
        self.partners = PartnerService(self.app, clock)
        self.themes = PartnerThemes(self.app, self.partners, theme_assets or MemoryThemeAssets())
        """White-label themes (ledger_core/partners/theme.py); files in ``theme_assets`` (default: in memory)."""
        self.embedding = EmbeddingService(self.app, self.partners)
        """A partner's registered portal origins (ledger_core/partners/embedding.py)."""
        self.claim_facts = claim_facts
        """The cross-claim facts the risk rules read (what a benchmark or an operator check inspects)."""
        self.claims = Claims(self.app, claim_facts, clock)
        self.documents = Documents(self.app, self.claims.verification)
        self.batches = ClaimImport(self.app, self.claims, self.documents.registry)
        """Claims files: historical imports and bulk verification (ledger_core/claims/batch/importing.py)."""
        self.reconciliation = Reconciliation(self.app)
        """Reconciliation files: the partner's list against the ledger (ledger_core/claims/batch/reconciliation.py)."""
        self._init_members(
            log_reader,
            clock,
            frozenset(restricted_states),
            outcome_store,
            member_policy or MemberPolicy(),
            enrollment_links,
            feed_policy,
            feed_preparer,
        )
        self.accounts = Accounts(self.app, self.vault, clock)
        """Identity providers, accounts and sign-in (ledger_core/accounts/use_cases.py)."""
        self._on_close = on_close

    def _init_members(
        self,
        log_reader: LogReader,
        clock: Clock,
        restricted_states: frozenset[str],
        outcome_store: OutcomeStore | None,
        member_policy: MemberPolicy,
        enrollment_links: EnrollmentLinks | None,
        feed_policy: FeedPolicy | None,
        feed_preparer: RowPreparer | None,
    ) -> None:
        """The members context's services (members, eligibility, enrollments, outcomes, feeds, portal), part of
        :meth:`__init__`: they share the vault and the outcome projection."""
        # Outcome figures (ledger_core/members/outcome_projection.py); in memory unless storage provides a store.
        self.outcomes = OutcomeProjection(
            self.app,
            self.vault,
            outcome_store or MemoryOutcomeStore(),
            cost_model=member_policy.cost_model,
            threshold=member_policy.suppression_threshold,
            clock=clock,
        )
        self.members = MemberService(self.app, self.vault, clock, self.outcomes)
        self.enrollments = EnrollmentService(self.app, self.vault, restricted_states, self.outcomes)
        self.eligibility = EligibilityService(self.app, self.vault, clock, restricted_states)
        self.subscriptions = SubscriptionService(self.app)
        self.reminders = ReminderService(self.app, self.vault, clock, member_policy.reminder_send_delay)
        self.membership = Membership(
            self.app,
            members=self.members,
            eligibility=self.eligibility,
            enrollments=self.enrollments,
            subscriptions=self.subscriptions,
            reminders=self.reminders,
            outcomes=self.outcomes,
            clock=clock,
            links=enrollment_links,
        )
        self.portal = MemberPortal(self.membership, self.enrollments, clock)
        """The member portal's own view and commands (ledger_core/members/portal.py)."""
        # Batch feeds (seed 001 §2) need set-at-a-time log reads; both storage backends offer them.
        self.feeds: Feeds | None = (
            Feeds(self.app, self.members, self.outcomes, log_reader, policy=feed_policy, preparer=feed_preparer)
            if isinstance(log_reader, FeedLogReader)
            else None
        )

    # -- reading the log ------------------------------------------------------------------------------
    def size(self) -> int:
        """Number of entries in the log."""
        return self.app.log_size()

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[Envelope]:
        """Decoded log entries with ``start <= position < stop``."""
        return self.app.entries(start, stop)

    def history(self, aggregate_id: UUID) -> list[Envelope]:
        """All entries of one aggregate, oldest first."""
        return self.app.history(aggregate_id)

    def verify(self, progress: Callable[[int, int], Any] | None = None) -> ChainSummary:
        """Check the whole chain; raises :class:`~ledger_core.engine.errors.ChainBroken` at the first fault."""
        return self.app.verify(progress)

    def stats(self) -> LogStats:
        """Entry counts by event type and aggregate type, and the number of partners seen."""
        by_type: Counter[str] = Counter()
        by_aggregate: Counter[str] = Counter()
        partners: set[str] = set()
        head: str | None = None
        size = 0
        for envelope in self.app.entries():
            by_type[envelope.type] += 1
            if envelope.aggregate_version == 1:
                by_aggregate[envelope.aggregate_type] += 1
            if envelope.partner_id is not None:
                partners.add(envelope.partner_id)
            size = envelope.position + 1
        if size:
            rows = self.app.log_reader.read_rows(size - 1, 1)
            head = rows[0].leaf_hash.hex() if rows else None
        return LogStats(size, head, dict(by_type), dict(by_aggregate), len(partners))

    def close(self) -> None:
        """Flush pending writes and release connections."""
        self.app.close()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
