"""What the eligibility, enrollment, outcome, reminder and member endpoints ask of the ledger (blocking calls
run in worker threads), for partners and for the operations side.

Partner calls take the authenticated partner id and only ever touch that partner's members. Nothing
here returns an individual result, a reported health action or personal data to a partner: enrollment
views are built from plaintext fields of the log (dates, stage, NPS) and ``result_type`` is always
None; outcomes are suppressed aggregates. The operations side names the partner explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from api.client.schemas import members as schemas
from api.http.errors import ApiError
from api.security.enrollment_tokens import EnrollmentTokens
from api.settings import Settings
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.ledger import Ledger
from ledger_core.members.cost_model import CostModel
from ledger_core.members.eligibility import NOT_FOUND_REASON, EligibilityDecision
from ledger_core.members.enrollments import Enrollment, EnrollmentResult, enrollment_id
from ledger_core.members.member import EligibilityRecord, ErasureResult, MemberResult
from ledger_core.members.outcomes import OutcomeReport
from ledger_core.members.reminders import ReminderResult
from ledger_core.members.subscriptions import SubscriptionResult
from ledger_core.shared.validation import check_identifier, check_partner_slug, parse_date
from ledger_core.shared.vocabulary import NpsKind, SubscriptionStatus

NOT_ENROLLED_REASON = "Policyholder has not enrolled yet"
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class MemberSettings:
    """The deployment settings these endpoints use (from :class:`api.settings.Settings`)."""

    suppression_threshold: int
    cost_model: CostModel
    reminder_send_delay: timedelta


def member_not_found(partner_member_id: str) -> ApiError:
    """404 with the seed's not-found eligibility body in the envelope's details."""
    return ApiError(
        "MEMBER_NOT_FOUND",
        NOT_FOUND_REASON,
        partner_member_id=partner_member_id,
        eligible=False,
        reason=NOT_FOUND_REASON,
    )


def build_member_operations(
    ledger: Ledger, settings: Settings, deployment_secret: bytes, clock: Callable[[], datetime]
) -> MemberOperations:
    """The composition root's helper: enrollment tokens and deployment settings from ``settings``."""
    tokens = EnrollmentTokens(
        deployment_secret,
        issuer=settings.issuer,
        base_url=settings.enrollment_base_url,
        ttl=timedelta(seconds=settings.enrollment_token_ttl_seconds),
    )
    member_settings = MemberSettings(
        suppression_threshold=settings.outcome_suppression_threshold,
        cost_model=CostModel.from_mapping(dict(settings.cost_model)),
        reminder_send_delay=timedelta(seconds=settings.reminder_send_delay_seconds),
    )
    return MemberOperations(ledger, tokens, member_settings, clock)


