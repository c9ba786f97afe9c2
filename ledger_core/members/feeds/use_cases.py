"""The feeds' use cases (``ledger.feeds``): what the file adapters (``adapters/feeds/processing.py``), the
``ledger feeds`` commands and the transport worker call. No file I/O here: files arrive as byte streams and
leave as rows.

* :meth:`Feeds.load_eligibility`: one inbound eligibility file (:mod:`~ledger_core.members.feeds.loading`).
* :meth:`Feeds.problems`: the recorded problems of a file, for its report.
* :meth:`Feeds.eligibility_notices` then :meth:`Feeds.claim_eligibility_email`: the "you're eligible"
  emails of a file (its new members who opted in), each claimed once in the log before it is sent.
* :meth:`Feeds.deliver_enrollment`: record an enrollment delivery (its log range) with its rows;
  :meth:`Feeds.plan_outcome` then :meth:`Feeds.outcome_rows` likewise for a month.
* :meth:`Feeds.status`: per partner, the last eligibility file and the last deliveries.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import orjson

from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.errors import PersonalDataErased
from ledger_core.members.feeds.deliveries import Delivery, FeedDeliveries, deliveries_id
from ledger_core.members.feeds.eligibility_file import EligibilityFile, FileStatus
from ledger_core.members.feeds.formats import FeedKind, RowProblem, enrollment_file_name, outcome_file_name
from ledger_core.members.feeds.loading import EligibilityLoader, FeedPolicy, LoadResult, OpenFile, Progress
from ledger_core.members.feeds.notifications import EligibilityNotice
from ledger_core.members.feeds.outbound import EnrollmentFeed, EnrollmentRows, OutcomeFeed
from ledger_core.members.feeds.ports import FeedLogReader, SaveQueue
from ledger_core.members.feeds.preparation import RowPreparer
from ledger_core.members.member import Member, MemberService, member_id, subject_of
from ledger_core.members.outcome_projection import OutcomeProjection
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import check_partner_slug

_FILE_EVENTS = (EligibilityFile.Completed.EVENT_TYPE, EligibilityFile.Rejected.EVENT_TYPE)


@dataclass(frozen=True, slots=True)
class EligibilityFileStatus:
    """The last eligibility file of a partner that was completed or rejected."""

    file_name: str
    status: FileStatus
    rows: int
    accepted: int
    refused: int
    recorded_at: str
    alert: bool


@dataclass(frozen=True, slots=True)
class PartnerFeedStatus:
    """What ``ledger feeds status`` shows for one partner."""

    partner_id: str
    eligibility: EligibilityFileStatus | None
    enrollment: Delivery | None
    outcome: Delivery | None


class Feeds:
    """Batch feeds of one ledger (seed 001 §2)."""

    def __init__(
        self,
        app: LedgerApplication,
        members: MemberService,
        outcomes: OutcomeProjection,
        log: FeedLogReader,
        *,
        policy: FeedPolicy | None = None,
        preparer: RowPreparer | None = None,
    ) -> None:
        self.app = app
        self.members = members
        self.log = log
        self.policy = policy or FeedPolicy()

        def present(ids: Sequence[UUID]) -> Collection[UUID]:
            return {UUID(found) for found in log.existing_aggregates([str(i) for i in ids])}

        self.loader = EligibilityLoader(app, members, outcomes, present=present, preparer=preparer)
        self.enrollment = EnrollmentFeed(app, log)
        self.outcome = OutcomeFeed(outcomes)

    # -- eligibility in ------------------------------------------------------------------------------
    def load_eligibility(
        self,
        partner_id: str,
        file_name: str,
        open_file: OpenFile,
        *,
        progress: Progress | None = None,
        saves: SaveQueue | None = None,
    ) -> LoadResult:
        return self.loader.load(partner_id, file_name, open_file, policy=self.policy, progress=progress, saves=saves)

    def problems(self, partner_id: str, digest: str) -> list[RowProblem]:
        return self.loader.problems(partner_id, digest)

    # -- "you're eligible" emails (seed 001 §2.2 step 5) ---------------------------------------------
    def eligibility_notices(self, partner_id: str, digest: str) -> list[EligibilityNotice]:
        """The members the file with ``digest`` registered who opted in to email (some may be emailed already)."""
        return self.loader.notices(check_partner_slug(partner_id), digest)

    def claim_eligibility_email(self, partner_id: str, notice: EligibilityNotice) -> str | None:
        """Record ``member.eligibility_emailed`` for the member, then open the member's own email address to
        send to; None (nothing recorded) when the member was emailed already, did not opt in or was erased.

        Recorded BEFORE the email is sent: a crash between the two loses that one email, never sends it
        twice (at most once per member). The address is decrypted here only, for the caller to send to.
        """
        member = self.app.find(Member, member_id(partner_id, notice.partner_member_id))
        if member is None or not member.record_eligibility_email(notice.file_id):
            return None
        save(self.app, member)
        try:
            return self.members.vault.open(subject_of(member.id), "email", member.personal["email"])
        except PersonalDataErased:  # erased between the claim and the opening: nothing to send
            return None

    # -- enrollment and outcome out ------------------------------------------------------------------
    def deliver_enrollment(self, partner_id: str, day: date, *, full: bool = False) -> tuple[Delivery, EnrollmentRows]:
        """The enrollment delivery of ``day`` and its rows, recorded once: incremental since the end of the last
        incremental delivery recorded, or everything (``full``); the same day and kind again returns the
        recorded delivery (and the rows of its recorded range)."""
        partner_id = check_partner_slug(partner_id)
        period = day.isoformat()
        deliveries = self._deliveries(partner_id, FeedKind.ENROLLMENT)
        found = deliveries.delivered(period, full)
        if found is not None:
            return found, self.enrollment_rows(partner_id, found)
        since = 0 if full else deliveries.through
        through = self.app.log_size()
        rows = self.enrollment.rows(partner_id, since, through)
        deliveries.deliver(
            period=period,
            file_name=enrollment_file_name(partner_id, day),
            since_position=since,
            through_position=through,
            rows=rows.count,
            full=full,
        )
        self.app.save(deliveries)
        return _must(deliveries.delivered(period, full)), rows

    def enrollment_rows(self, partner_id: str, delivery: Delivery) -> EnrollmentRows:
        """The rows of a recorded delivery (a function of its log range)."""
        return self.enrollment.rows(partner_id, delivery.since_position, delivery.through_position)

    def plan_outcome(self, partner_id: str, month: date) -> Delivery:
        """Record (once) the outcome delivery for ``month`` (any day of it)."""
        partner_id = check_partner_slug(partner_id)
        period = month.strftime("%Y-%m")
        deliveries = self._deliveries(partner_id, FeedKind.OUTCOME)
        found = deliveries.delivered(period, True)
        if found is not None:
            return found
        rows = sum(1 for _ in self.outcome.rows(partner_id, month))
        through = self.app.log_size()
        deliveries.deliver(
            period=period,
            file_name=outcome_file_name(partner_id, month),
            since_position=0,
            through_position=through,
            rows=rows,
            full=True,
        )
        self.app.save(deliveries)
        return _must(deliveries.delivered(period, True))

    def outcome_rows(self, partner_id: str, month: date) -> Iterator[tuple[str, str, str, str]]:
        return self.outcome.rows(partner_id, month)

    def _deliveries(self, partner_id: str, kind: FeedKind) -> FeedDeliveries:
        found = self.app.find(FeedDeliveries, deliveries_id(partner_id, kind))
        return found if found is not None else FeedDeliveries.open(partner_id, kind)

    # -- status --------------------------------------------------------------------------------------
    def status(self, partner_id: str) -> PartnerFeedStatus:
        partner_id = check_partner_slug(partner_id)
        enrollment = self.app.find(FeedDeliveries, deliveries_id(partner_id, FeedKind.ENROLLMENT))
        outcome = self.app.find(FeedDeliveries, deliveries_id(partner_id, FeedKind.OUTCOME))
        return PartnerFeedStatus(
            partner_id,
            self._last_file(partner_id),
            None if enrollment is None else enrollment.last,
            None if outcome is None else outcome.last,
        )

    def _last_file(self, partner_id: str) -> EligibilityFileStatus | None:
        rows = self.log.partner_rows_of_types(
            partner_id, _FILE_EVENTS, start=0, stop=self.app.log_size(), limit=1, descending=True
        )
        if not rows:
            return None
        entry = orjson.loads(rows[0].entry)
        file = self.app.find(EligibilityFile, UUID(rows[0].aggregate_id))
        if file is None:
            return None
        return EligibilityFileStatus(
            file.file_name, file.status, file.rows, file.accepted, file.refused, entry["recordedAt"], file.alert
        )


def _must(delivery: Delivery | None) -> Delivery:
    if delivery is None:
        raise InvalidCommand("delivery was not recorded", field="delivery")
    return delivery
