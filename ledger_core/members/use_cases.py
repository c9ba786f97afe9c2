"""The members context's use cases: what embedders (``ledger.membership``), the HTTP API and the CLI call.

Partner side (a partner only ever touches its own members): eligibility (with a signed enrollment link
for an eligible member not enrolled yet), enrollment status, outcome figures, reminders, eligibility
records. Operations side (staff name the partner explicitly, nothing is inferred): the enrollment steps,
subscriptions, erasure, rebuilding the outcome counters.

Identifiers are validated before anything is looked up (a malformed one is ``VALIDATION_ERROR``, never a
not-found). What a command needs and does not find is reported by the partner's member id
(:class:`MemberNotFound`, :class:`EnrollmentNotFound`, :class:`SubscriptionNotFound`). Nothing here hands
a partner an individual result, a reported health action or personal data: :class:`EnrollmentStatus`
carries the enrollment aggregate, whose plaintext fields are dates, stage and NPS answers (results and
actions are sealed); outcomes are suppressed aggregates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import NotFound
from ledger_core.engine.ports import Clock
from ledger_core.members.cost_model import CostModel
from ledger_core.members.eligibility import NOT_FOUND_REASON, EligibilityDecision, EligibilityService
from ledger_core.members.enrollment_changes import member_changes
from ledger_core.members.enrollments import Enrollment, EnrollmentResult, EnrollmentService, enrollment_id
from ledger_core.members.errors import EnrollmentNotFound, MemberNotEligible, MemberNotFound, SubscriptionNotFound
from ledger_core.members.member import ErasureResult, MemberResult, MemberService
from ledger_core.members.member_record import EligibilityRecord
from ledger_core.members.outcome_projection import OutcomeProjection
from ledger_core.members.outcomes import DEFAULT_SUPPRESSION_THRESHOLD, OutcomeReport
from ledger_core.members.ports import EnrollmentLinks
from ledger_core.members.reminders import ReminderResult, ReminderService
from ledger_core.members.subscriptions import SubscriptionResult, SubscriptionService
from ledger_core.shared.validation import check_identifier, check_partner_slug
from ledger_core.shared.vocabulary import SubscriptionStatus

NOT_ENROLLED_REASON = "Policyholder has not enrolled yet"
R = TypeVar("R")
_MISSING = {"enrollment": EnrollmentNotFound, "subscription": SubscriptionNotFound}


@dataclass(frozen=True, slots=True)
class MemberPolicy:
    """A deployment's settings for these use cases (the server's and the CLI's come from ``LEDGER_*``)."""

    suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
    """Outcome counts from 1 to ``threshold - 1`` are suppressed."""
    cost_model: CostModel | None = None
    """The outcome figures' cost model (None: :class:`CostModel`'s defaults)."""
    reminder_send_delay: timedelta = timedelta(0)
    """Added to the time a reminder is queued to estimate when it is sent."""


@dataclass(frozen=True, slots=True)
class Eligibility:
    """The eligibility answer; ``enrollment_url`` only for an eligible member not enrolled yet (and only where
    the deployment signs enrollment links)."""

    decision: EligibilityDecision
    enrollment_url: str | None = None


@dataclass(frozen=True, slots=True)
class EnrollmentStatus:
    """A member's enrollment (None before enrolling) and subscription status."""

    partner_member_id: str
    enrollment: Enrollment | None
    subscription: SubscriptionStatus = SubscriptionStatus.NONE


@dataclass(frozen=True)
class EnrollmentChange:
    """A member's enrollment changed at ``position`` (the cursor), ``changed_at``; ``status`` is as of now."""

    position: int
    changed_at: str
    status: EnrollmentStatus


@dataclass(frozen=True)
class EnrollmentChangesPage:
    """Changes oldest first, and whether more follow."""

    data: tuple[EnrollmentChange, ...]
    has_more: bool