class MemberOperations:
    """Commands and queries about members, over one :class:`Ledger`."""

    def __init__(
        self, ledger: Ledger, tokens: EnrollmentTokens, settings: MemberSettings, clock: Callable[[], datetime]
    ) -> None:
        self.ledger = ledger
        self.tokens = tokens
        self.settings = settings
        self.clock = clock
        ledger.reminders.send_delay = settings.reminder_send_delay

    # -- partner side --------------------------------------------------------------------------------
    def eligibility(self, partner_id: str, partner_member_id: str) -> schemas.EligibilityResponse:
        decision = self._decide(partner_id, partner_member_id)
        url = None
        if decision.eligible and not decision.enrolled:
            url = self.tokens.url(partner_id, decision.partner_member_id, self.clock())
        return schemas.EligibilityResponse(
            partner_member_id=decision.partner_member_id,
            eligible=decision.eligible,
            reason=decision.reason,
            enrollment_url=url,
            enrolled=decision.enrolled,
            rule=decision.rule,
        )

    def enrollment(self, partner_id: str, partner_member_id: str) -> schemas.EnrollmentResponse:
        pmid = _member_id_param(partner_member_id)
        self._decide(partner_id, pmid)  # 404 for an unknown or erased member
        enrollment = self.ledger.app.find(Enrollment, enrollment_id(partner_id, pmid))
        if enrollment is None:
            return schemas.EnrollmentResponse(partner_member_id=pmid, enrolled=False, reason=NOT_ENROLLED_REASON)
        subscription = self.ledger.subscriptions.status(partner_id, pmid)
        return schemas.EnrollmentResponse(
            partner_member_id=pmid,
            enrolled=True,
            enrollment_date=enrollment.enrollment_date.isoformat(),
            test_status=enrollment.stage.value,
            kit_order_date=_iso(enrollment.kit_order_date),
            sample_received_date=_iso(enrollment.sample_received_date),
            estimated_result_date=_iso(enrollment.estimated_result_date),
            result_delivery_date=_iso(enrollment.result_delivery_date),
            result_type=None,
            counseling_scheduled=enrollment.counseling_at is not None,
            counseling_date=enrollment.counseling_at,
            subscription_status=SubscriptionStatus(subscription).value,
            nps_score=enrollment.nps.get(NpsKind.OVERALL),
        )

    def outcomes(self, partner_id: str, start: str, end: str) -> OutcomeReport:
        first = _date_param(start, "start_date")
        last = _date_param(end, "end_date")
        try:
            return self.ledger.outcomes.report(
                partner_id,
                first,
                last,
                cost_model=self.settings.cost_model,
                threshold=self.settings.suppression_threshold,
            )
        except InvalidCommand as error:  # the period's rules; the seed's snake_case parameter names
            raise ApiError("VALIDATION_ERROR", error.message, field=error.details.get("field")) from None

    def queue_reminder(
        self, partner_id: str, request: schemas.ReminderRequest, idempotency_key: str | None
    ) -> ReminderResult:
        """404 ``MEMBER_NOT_ELIGIBLE`` unless the member is eligible; 400 ``REMINDER_NOT_APPLICABLE`` for an
        enrollment reminder to an enrolled member (the service's rule)."""
        pmid = _member_id_param(request.partner_member_id)
        try:
            decision = self.ledger.eligibility.check(partner_id, pmid)
        except NotFound:
            decision = EligibilityDecision(pmid, False, NOT_FOUND_REASON, "member_present")
        if not decision.eligible:
            raise ApiError(
                "MEMBER_NOT_ELIGIBLE", decision.reason, partner_member_id=pmid, eligible=False, rule=decision.rule
            )
        return self.ledger.reminders.queue(
            partner_id, pmid, request.reminder_type, request.message, idempotency_key=idempotency_key
        )

    def upsert_member(self, partner_id: str, record: schemas.MemberRecord) -> MemberResult:
        return self.ledger.members.upsert(
            partner_id,
            EligibilityRecord(
                partner_member_id=record.partner_member_id,
                email=record.email,
                first_name=record.first_name,
                last_name=record.last_name,
                date_of_birth=record.date_of_birth,
                state=record.state,
                policy_type=record.policy_type,
                gender=record.gender,
                policy_start_date=record.policy_start_date,
            ),
        )

    def _decide(self, partner_id: str, partner_member_id: str) -> EligibilityDecision:
        pmid = _member_id_param(partner_member_id)
        try:
            return self.ledger.eligibility.check(partner_id, pmid)
        except NotFound:
            raise member_not_found(pmid) from None

    # -- operations side -----------------------------------------------------------------------------
    def enroll(self, partner_id: str, pmid: str, body: schemas.EnrollRequest) -> EnrollmentResult:
        partner_id, pmid = _target(partner_id, pmid)
        return self._known(pmid, lambda: self.ledger.enrollments.enroll(partner_id, pmid, body.enrollment_date))

    def order_kit(self, partner_id: str, pmid: str, body: schemas.KitRequest) -> EnrollmentResult:
        partner_id, pmid = _target(partner_id, pmid)
        return self._known(pmid, lambda: self.ledger.enrollments.order_kit(partner_id, pmid, body.kit_order_date))

    def receive_sample(self, partner_id: str, pmid: str, body: schemas.SampleRequest) -> EnrollmentResult:
        partner_id, pmid = _target(partner_id, pmid)
        return self._known(
            pmid,
            lambda: self.ledger.enrollments.receive_sample(
                partner_id, pmid, body.sample_received_date, body.estimated_result_date
            ),
        )

    def deliver_result(self, partner_id: str, pmid: str, body: schemas.ResultRequest) -> EnrollmentResult:
        partner_id, pmid = _target(partner_id, pmid)
        return self._known(
            pmid,
            lambda: self.ledger.enrollments.deliver_result(
                partner_id, pmid, body.result_delivery_date, body.result_type
            ),
        )

    def schedule_counseling(self, partner_id: str, pmid: str, body: schemas.CounselingRequest) -> EnrollmentResult:
        partner_id, pmid = _target(partner_id, pmid)
        return self._known(
            pmid, lambda: self.ledger.enrollments.schedule_counseling(partner_id, pmid, body.counseling_at)
        )

    def record_nps(self, partner_id: str, pmid: str, body: schemas.NpsRequest) -> EnrollmentResult:
        partner_id, pmid = _target(partner_id, pmid)
        return self._known(pmid, lambda: self.ledger.enrollments.record_nps(partner_id, pmid, body.score, body.kind))

    def report_action(self, partner_id: str, pmid: str, body: schemas.ActionRequest) -> EnrollmentResult:
        partner_id, pmid = _target(partner_id, pmid)
        return self._known(pmid, lambda: self.ledger.enrollments.report_action(partner_id, pmid, body.action))

    def start_subscription(
        self, partner_id: str, pmid: str, body: schemas.SubscriptionStartRequest
    ) -> SubscriptionResult:
        partner_id, pmid = _target(partner_id, pmid)
        amount: Decimal = body.amount
        return self._known(
            pmid,
            lambda: self.ledger.subscriptions.start(
                partner_id,
                pmid,
                start_date=body.start_date,
                amount=amount,
                currency=body.currency,
                frequency=body.frequency,
            ),
        )

    def cancel_subscription(
        self, partner_id: str, pmid: str, body: schemas.SubscriptionCancelRequest
    ) -> SubscriptionResult:
        partner_id, pmid = _target(partner_id, pmid)
        return self._known(
            pmid,
            lambda: self.ledger.subscriptions.cancel(
                partner_id, pmid, cancellation_date=body.cancellation_date, reason=body.reason
            ),
        )

    def erase(self, partner_id: str, pmid: str) -> ErasureResult:
        partner_id, pmid = _target(partner_id, pmid)
        return self._known(pmid, lambda: self.ledger.members.erase(partner_id, pmid))

    def rebuild_outcomes(self) -> int:
        return self.ledger.outcomes.rebuild()

    def _known(self, pmid: str, command: Callable[[], R]) -> R:
        """Run ``command``; a missing member, enrollment or subscription is reported by partner_member_id."""
        try:
            return command()
        except NotFound as missing:
            code = {"enrollment": "ENROLLMENT_NOT_FOUND", "subscription": "SUBSCRIPTION_NOT_FOUND"}.get(
                missing.kind, "MEMBER_NOT_FOUND"
            )
            raise ApiError(code, f"{missing.kind} not found", partner_member_id=pmid) from None


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _member_id_param(value: str) -> str:
    return check_identifier(value, "partner_member_id", max_length=64)


