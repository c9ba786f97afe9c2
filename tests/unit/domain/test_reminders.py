"""Reminders: queue, send, cancel, idempotency and the already-enrolled rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from ledger_core.domain_errors import IdempotencyConflict, ReminderNotApplicable
from ledger_core.enrollments import EnrollmentService
from ledger_core.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.members import EligibilityRecord, MemberService
from ledger_core.privacy import PersonalDataVault
from ledger_core.reminders import Reminder, ReminderService
from ledger_core.vocabulary import ReminderStatus

from .fakes import FakeApp, FixedClock, replay, state

T0 = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)
PARTNER = "northwestern_mutual"
MESSAGE = "Don't forget to enroll in your free genetic testing benefit!"


def queued(**overrides: Any) -> Reminder:
    args: dict[str, Any] = {
        "reminder_id": uuid4(),
        "partner_id": PARTNER,
        "partner_member_id": "12345678",
        "reminder_type": "enrollment",
        "message": MESSAGE,
        "queued_at": T0,
        "estimated_send_time": T0 + timedelta(minutes=30),
    }
    return Reminder.queue(**{**args, **overrides})


def test_queue() -> None:
    """Queueing records type, message and times in RFC 3339 UTC."""
    reminder = queued()
    [event] = reminder.collect_events()
    assert type(event).EVENT_TYPE == "reminder.queued"
    assert event.estimated_send_time == "2026-01-15T14:30:00.000000Z"
    assert reminder.status is ReminderStatus.QUEUED
    assert state(replay([event])) == state(reminder)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"message": "x" * 501}, "message"),
        ({"message": ""}, "message"),
        ({"message": "bell\x07"}, "message"),
        ({"reminder_type": "birthday"}, "reminder_type"),
        ({"estimated_send_time": T0 - timedelta(seconds=1)}, "estimated_send_time"),
        ({"partner_member_id": ""}, "partner_member_id"),
        ({"partner_id": "Not A Slug"}, "partner_id"),
    ],
)
def test_queue_validation(override: dict[str, Any], field: str) -> None:
    """Invalid reminders raise InvalidCommand naming the field; 500 characters is the limit."""
    with pytest.raises(InvalidCommand) as caught:
        queued(**override)
    assert caught.value.details["field"] == field
    assert queued(message="x" * 500).message == "x" * 500


def test_send_and_cancel_transitions() -> None:
    """queued -> sent | cancelled; both terminal; identical repeats are no-ops."""
    reminder = queued()
    reminder.collect_events()
    with pytest.raises(InvalidCommand):
        reminder.mark_sent(T0 - timedelta(seconds=1))
    reminder.mark_sent(T0 + timedelta(minutes=31))
    reminder.mark_sent(T0 + timedelta(minutes=31))
    with pytest.raises(InvalidTransition) as caught:
        reminder.cancel("too late")
    assert caught.value.details == {"entity": "reminder", "current": "sent", "attempted": "cancelled"}
    assert [type(e).EVENT_TYPE for e in reminder.collect_events()] == ["reminder.sent"]
    other = queued()
    other.cancel("member enrolled")
    other.cancel("member enrolled")
    with pytest.raises(InvalidTransition):
        other.mark_sent(T0 + timedelta(hours=1))
    assert [type(e).EVENT_TYPE for e in other.collect_events()] == ["reminder.queued", "reminder.cancelled"]


def test_service(vault: PersonalDataVault) -> None:
    """The service needs a member, refuses enrollment reminders after enrolling, and honours keys."""
    app, clock = FakeApp(), FixedClock(T0)
    service = ReminderService(app, clock, send_delay=timedelta(minutes=30))  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        service.queue(PARTNER, "12345678", "enrollment", MESSAGE)
    record = EligibilityRecord("12345678", "a@b.co", "A", "B", "1980-05-15", "IA", "Life")
    MemberService(app, vault, clock).upsert(PARTNER, record)  # type: ignore[arg-type]
    result = service.queue(PARTNER, "12345678", "enrollment", MESSAGE, idempotency_key="req-1")
    assert (result.status, result.estimated_send_time) == ("queued", "2026-01-15T14:30:00.000000Z")
    again = service.queue(PARTNER, "12345678", "enrollment", MESSAGE, idempotency_key="req-1")
    assert (again.reminder_id, again.positions) == (result.reminder_id, ())
    with pytest.raises(IdempotencyConflict) as conflict:
        service.queue(PARTNER, "12345678", "kit", MESSAGE, idempotency_key="req-1")
    assert conflict.value.details["differing_fields"] == ["reminder_type"]
    with pytest.raises(NotFound):
        service.get(result.reminder_id, "other_partner")
    clock.advance(timedelta(minutes=31))
    assert service.mark_sent(result.reminder_id).status == "sent"
    EnrollmentService(app, vault).enroll(PARTNER, "12345678", "2026-01-15")  # type: ignore[arg-type]
    with pytest.raises(ReminderNotApplicable) as refused:
        service.queue(PARTNER, "12345678", "enrollment", MESSAGE)
    assert refused.value.details == {"partner_member_id": "12345678", "reminder_type": "enrollment"}
    kit = service.queue(PARTNER, "12345678", "kit", "Please return your kit.")
    assert service.cancel(kit.reminder_id, "kit received").status == "cancelled"
