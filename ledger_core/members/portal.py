"""The member portal's use cases (issue 17 item 1): what a signed-in policyholder sees and does for themself.

Every command is the operations path's own (:class:`~ledger_core.members.use_cases.Membership`), dated
today by the ledger's clock, so the log reads the same whichever way a member enrolled: enrolling is the
member's consent (``enrollment.enrolled``), subscribing is ``subscription.started`` (or ``.restarted``)
on the monitoring plan of seed 001 §4.3 (annual, 30-75 USD a year; :data:`ANNUAL_MONITORING`).

Who the member is comes from their signed-in session (the caller resolves the session's account to the
partner's member id): nothing here takes a member id from a request. :meth:`MemberPortal.own_result` is
the only place a result is opened for display, and only for that member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ledger_core.engine.ports import Clock
from ledger_core.members.eligibility import EligibilityDecision
from ledger_core.members.enrollments import EnrollmentResult, EnrollmentService, Stage
from ledger_core.members.errors import ConsentRequired, MemberNotEligible
from ledger_core.members.subscriptions import SubscriptionResult
from ledger_core.members.use_cases import EnrollmentStatus, Membership
from ledger_core.shared.service_support import today
from ledger_core.shared.vocabulary import ResultType, SubscriptionFrequency, SubscriptionStatus

CANCELLED_IN_PORTAL = "cancelled by the member in the portal"


@dataclass(frozen=True, slots=True)
class MonitoringPlan:
    """The terms a member subscribes to from the portal."""

    amount: str
    currency: str
    frequency: SubscriptionFrequency


ANNUAL_MONITORING = MonitoringPlan("50.00", "USD", SubscriptionFrequency.ANNUAL)
"""Seed 001 §4.3 event 4: annual monitoring, ``subscription_amount: 50.0``."""


@dataclass(frozen=True, slots=True)
class PortalMember:
    """The signed-in member: their partner and the partner's id of them (from the session, never a form)."""

    partner_id: str
    partner_member_id: str


@dataclass(frozen=True, slots=True)
class ProgressStep:
    """One step of the testing journey and the date it was reached (None: not yet)."""

    stage: Stage
    reached_on: date | None


@dataclass(frozen=True, slots=True)
class PortalOverview:
    """What the portal's home shows: eligibility, the journey so far, the subscription; no result value."""

    member: PortalMember
    eligibility: EligibilityDecision
    status: EnrollmentStatus
    steps: tuple[ProgressStep, ...]
    estimated_result_date: date | None
    plan: MonitoringPlan

    @property
    def enrolled(self) -> bool:
        return self.status.enrollment is not None

    @property
    def can_enroll(self) -> bool:
        return self.eligibility.eligible and not self.enrolled

    @property
    def result_ready(self) -> bool:
        enrollment = self.status.enrollment
        return enrollment is not None and enrollment.stage is Stage.RESULT_DELIVERED

    @property
    def subscribed(self) -> bool:
        return self.status.subscription is SubscriptionStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class OwnResult:
    """A member's own result (None before delivery) and the day it was delivered."""

    result_type: ResultType | None
    delivered_on: date | None


class MemberPortal:
    """The member's own view and commands, over the operations use cases."""

    def __init__(
        self,
        membership: Membership,
        enrollments: EnrollmentService,
        clock: Clock,
        plan: MonitoringPlan = ANNUAL_MONITORING,
    ) -> None:
        self._membership = membership
        self._enrollments = enrollments
        self._clock = clock
        self.plan = plan

    def overview(self, member: PortalMember) -> PortalOverview:
        """Eligibility today, enrollment steps and subscription (:class:`MemberNotFound` for no record)."""
        decision = self._membership.eligibility(member.partner_id, member.partner_member_id).decision
        status = self._membership.enrollment(member.partner_id, member.partner_member_id)
        enrollment = status.enrollment
        reached = (
            {}
            if enrollment is None
            else {
                Stage.ENROLLED: enrollment.enrollment_date,
                Stage.KIT_ORDERED: enrollment.kit_order_date,
                Stage.SAMPLE_RECEIVED: enrollment.sample_received_date,
                Stage.RESULT_DELIVERED: enrollment.result_delivery_date,
            }
        )
        steps = tuple(ProgressStep(stage, reached.get(stage)) for stage in Stage)
        estimate = None if enrollment is None else enrollment.estimated_result_date
        return PortalOverview(member, decision, status, steps, estimate, self.plan)

    def enroll(self, member: PortalMember, *, consented: bool) -> EnrollmentResult:
        """The member consents to testing today: :meth:`Membership.enroll`, after the consent check
        (:class:`ConsentRequired` without it) and the eligibility check (:class:`MemberNotEligible` with
        the failing rule when not eligible)."""
        if not consented:
            raise ConsentRequired(member.partner_member_id)
        decision = self._membership.eligibility(member.partner_id, member.partner_member_id).decision
        if not decision.eligible:
            raise MemberNotEligible(decision.partner_member_id, decision.reason, decision.rule)
        return self._membership.enroll(member.partner_id, member.partner_member_id, self._today())

    def own_result(self, member: PortalMember) -> OwnResult:
        """The member's own result, opened with their data key (none before delivery or enrollment)."""
        status = self._membership.enrollment(member.partner_id, member.partner_member_id)
        if status.enrollment is None:
            return OwnResult(None, None)
        revealed = self._enrollments.reveal_result(member.partner_id, member.partner_member_id)
        return OwnResult(None if revealed is None else ResultType(revealed), status.enrollment.result_delivery_date)

    def subscribe(self, member: PortalMember) -> SubscriptionResult:
        """Start (or restart) monitoring on :attr:`plan`, from today."""
        return self._membership.start_subscription(
            member.partner_id,
            member.partner_member_id,
            start_date=self._today(),
            amount=self.plan.amount,
            currency=self.plan.currency,
            frequency=self.plan.frequency.value,
        )

    def cancel_subscription(self, member: PortalMember) -> SubscriptionResult:
        """Cancel monitoring today."""
        return self._membership.cancel_subscription(
            member.partner_id, member.partner_member_id, cancellation_date=self._today(), reason=CANCELLED_IN_PORTAL
        )

    def _today(self) -> str:
        return today(self._clock).isoformat()