def _target(partner_id: str, partner_member_id: str) -> tuple[str, str]:
    return check_partner_slug(partner_id), _member_id_param(partner_member_id)


def _date_param(value: str, name: str) -> date:
    try:
        return parse_date(value, name)
    except InvalidCommand as error:
        raise ApiError("VALIDATION_ERROR", error.message, field=name) from None


def operation_response(partner_id: str, result: EnrollmentResult | SubscriptionResult) -> schemas.OperationResponse:
    status = result.stage if isinstance(result, EnrollmentResult) else result.status
    return schemas.OperationResponse(
        partner_id=partner_id,
        partner_member_id=result.partner_member_id,
        status=status,
        positions=list(result.positions),
    )


def report_response(report: OutcomeReport) -> schemas.OutcomesResponse:
    return schemas.OutcomesResponse(
        partner_id=report.partner_id,
        period_start=report.period_start.isoformat(),
        period_end=report.period_end.isoformat(),
        metrics=schemas.OutcomeMetrics(**report.metrics),  # type: ignore[arg-type]
        suppressed=list(report.suppressed),
        suppression_threshold=report.suppression_threshold,
    )


def members_of(runtime_members: MemberOperations | None) -> MemberOperations:
    """The runtime's :class:`MemberOperations` (always built by ``open_runtime``; a test runtime may lack it)."""
    if runtime_members is None:
        raise ApiError("SERVICE_UNAVAILABLE", "member operations are not configured on this server")
    return runtime_members
