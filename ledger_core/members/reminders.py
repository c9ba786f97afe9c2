"""Reminders a partner asks us to send to a policyholder (seed 001 §3.3 endpoint 4).

Lifecycle: ``queued -> sent | cancelled`` (both terminal). Marking sent or cancelling again with the same
data records nothing. Ids are random, or ``derive_id("reminder", partner_id, idempotency_key)`` when the
caller supplies a key (then a retry with the same request is a no-op and a different one a conflict).
An ``enrollment`` reminder for a member who already enrolled is refused (:class:`ReminderNotApplicable`).

The message is the partner's free text sent to a policyholder (it may well name them), so it enters the
log only sealed under the member's key (field :data:`MESSAGE_FIELD`, :mod:`ledger_core.members.privacy`), beside
a salted commitment: an idempotent retry is recognized by its commitment, never by comparing plaintext.
:class:`ReminderService` validates the plaintext (1..500 characters) before sealing; the aggregate only
accepts sealed values. Erasing the member shreds every reminder message; an erased member gets no new
reminders (:class:`PersonalDataErased`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID, uuid4

from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.engine.ports import Clock
from ledger_core.members.enrollments import Enrollment, enrollment_id
from ledger_core.members.errors import PersonalDataErased, ReminderNotApplicable
from ledger_core.members.member import Member, member_id, member_subject
from ledger_core.members.privacy import PersonalDataVault, check_commitment, check_sealed
from ledger_core.shared.errors import IdempotencyConflict
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import (
    check_identifier,
    check_partner_slug,
    check_text,
    format_timestamp,
    parse_choice,
)
from ledger_core.shared.vocabulary import ReminderStatus, ReminderType

MAX_MESSAGE = 500
MESSAGE_FIELD = "reminder_message"  # the vault field (AAD and commitment label) of a reminder's message


class Reminder(LedgerAggregate):
    """One reminder to one policyholder."""

    AGGREGATE_TYPE: ClassVar[str] = "Reminder"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Queued(Created):
        EVENT_TYPE: ClassVar[str] = "reminder.queued"
        partner_member_id: str
        reminder_type: str
        message: dict[str, Any]  # sealed: {"sealed": {...}} under the member's key
        message_commitment: dict[str, str]  # {"commitment": <hex>}: recognizes a retry without opening
        queued_at: str
        estimated_send_time: str

    class Sent(Event):
        EVENT_TYPE: ClassVar[str] = "reminder.sent"
        sent_at: str

        def apply(self, aggregate: Reminder) -> None:
            aggregate.status, aggregate.sent_at = ReminderStatus.SENT, self.sent_at

    class Cancelled(Event):
        EVENT_TYPE: ClassVar[str] = "reminder.cancelled"
        reason: str

        def apply(self, aggregate: Reminder) -> None:
            aggregate.status, aggregate.cancellation_reason = ReminderStatus.CANCELLED, self.reason

    def __init__(
        self,
        partner_id: str | None,
        partner_member_id: str,
        reminder_type: str,
        message: dict[str, Any],
        message_commitment: dict[str, str],
        queued_at: str,
        estimated_send_time: str,
    ) -> None:
        self.partner_id = partner_id
        self.partner_member_id = partner_member_id
        self.reminder_type = ReminderType(reminder_type)
        self.sealed_message: dict[str, Any] = dict(message)
        self.message_commitment: str = message_commitment["commitment"]
        self.queued_at = queued_at
        self.estimated_send_time = estimated_send_time
        self.status = ReminderStatus.QUEUED
        self.sent_at: str | None = None
        self.cancellation_reason: str | None = None

    @classmethod
    def queue(
        cls,
        *,
        reminder_id: UUID,
        partner_id: str,
        partner_member_id: str,
        reminder_type: str,
        message: Mapping[str, Any],
        message_commitment: Mapping[str, Any],
        queued_at: datetime,
        estimated_send_time: datetime,
    ) -> Reminder:
        """Queue a reminder to be sent at or after ``queued_at``; ``message`` must be sealed (the service
        checks the plaintext, 1..500 characters, before sealing) and ``message_commitment`` a commitment."""
        sealed = check_sealed(message, "message")
        commitment = check_commitment(message_commitment, "message_commitment")
        if estimated_send_time < queued_at:
            raise InvalidCommand("estimated_send_time is before queued_at", field="estimated_send_time")
        return cls._create(
            cls.Queued,
            id=reminder_id,
            partner_id=check_partner_slug(partner_id),
            partner_member_id=check_identifier(partner_member_id, "partner_member_id", max_length=64),
            reminder_type=parse_choice(ReminderType, reminder_type, "reminder_type").value,
            message=sealed,
            message_commitment=commitment,
            queued_at=format_timestamp(queued_at),
            estimated_send_time=format_timestamp(estimated_send_time),
        )

    def mark_sent(self, sent_at: datetime) -> None:
        when = format_timestamp(sent_at)
        if self.status is ReminderStatus.SENT and when == self.sent_at:
            return
        if self.status is not ReminderStatus.QUEUED:
            raise InvalidTransition("reminder", self.status.value, ReminderStatus.SENT.value)
        if when < self.queued_at:
            raise InvalidCommand("sent_at is before queued_at", field="sent_at", value=when, not_before=self.queued_at)
        self.trigger_event(self.Sent, sent_at=when)

    def cancel(self, reason: str) -> None:
        check_text(reason, "reason", max_length=500)
        if self.status is ReminderStatus.CANCELLED:
            return
        if self.status is not ReminderStatus.QUEUED:
            raise InvalidTransition("reminder", self.status.value, ReminderStatus.CANCELLED.value)
        self.trigger_event(self.Cancelled, reason=reason)


@dataclass(frozen=True, slots=True)
class ReminderResult:
    reminder_id: UUID
    partner_member_id: str
    status: str
    estimated_send_time: str
    positions: tuple[int, ...]


class ReminderService:
    """Reminder commands; seals messages via the vault; ``send_delay`` is added to the clock to estimate the
    send time."""

    def __init__(
        self, app: LedgerApplication, vault: PersonalDataVault, clock: Clock, send_delay: timedelta = timedelta(0)
    ) -> None:
        self.app = app
        self.vault = vault
        self.clock = clock
        self.send_delay = send_delay

    def get(self, reminder_id: UUID, partner_id: str | None = None) -> Reminder:
        """The reminder, or :class:`NotFound` (also when it belongs to a partner other than ``partner_id``)."""
        reminder = self.app.load(Reminder, reminder_id, "reminder")
        if partner_id is not None and reminder.partner_id != partner_id:
            raise NotFound("reminder", str(reminder_id))
        return reminder

    def queue(
        self,
        partner_id: str,
        partner_member_id: str,
        reminder_type: str,
        message: str,
        idempotency_key: str | None = None,
    ) -> ReminderResult:
        """Queue a reminder for an existing member; the message (1..500 characters) is sealed under their key.

        Raises :class:`NotFound` for an unknown member and :class:`PersonalDataErased` for an erased one. With
        ``idempotency_key``, a retry of the same request records nothing and a different one raises
        :class:`IdempotencyConflict` naming the differing fields (``message`` compared by commitment).
        """
        member = self.app.load(Member, member_id(partner_id, partner_member_id), "member")
        subject = member_subject(partner_id, member.partner_member_id)
        if member.erased:
            raise PersonalDataErased(subject)
        kind = parse_choice(ReminderType, reminder_type, "reminder_type")
        text = check_text(message, "message", max_length=MAX_MESSAGE, multiline=True)
        if kind is ReminderType.ENROLLMENT and self.app.find(Enrollment, enrollment_id(partner_id, partner_member_id)):
            raise ReminderNotApplicable(partner_member_id, kind.value, "Policyholder already enrolled")
        if idempotency_key is None:
            reminder_id = uuid4()
        else:
            reminder_id = derive_id("reminder", partner_id, check_identifier(idempotency_key, "idempotency_key"))
            existing = self.app.find(Reminder, reminder_id)
            if existing is not None:
                request = (partner_member_id, kind)
                recorded = (existing.partner_member_id, existing.reminder_type)
                names = ("partner_member_id", "reminder_type")
                differing = [name for name, a, b in zip(names, request, recorded, strict=True) if a != b]
                if not self._same_message(existing, text, partner_id, member):
                    differing.append("message")
                if differing:
                    raise IdempotencyConflict("reminder", str(reminder_id), differing)
                return self._result(existing)
        now = self.clock()
        reminder = Reminder.queue(
            reminder_id=reminder_id,
            partner_id=partner_id,
            partner_member_id=partner_member_id,
            reminder_type=kind.value,
            message=self.vault.seal(subject, MESSAGE_FIELD, text),
            message_commitment=self.vault.commit(subject, MESSAGE_FIELD, text),
            queued_at=now,
            estimated_send_time=now + self.send_delay,
        )
        return self._result(reminder)

    def reveal_message(self, reminder_id: UUID, partner_id: str | None = None) -> str:
        """The message in plaintext, to send it (internal use); :class:`PersonalDataErased` once the member
        is erased, :class:`NotFound` as :meth:`get`."""
        reminder = self.get(reminder_id, partner_id)
        return self.vault.open(self._subject(reminder), MESSAGE_FIELD, reminder.sealed_message)

    def mark_sent(self, reminder_id: UUID) -> ReminderResult:
        reminder = self.get(reminder_id)
        reminder.mark_sent(self.clock())
        return self._result(reminder)

    def cancel(self, reminder_id: UUID, reason: str) -> ReminderResult:
        reminder = self.get(reminder_id)
        reminder.cancel(reason)
        return self._result(reminder)

    def _same_message(self, reminder: Reminder, message: str, partner_id: str, requester: Member) -> bool:
        """Whether ``message`` is the reminder's message, by commitment under the key of the reminder's member
        (``requester``, the live member of the request, unless the retry names another member).

        A reminder of another member, since erased, can no longer be matched (and no key is touched for it).
        """
        owner: Member | None = requester
        if reminder.partner_member_id != requester.partner_member_id:
            owner = self.app.find(Member, member_id(partner_id, reminder.partner_member_id))
        if owner is None or owner.erased:
            return False
        commitment = self.vault.commit(self._subject(reminder), MESSAGE_FIELD, message)
        return commitment["commitment"] == reminder.message_commitment

    @staticmethod
    def _subject(reminder: Reminder) -> str:
        """The privacy subject whose key seals the reminder's message: its member's."""
        assert reminder.partner_id is not None  # every reminder is queued for a partner; not a business rule
        return member_subject(reminder.partner_id, reminder.partner_member_id)

    def _result(self, reminder: Reminder) -> ReminderResult:
        positions = save(self.app, reminder)
        return ReminderResult(
            reminder.id, reminder.partner_member_id, reminder.status.value, reminder.estimated_send_time, positions
        )
