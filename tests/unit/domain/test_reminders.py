"""Reminders: queue, send, cancel, idempotency, the already-enrolled rule, and the sealed message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from ledger_core.engine.canonical import canonical_json
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.members.enrollments import EnrollmentService
from ledger_core.members.errors import PersonalDataErased, ReminderNotApplicable
from ledger_core.members.member import MemberService, member_subject
from ledger_core.members.member_record import EligibilityRecord
from ledger_core.members.privacy import PersonalDataVault
from ledger_core.members.reminders import MESSAGE_FIELD, Reminder, ReminderService
from ledger_core.shared.errors import IdempotencyConflict
from ledger_core.shared.vocabulary import ReminderStatus

from .fakes import FakeApp, FixedClock, InMemoryKeyStore, replay, state, to_entry

T0 = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)
PARTNER = "northwestern_mutual"
PMID = "12345678"
SUBJECT = member_subject(PARTNER, PMID)
MESSAGE = "Don't forget to enroll in your free genetic testing benefit!"


def queued(vault: PersonalDataVault, text: str = MESSAGE, **overrides: Any) -> Reminder:
    args: dict[str, Any] = {
        "reminder_id": uuid4(),
        "partner_id": PARTNER,
        "partner_member_id": PMID,
        "reminder_type": "enrollment",
        "message": vault.seal(SUBJECT, MESSAGE_FIELD, text),
        "message_commitment": vault.commit(SUBJECT, MESSAGE_FIELD, text),
        "queued_at": T0,
        "estimated_send_time": T0 + timedelta(minutes=30),
    }
    return Reminder.queue(**{**args, **overrides})


def event_types(reminder: Reminder) -> list[str]:
    return [type(event).EVENT_TYPE for event in reminder.collect_events()]  # type: ignore[attr-defined]


def register(app: FakeApp, vault: PersonalDataVault, clock: FixedClock, pmid: str = PMID) -> None:
    record = EligibilityRecord(pmid, f"{pmid}@b.co", "A", "B", "1980-05-15", "IA", "Life")
    MemberService(app, vault, clock).upsert(PARTNER, record)  # type: ignore[arg-type]


def test_queue(vault: PersonalDataVault) -> None:
    """Queueing records type, times in RFC 3339 UTC, and the message only sealed, with its commitment."""
    reminder = queued(vault)
    [event] = reminder.collect_events()
    assert isinstance(event, Reminder.Queued)
    assert event.estimated_send_time == "2026-01-15T14:30:00.000000Z"
    assert set(event.message) == {"sealed"}
    assert event.message_commitment == vault.commit(SUBJECT, MESSAGE_FIELD, MESSAGE)
    assert MESSAGE.encode() not in to_entry(event)
    assert vault.open(SUBJECT, MESSAGE_FIELD, reminder.sealed_message) == MESSAGE
    assert reminder.status is ReminderStatus.QUEUED
    assert state(replay([event])) == state(reminder)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"message": "Enroll today"}, "message"),  # plaintext is refused: only sealed values are recorded
        ({"message": {"sealed": {"alg": "A256GCM"}}}, "message"),
        ({"message_commitment": "ab" * 32}, "message_commitment"),
        ({"message_commitment": {"commitment": "AB" * 32}}, "message_commitment"),
        ({"reminder_type": "birthday"}, "reminder_type"),
        ({"estimated_send_time": T0 - timedelta(seconds=1)}, "estimated_send_time"),
        ({"partner_member_id": ""}, "partner_member_id"),
        ({"partner_id": "Not A Slug"}, "partner_id"),
    ],
)
def test_queue_validation(vault: PersonalDataVault, override: dict[str, Any], field: str) -> None:
    """Invalid reminders raise InvalidCommand naming the field; the aggregate accepts only a sealed message."""
    with pytest.raises(InvalidCommand) as caught:
        queued(vault, **override)
    assert caught.value.details["field"] == field


@pytest.mark.parametrize("message", ["x" * 501, "", "bell\x07", None])
def test_service_checks_the_message_before_sealing(
    app: FakeApp, vault: PersonalDataVault, clock: FixedClock, key_store: InMemoryKeyStore, message: Any
) -> None:
    """The service validates the plaintext (1..500 characters, no control characters but newlines) before
    sealing: InvalidCommand on field ``message`` without echoing it; nothing is recorded."""
    register(app, vault, clock)
    service = ReminderService(app, vault, clock)  # type: ignore[arg-type]
    size, keys = len(app.log), dict(key_store.keys)
    with pytest.raises(InvalidCommand) as caught:
        service.queue(PARTNER, PMID, "kit", message, idempotency_key="req-1")
    assert caught.value.details["field"] == "message"
    assert "xxxx" not in str(caught.value.details)
    assert "bell" not in str(caught.value.details)
    assert (len(app.log), key_store.keys) == (size, keys)
    longest = service.queue(PARTNER, PMID, "kit", "x" * 500)
    assert service.reveal_message(longest.reminder_id) == "x" * 500
    assert service.reveal_message(service.queue(PARTNER, PMID, "kit", "line 1\nline 2").reminder_id) == "line 1\nline 2"


def test_send_and_cancel_transitions(vault: PersonalDataVault) -> None:
    """queued -> sent | cancelled; both terminal; identical repeats are no-ops."""
    reminder = queued(vault)
    reminder.collect_events()
    with pytest.raises(InvalidCommand):
        reminder.mark_sent(T0 - timedelta(seconds=1))
    reminder.mark_sent(T0 + timedelta(minutes=31))
    reminder.mark_sent(T0 + timedelta(minutes=31))
    with pytest.raises(InvalidTransition) as caught:
        reminder.cancel("too late")
    assert caught.value.details == {"entity": "reminder", "current": "sent", "attempted": "cancelled"}
    assert event_types(reminder) == ["reminder.sent"]
    other = queued(vault)
    other.cancel("member enrolled")
    other.cancel("member enrolled")
    with pytest.raises(InvalidTransition):
        other.mark_sent(T0 + timedelta(hours=1))
    assert event_types(other) == ["reminder.queued", "reminder.cancelled"]


def test_service(vault: PersonalDataVault) -> None:
    """The service needs a member, refuses enrollment reminders after enrolling, and honours keys."""
    app, clock = FakeApp(), FixedClock(T0)
    service = ReminderService(app, vault, clock, send_delay=timedelta(minutes=30))  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        service.queue(PARTNER, PMID, "enrollment", MESSAGE)
    register(app, vault, clock)
    result = service.queue(PARTNER, PMID, "enrollment", MESSAGE, idempotency_key="req-1")
    assert (result.status, result.estimated_send_time) == ("queued", "2026-01-15T14:30:00.000000Z")
    again = service.queue(PARTNER, PMID, "enrollment", MESSAGE, idempotency_key="req-1")
    assert (again.reminder_id, again.positions) == (result.reminder_id, ())
    with pytest.raises(IdempotencyConflict) as conflict:
        service.queue(PARTNER, PMID, "kit", MESSAGE, idempotency_key="req-1")
    assert conflict.value.details["differing_fields"] == ["reminder_type"]
    with pytest.raises(NotFound):
        service.get(result.reminder_id, "other_partner")
    with pytest.raises(NotFound):
        service.reveal_message(result.reminder_id, "other_partner")
    assert service.reveal_message(result.reminder_id, PARTNER) == MESSAGE
    clock.advance(timedelta(minutes=31))
    assert service.mark_sent(result.reminder_id).status == "sent"
    EnrollmentService(app, vault).enroll(PARTNER, PMID, "2026-01-15")  # type: ignore[arg-type]
    with pytest.raises(ReminderNotApplicable) as refused:
        service.queue(PARTNER, PMID, "enrollment", MESSAGE)
    assert refused.value.details == {"partner_member_id": PMID, "reminder_type": "enrollment"}
    kit = service.queue(PARTNER, PMID, "kit", "Please return your kit.")
    assert service.cancel(kit.reminder_id, "kit received").status == "cancelled"


def test_idempotent_retries_compare_commitments(app: FakeApp, vault: PersonalDataVault, clock: FixedClock) -> None:
    """A retry is recognized by the message's commitment (the aggregate holds no plaintext); a changed message,
    type or member is a conflict naming exactly the differing fields."""
    register(app, vault, clock)
    register(app, vault, clock, "other")
    service = ReminderService(app, vault, clock)  # type: ignore[arg-type]
    first = service.queue(PARTNER, PMID, "kit", "Return your kit", idempotency_key="req-1")
    reminder = service.get(first.reminder_id)
    assert "message" not in vars(reminder)
    assert reminder.message_commitment == vault.commit(SUBJECT, MESSAGE_FIELD, "Return your kit")["commitment"]
    assert service.queue(PARTNER, PMID, "kit", "Return your kit", idempotency_key="req-1").positions == ()
    cases = [
        ((PMID, "kit", "Return your kit!"), ["message"]),
        ((PMID, "sample", "Return your kit!"), ["reminder_type", "message"]),
        (("other", "kit", "Return your kit"), ["partner_member_id"]),
        (("other", "sample", "Mail it"), ["partner_member_id", "reminder_type", "message"]),
    ]
    for (pmid, kind, message), differing in cases:
        with pytest.raises(IdempotencyConflict) as conflict:
            service.queue(PARTNER, pmid, kind, message, idempotency_key="req-1")
        assert conflict.value.differing_fields == differing
        assert "Return" not in str(conflict.value) + str(conflict.value.details)
    assert len(app.log) == 3  # two members and the one reminder


def test_erasure_shreds_messages_and_stops_reminders(
    app: FakeApp, vault: PersonalDataVault, clock: FixedClock, key_store: InMemoryKeyStore
) -> None:
    """Erasing the member makes every reminder message unreadable and refuses new reminders and retries
    (PersonalDataErased); no key is created again for the erased member; no payload ever held the plaintext."""
    register(app, vault, clock)
    register(app, vault, clock, "other")
    service = ReminderService(app, vault, clock)  # type: ignore[arg-type]
    secret = "Hi Zebulon Quixoteworth, your kit is waiting"
    queued_result = service.queue(PARTNER, PMID, "kit", secret, idempotency_key="req-1")
    MemberService(app, vault, clock).erase(PARTNER, PMID)  # type: ignore[arg-type]
    with pytest.raises(PersonalDataErased) as caught:
        service.reveal_message(queued_result.reminder_id)
    assert caught.value.subject == SUBJECT
    for key in ("req-1", "req-2", None):
        with pytest.raises(PersonalDataErased):
            service.queue(PARTNER, PMID, "kit", secret, idempotency_key=key)
    with pytest.raises(IdempotencyConflict) as conflict:  # the erased member's message can no longer be matched
        service.queue(PARTNER, "other", "kit", secret, idempotency_key="req-1")
    assert conflict.value.differing_fields == ["partner_member_id", "message"]
    assert SUBJECT not in key_store.current
    assert service.cancel(queued_result.reminder_id, "member erased").status == "cancelled"
    assert app.types()[-2:] == ["member.personal_data_erased", "reminder.cancelled"]
    assert not any(secret.encode() in entry for entry in app.log)
    assert not any(b"Zebulon" in canonical_json(payload) for payload in app.payloads())