class Membership:
    """Member commands and queries for partners and operations staff, over the members context's services."""

    def __init__(
        self,
        app: LedgerApplication,
        *,
        members: MemberService,
        eligibility: EligibilityService,
        enrollments: EnrollmentService,
        subscriptions: SubscriptionService,
        reminders: ReminderService,
        outcomes: OutcomeProjection,
        clock: Clock,
        links: EnrollmentLinks | None = None,
    ) -> None:
        self.app = app
        self._members = members
        self._eligibility = eligibility
        self._enrollments = enrollments
        self._subscriptions = subscriptions
        self._reminders = reminders
        self._outcomes = outcomes
        self.clock = clock
        self.links = links

    # -- partner side --------------------------------------------------------------------------------
    def eligibility(self, partner_id: str, partner_member_id: str) -> Eligibility:
        """Decide for the member today; :class:`MemberNotFound` (with the not-found reason) when unknown or erased."""
        decision = self._decide(partner_id, partner_member_id)
        if not decision.eligible or decision.enrolled or self.links is None:
            return Eligibility(decision)
        return Eligibility(decision, self.links.url(partner_id, decision.partner_member_id, self.clock()))

    def enrollment(self, partner_id: str, partner_member_id: str) -> EnrollmentStatus:
        """The member's enrollment and subscription status; :class:`MemberNotFound` when unknown or erased."""
        pmid = _member_id(partner_member_id)
        self._decide(partner_id, pmid)
        enrollment = self.app.find(Enrollment, enrollment_id(partner_id, pmid))
        if enrollment is None:
            return EnrollmentStatus(pmid, None)
        return EnrollmentStatus(pmid, enrollment, self._subscriptions.status(partner_id, pmid))

    def enrollment_changes(
        self, partner_id: str, *, since: str | None, limit: int, starting_after: int | None = None
    ) -> EnrollmentChangesPage:
        """Up to ``limit`` enrollment changes of the partner's members after the cursor (a log position),
        recorded at or after ``since`` (normalized RFC 3339); each with the member's status now, by the
        rules of :meth:`enrollment` (erased members left out). The API twin of the enrollment feed."""
        found: list[EnrollmentChange] = []
        for change in member_changes(self.app, partner_id, since, starting_after):
            try:
                status = self.enrollment(partner_id, change.partner_member_id)
            except MemberNotFound:  # erased since: nothing of them is shown any more
                continue
            found.append(EnrollmentChange(change.position, change.changed_at, status))
            if len(found) > limit:
                break
        return EnrollmentChangesPage(tuple(found[:limit]), len(found) > limit)

    def outcomes(self, partner_id: str, start: date, end: date) -> OutcomeReport:
        """The partner's outcome figures for whole calendar months ``[start, end]``, suppressed."""
        return self._outcomes.report(partner_id, start, end)

    def queue_reminder(
        self,
        partner_id: str,
        partner_member_id: str,
        reminder_type: str,
        message: str,
        idempotency_key: str | None = None,
    ) -> ReminderResult:
        """Queue a reminder for an eligible member: :class:`MemberNotEligible` otherwise (unknown and erased
        members included), :class:`ReminderNotApplicable` for an enrollment reminder after enrolling."""
        pmid = _member_id(partner_member_id)
        try:
            decision = self._eligibility.check(partner_id, pmid)
        except NotFound:
            decision = EligibilityDecision(pmid, False, NOT_FOUND_REASON, "member_present")
        if not decision.eligible:
            raise MemberNotEligible(pmid, decision.reason, decision.rule)
        return self._reminders.queue(partner_id, pmid, reminder_type, message, idempotency_key=idempotency_key)

    def upsert(self, partner_id: str, record: EligibilityRecord) -> MemberResult:
        """Register or update one eligibility record (personal fields sealed before anything is recorded)."""
        return self._members.upsert(partner_id, record)

    # -- operations side -----------------------------------------------------------------------------
    def enroll(self, partner_id: str, partner_member_id: str, enrollment_date: str) -> EnrollmentResult:
        """The member consented; :class:`NotEligible` when under 18 on the date or in a restricted state."""
        partner, pmid = _target(partner_id, partner_member_id)
        return _known(pmid, lambda: self._enrollments.enroll(partner, pmid, enrollment_date))

    def order_kit(self, partner_id: str, partner_member_id: str, kit_order_date: str) -> EnrollmentResult:
        partner, pmid = _target(partner_id, partner_member_id)
        return _known(pmid, lambda: self._enrollments.order_kit(partner, pmid, kit_order_date))

    def receive_sample(
        self, partner_id: str, partner_member_id: str, sample_received_date: str, estimated_result_date: str
    ) -> EnrollmentResult:
        partner, pmid = _target(partner_id, partner_member_id)
        return _known(
            pmid,
            lambda: self._enrollments.receive_sample(partner, pmid, sample_received_date, estimated_result_date),
        )

    def deliver_result(
        self, partner_id: str, partner_member_id: str, result_delivery_date: str, result_type: str
    ) -> EnrollmentResult:
        """Record the result's delivery; the result is sealed under the member's key at once."""
        partner, pmid = _target(partner_id, partner_member_id)
        return _known(pmid, lambda: self._enrollments.deliver_result(partner, pmid, result_delivery_date, result_type))

    def schedule_counseling(self, partner_id: str, partner_member_id: str, counseling_at: str) -> EnrollmentResult:
        partner, pmid = _target(partner_id, partner_member_id)
        return _known(pmid, lambda: self._enrollments.schedule_counseling(partner, pmid, counseling_at))

    def record_nps(self, partner_id: str, partner_member_id: str, score: int, kind: str) -> EnrollmentResult:
        partner, pmid = _target(partner_id, partner_member_id)
        return _known(pmid, lambda: self._enrollments.record_nps(partner, pmid, score, kind))

    def report_action(self, partner_id: str, partner_member_id: str, action: str) -> EnrollmentResult:
        """Record a member-reported health action (sealed; partners only ever see action rates)."""
        partner, pmid = _target(partner_id, partner_member_id)
        return _known(pmid, lambda: self._enrollments.report_action(partner, pmid, action))

    def start_subscription(
        self,
        partner_id: str,
        partner_member_id: str,
        *,
        start_date: str,
        amount: str | int | Decimal,
        currency: str,
        frequency: str,
    ) -> SubscriptionResult:
        """Start (or restart after a cancellation) the member's subscription."""
        partner, pmid = _target(partner_id, partner_member_id)
        return _known(
            pmid,
            lambda: self._subscriptions.start(
                partner, pmid, start_date=start_date, amount=amount, currency=currency, frequency=frequency
            ),
        )

    def cancel_subscription(
        self, partner_id: str, partner_member_id: str, *, cancellation_date: str, reason: str | None
    ) -> SubscriptionResult:
        partner, pmid = _target(partner_id, partner_member_id)
        return _known(
            pmid,
            lambda: self._subscriptions.cancel(partner, pmid, cancellation_date=cancellation_date, reason=reason),
        )

    def erase(self, partner_id: str, partner_member_id: str) -> ErasureResult:
        """Crypto-shred the member: out of the outcome figures, data key destroyed, erasure recorded."""
        partner, pmid = _target(partner_id, partner_member_id)
        return _known(pmid, lambda: self._members.erase(partner, pmid))

    def rebuild_outcomes(self) -> int:
        """Recompute every outcome counter from the full log; the number of counter rows written."""
        return self._outcomes.rebuild()

    def _decide(self, partner_id: str, partner_member_id: str) -> EligibilityDecision:
        pmid = _member_id(partner_member_id)
        try:
            return self._eligibility.check(partner_id, pmid)
        except NotFound:
            raise MemberNotFound(pmid, NOT_FOUND_REASON, eligible=False, reason=NOT_FOUND_REASON) from None


def _known(partner_member_id: str, command: Callable[[], R]) -> R:
    """Run ``command``; a missing member, enrollment or subscription is reported by ``partner_member_id``."""
    try:
        return command()
    except NotFound as missing:
        error = _MISSING.get(missing.kind, MemberNotFound)
        raise error(partner_member_id, f"{missing.kind} not found") from None


def _member_id(value: str) -> str:
    return check_identifier(value, "partner_member_id", max_length=64)


def _target(partner_id: str, partner_member_id: str) -> tuple[str, str]:
    return check_partner_slug(partner_id), _member_id(partner_member_id)
