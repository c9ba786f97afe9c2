"""Enrollments: a member's path through testing (seed 001 §2.3, §3.3 endpoint 2, §4.3 webhooks).

Stages, in order (no skipping, no going back)::

    enrolled -> kit_ordered -> sample_received -> result_delivered

Each step's date may not precede the previous step's. After the result: counseling may be (re)scheduled,
NPS recorded once per kind (``counseling`` only once counseling is scheduled) and follow-up actions
reported. Repeating a step with identical data records nothing; with other data it is an
:class:`InvalidTransition`. Enrolling requires the member to be 18+ on the enrollment date and to live in
an eligible state: :class:`EnrollmentService` opens the member's sealed date of birth through the vault
for the check, so nothing derived from it enters the log; an erased member cannot enroll
(:class:`PersonalDataErased`).

The genetic result and the follow-up health actions (``smoking_cessation``, ``family_testing``, ... say
much about the result) are stored only sealed under the member's key (:mod:`ledger_core.members.privacy`),
padded to one length so the ciphertext's size tells nothing (:func:`seal_choice`);
actions also carry a salted commitment so a repeated action is recognized without opening anything.
Partners never see either; erasing the member shreds both. Every step for an erased member is refused
(:class:`PersonalDataErased`): their record is frozen, and sealing would otherwise ask for a fresh key
for the erased subject. Each saved step tells the outcome projection (:mod:`ledger_core.members.outcome_projection`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar
from uuid import UUID

from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import InvalidCommand, InvalidTransition
from ledger_core.members.errors import NotEligible, PersonalDataErased
from ledger_core.members.member import Member, member_id, member_subject
from ledger_core.members.member_record import is_adult
from ledger_core.members.outcomes import ChangeTracker, NoTracking
from ledger_core.members.privacy import PersonalDataVault, check_commitment, check_sealed
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import (
    check_identifier,
    check_int,
    check_partner_slug,
    normalize_timestamp,
    parse_choice,
    parse_date,
)
from ledger_core.shared.vocabulary import US_STATE_CODES, HealthAction, NpsKind, ResultType

CHOICE_PADDED_BYTES = 32
"""Results and actions are sealed padded with spaces to this length: every ciphertext of a field has the
same size, so its length cannot tell a ``doctor_visit`` from a ``smoking_cessation`` (AES-GCM keeps the
plaintext's length)."""


def seal_choice(vault: PersonalDataVault, subject: str, field: str, value: str) -> dict[str, Any]:
    """Seal a closed-vocabulary value (a result type, an action) padded to :data:`CHOICE_PADDED_BYTES`."""
    return vault.seal(subject, field, value.ljust(CHOICE_PADDED_BYTES))


def open_choice(vault: PersonalDataVault, subject: str, field: str, sealed: Mapping[str, Any]) -> str:
    """Open a value sealed by :func:`seal_choice` (values sealed before padding existed open unchanged)."""
    return vault.open(subject, field, sealed).rstrip(" ")


class Stage(StrEnum):
    ENROLLED = "enrolled"
    KIT_ORDERED = "kit_ordered"
    SAMPLE_RECEIVED = "sample_received"
    RESULT_DELIVERED = "result_delivered"


_ORDER = list(Stage)


def enrollment_id(partner_id: str, partner_member_id: str) -> UUID:
    return derive_id("enrollment", partner_id, partner_member_id)


def _not_before(value: date, field: str, earlier: date, earlier_field: str) -> None:
    if value < earlier:
        raise InvalidCommand(
            f"{field} is before {earlier_field}", field=field, value=value.isoformat(), not_before=earlier.isoformat()
        )


class Enrollment(LedgerAggregate):
    """One member's enrollment in testing and what followed."""

    AGGREGATE_TYPE: ClassVar[str] = "Enrollment"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Enrolled(Created):
        EVENT_TYPE: ClassVar[str] = "enrollment.enrolled"
        partner_member_id: str
        enrollment_date: str
        state: str

    class KitOrdered(Event):
        EVENT_TYPE: ClassVar[str] = "enrollment.kit_ordered"
        kit_order_date: str

        def apply(self, aggregate: Enrollment) -> None:
            aggregate.stage, aggregate.kit_order_date = Stage.KIT_ORDERED, date.fromisoformat(self.kit_order_date)
            aggregate.last_step_date = aggregate.kit_order_date

    class SampleReceived(Event):
        EVENT_TYPE: ClassVar[str] = "enrollment.sample_received"
        sample_received_date: str
        estimated_result_date: str

        def apply(self, aggregate: Enrollment) -> None:
            aggregate.stage = Stage.SAMPLE_RECEIVED
            aggregate.sample_received_date = date.fromisoformat(self.sample_received_date)
            aggregate.estimated_result_date = date.fromisoformat(self.estimated_result_date)
            aggregate.last_step_date = aggregate.sample_received_date

    class ResultDelivered(Event):
        EVENT_TYPE: ClassVar[str] = "enrollment.result_delivered"
        result_delivery_date: str
        result_type: dict[str, Any]  # sealed: {"sealed": {...}}

        def apply(self, aggregate: Enrollment) -> None:
            aggregate.stage = Stage.RESULT_DELIVERED
            aggregate.result_delivery_date = date.fromisoformat(self.result_delivery_date)
            aggregate.last_step_date = aggregate.result_delivery_date
            aggregate.sealed_result_type = dict(self.result_type)

    class CounselingScheduled(Event):
        EVENT_TYPE: ClassVar[str] = "enrollment.counseling_scheduled"
        counseling_at: str

        def apply(self, aggregate: Enrollment) -> None:
            aggregate.counseling_at = self.counseling_at

    class NpsRecorded(Event):
        EVENT_TYPE: ClassVar[str] = "enrollment.nps_recorded"
        score: int
        kind: str

        def apply(self, aggregate: Enrollment) -> None:
            aggregate.nps[NpsKind(self.kind)] = self.score

    class ActionReported(Event):
        EVENT_TYPE: ClassVar[str] = "enrollment.action_reported"
        action: dict[str, Any]  # sealed: {"sealed": {...}}
        action_commitment: dict[str, str]  # {"commitment": <hex>}: recognizes a repeat without opening

        def apply(self, aggregate: Enrollment) -> None:
            aggregate.sealed_actions = (*aggregate.sealed_actions, dict(self.action))
            aggregate.action_commitments = (*aggregate.action_commitments, self.action_commitment["commitment"])

    def __init__(self, partner_id: str | None, partner_member_id: str, enrollment_date: str, state: str) -> None:
        self.partner_id = partner_id
        self.partner_member_id = partner_member_id
        self.enrollment_date = date.fromisoformat(enrollment_date)
        self.state = state
        self.stage = Stage.ENROLLED
        self.last_step_date = self.enrollment_date  # the date of the latest stage reached
        self.kit_order_date: date | None = None
        self.sample_received_date: date | None = None
        self.estimated_result_date: date | None = None
        self.result_delivery_date: date | None = None
        self.sealed_result_type: dict[str, Any] | None = None
        self.counseling_at: str | None = None
        self.nps: dict[NpsKind, int] = {}
        self.sealed_actions: tuple[dict[str, Any], ...] = ()
        self.action_commitments: tuple[str, ...] = ()

    @classmethod
    def enroll(
        cls,
        *,
        partner_id: str,
        partner_member_id: str,
        enrollment_date: str,
        date_of_birth: date,
        state: str,
        restricted_states: Collection[str] = frozenset(),
    ) -> Enrollment:
        """Enroll a member who is 18+ on ``enrollment_date`` and lives outside ``restricted_states``.

        ``date_of_birth`` is plaintext opened by the service for this check only; it is not recorded.
        """
        partner_id = check_partner_slug(partner_id)
        pmid = check_identifier(partner_member_id, "partner_member_id", max_length=64)
        day = parse_date(enrollment_date, "enrollment_date")
        if state not in US_STATE_CODES or state in restricted_states:
            raise NotEligible(pmid, "state_allowed", f"genetic testing is not offered in {state}", state=state)
        if not is_adult(date_of_birth, day):
            raise NotEligible(pmid, "age_18_plus", "member is under 18 on the enrollment date", on=day.isoformat())
        return cls._create(
            cls.Enrolled,
            id=enrollment_id(partner_id, pmid),
            partner_id=partner_id,
            partner_member_id=pmid,
            enrollment_date=day.isoformat(),
            state=state,
        )

    def order_kit(self, kit_order_date: str) -> None:
        day = parse_date(kit_order_date, "kit_order_date")
        if self._repeat(Stage.KIT_ORDERED, self.kit_order_date == day):
            return
        _not_before(day, "kit_order_date", self.last_step_date, "enrollment_date")
        self.trigger_event(self.KitOrdered, kit_order_date=day.isoformat())

    def receive_sample(self, sample_received_date: str, estimated_result_date: str) -> None:
        day = parse_date(sample_received_date, "sample_received_date")
        estimate = parse_date(estimated_result_date, "estimated_result_date")
        same = (self.sample_received_date, self.estimated_result_date) == (day, estimate)
        if self._repeat(Stage.SAMPLE_RECEIVED, same):
            return
        _not_before(day, "sample_received_date", self.last_step_date, "kit_order_date")
        _not_before(estimate, "estimated_result_date", day, "sample_received_date")
        self.trigger_event(
            self.SampleReceived, sample_received_date=day.isoformat(), estimated_result_date=estimate.isoformat()
        )

    def deliver_result(self, result_delivery_date: str, result_type: Mapping[str, Any]) -> None:
        """Record delivery; ``result_type`` must be sealed. A result is delivered once (repeats are refused)."""
        day = parse_date(result_delivery_date, "result_delivery_date")
        sealed = check_sealed(result_type, "result_type")
        self._repeat(Stage.RESULT_DELIVERED, False)
        _not_before(day, "result_delivery_date", self.last_step_date, "sample_received_date")
        self.trigger_event(self.ResultDelivered, result_delivery_date=day.isoformat(), result_type=sealed)

    def schedule_counseling(self, counseling_at: str) -> None:
        """(Re)schedule genetic counseling at an RFC 3339 time on or after the result delivery date."""
        when = normalize_timestamp(counseling_at, "counseling_at")
        self._require_result("schedule_counseling")
        _not_before(date.fromisoformat(when[:10]), "counseling_at", self.last_step_date, "result_delivery_date")
        if when != self.counseling_at:
            self.trigger_event(self.CounselingScheduled, counseling_at=when)

    def record_nps(self, score: int, kind: str) -> None:
        """Record a 0..10 Net Promoter answer, once per kind."""
        value = check_int(score, "score", minimum=0, maximum=10)
        nps_kind = parse_choice(NpsKind, kind, "kind")
        self._require_result("record_nps")
        if nps_kind is NpsKind.COUNSELING and self.counseling_at is None:
            raise InvalidTransition("enrollment", "counseling_not_scheduled", "record_nps")
        if nps_kind in self.nps:
            if self.nps[nps_kind] == value:
                return
            raise InvalidTransition("enrollment", f"nps_{nps_kind.value}_recorded", "record_nps")
        self.trigger_event(self.NpsRecorded, score=value, kind=nps_kind.value)

    def report_action(self, action: Mapping[str, Any], action_commitment: Mapping[str, Any]) -> None:
        """Record a follow-up action (sealed, with its commitment) after the result; each action once."""
        sealed = check_sealed(action, "action")
        commitment = check_commitment(action_commitment, "action_commitment")
        self._require_result("report_action")
        if commitment["commitment"] not in self.action_commitments:
            self.trigger_event(self.ActionReported, action=sealed, action_commitment=commitment)

    def _repeat(self, step: Stage, identical: bool) -> bool:
        """True if ``step`` was already taken with identical data; raise if it cannot be taken now."""
        reached = _ORDER.index(self.stage) >= _ORDER.index(step)
        if reached and identical:
            return True
        if reached or _ORDER.index(self.stage) != _ORDER.index(step) - 1:
            raise InvalidTransition("enrollment", self.stage.value, step.value)
        return False

    def _require_result(self, attempted: str) -> None:
        if self.stage is not Stage.RESULT_DELIVERED:
            raise InvalidTransition("enrollment", self.stage.value, attempted)


@dataclass(frozen=True, slots=True)
class EnrollmentResult:
    enrollment_id: UUID
    partner_member_id: str
    stage: str
    positions: tuple[int, ...]


class EnrollmentService:
    """Enrollment commands; ``restricted_states`` lists states where testing is not offered (none by default:
    the seed says some states restrict genetic testing but does not name them)."""

    def __init__(
        self,
        app: LedgerApplication,
        vault: PersonalDataVault,
        restricted_states: Collection[str] = frozenset(),
        outcomes: ChangeTracker | None = None,
    ) -> None:
        self.app = app
        self.vault = vault
        self.restricted_states = frozenset(restricted_states)
        self.outcomes: ChangeTracker = outcomes or NoTracking()

    def get(self, partner_id: str, partner_member_id: str) -> Enrollment:
        return self.app.load(Enrollment, enrollment_id(partner_id, partner_member_id), "enrollment")

    def enroll(self, partner_id: str, partner_member_id: str, enrollment_date: str) -> EnrollmentResult:
        """Enroll an eligible member; enrolling again on the same date records nothing.

        Raises :class:`NotFound` for an unknown member, :class:`PersonalDataErased` for an erased one and
        :class:`NotEligible` (``age_18_plus`` from the sealed date of birth, or ``state_allowed``).
        """
        member = self._member(partner_id, partner_member_id)
        existing = self.app.find(Enrollment, enrollment_id(partner_id, partner_member_id))
        if existing is not None:
            if existing.enrollment_date != parse_date(enrollment_date, "enrollment_date"):
                raise InvalidTransition("enrollment", existing.stage.value, "enroll")
            return self._result(existing)
        subject = member_subject(partner_id, member.partner_member_id)
        born = date.fromisoformat(self.vault.open(subject, "date_of_birth", member.personal["date_of_birth"]))
        enrollment = Enrollment.enroll(
            partner_id=partner_id,
            partner_member_id=partner_member_id,
            enrollment_date=enrollment_date,
            date_of_birth=born,
            state=member.state,
            restricted_states=self.restricted_states,
        )
        return self._result(enrollment)

    def order_kit(self, partner_id: str, partner_member_id: str, kit_order_date: str) -> EnrollmentResult:
        return self._run(partner_id, partner_member_id, lambda e: e.order_kit(kit_order_date))

    def receive_sample(
        self, partner_id: str, partner_member_id: str, sample_received_date: str, estimated_result_date: str
    ) -> EnrollmentResult:
        return self._run(
            partner_id, partner_member_id, lambda e: e.receive_sample(sample_received_date, estimated_result_date)
        )

    def deliver_result(
        self, partner_id: str, partner_member_id: str, result_delivery_date: str, result_type: str
    ) -> EnrollmentResult:
        """Seal ``result_type`` (MM/MZ/MS/SZ/ZZ) under the member's key and record the delivery."""
        value = parse_choice(ResultType, result_type, "result_type").value
        subject = member_subject(partner_id, self._member(partner_id, partner_member_id).partner_member_id)
        sealed = seal_choice(self.vault, subject, "result_type", value)
        return self._run(partner_id, partner_member_id, lambda e: e.deliver_result(result_delivery_date, sealed))

    def schedule_counseling(self, partner_id: str, partner_member_id: str, counseling_at: str) -> EnrollmentResult:
        return self._run(partner_id, partner_member_id, lambda e: e.schedule_counseling(counseling_at))

    def record_nps(self, partner_id: str, partner_member_id: str, score: int, kind: str) -> EnrollmentResult:
        return self._run(partner_id, partner_member_id, lambda e: e.record_nps(score, kind))

    def report_action(self, partner_id: str, partner_member_id: str, action: str) -> EnrollmentResult:
        """Seal a follow-up action (a :class:`HealthAction`) under the member's key and record it once."""
        value = parse_choice(HealthAction, action, "action").value
        subject = member_subject(partner_id, self._member(partner_id, partner_member_id).partner_member_id)
        sealed = seal_choice(self.vault, subject, "action", value)
        commitment = self.vault.commit(subject, "action", value)
        return self._run(partner_id, partner_member_id, lambda e: e.report_action(sealed, commitment))

    def reveal_result(self, partner_id: str, partner_member_id: str) -> str | None:
        """The plaintext result type for internal aggregation (never for partners); None before delivery."""
        enrollment = self.get(partner_id, partner_member_id)
        if enrollment.sealed_result_type is None:
            return None
        subject = member_subject(partner_id, enrollment.partner_member_id)
        return open_choice(self.vault, subject, "result_type", enrollment.sealed_result_type)

    def reveal_actions(self, partner_id: str, partner_member_id: str) -> list[str]:
        """The reported follow-up actions in plaintext, in order (internal aggregation only)."""
        enrollment = self.get(partner_id, partner_member_id)
        subject = member_subject(partner_id, enrollment.partner_member_id)
        return [open_choice(self.vault, subject, "action", sealed) for sealed in enrollment.sealed_actions]

    def _member(self, partner_id: str, partner_member_id: str) -> Member:
        """The member, or :class:`NotFound`; :class:`PersonalDataErased` once erased."""
        member = self.app.load(Member, member_id(partner_id, partner_member_id), "member")
        if member.erased:
            raise PersonalDataErased(member_subject(partner_id, member.partner_member_id))
        return member

    def _run(self, partner_id: str, partner_member_id: str, command: Callable[[Enrollment], None]) -> EnrollmentResult:
        """Run a step on the enrollment of a live member (an erased member's record is frozen)."""
        self._member(partner_id, partner_member_id)
        enrollment = self.get(partner_id, partner_member_id)
        command(enrollment)
        return self._result(enrollment)

    def _result(self, enrollment: Enrollment) -> EnrollmentResult:
        """Save the enrollment's new events (if any), telling the outcome projection about the change."""
        if enrollment.pending_events:
            with self.outcomes.tracking(str(enrollment.partner_id), enrollment.partner_member_id):
                positions = save(self.app, enrollment)
        else:
            positions = ()
        return EnrollmentResult(enrollment.id, enrollment.partner_member_id, enrollment.stage.value, positions)
