"""Subscription and reminder service contracts on real storage (SQLite and PostgreSQL).

Reminder messages are personal data: the erasure test searches the whole database (with the byte-search
helpers of ``support.storage_dump``) for a message's plaintext and the member's data key.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from support.clock import SteppingClock
from support.databases import execute, key_store_url
from support.storage_dump import database_dump, found

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.engine.canonical import canonical_json
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.ledger import Ledger
from ledger_core.members.errors import PersonalDataErased, ReminderNotApplicable
from ledger_core.members.member import member_subject
from ledger_core.members.member_record import EligibilityRecord
from ledger_core.members.subscriptions import subscription_id
from ledger_core.shared.errors import IdempotencyConflict
from ledger_core.shared.vocabulary import ReminderStatus, SubscriptionStatus

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PARTNER = "northwestern_mutual"
PMID = "12345678"
ANNUAL = {"start_date": "2026-02-01", "amount": "50", "currency": "USD", "frequency": "annual"}


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> StorageConfig:
    return StorageConfig(tmp_path, database_url)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(NOW)


@pytest.fixture
def ledger(config: StorageConfig, clock: SteppingClock) -> Iterator[Ledger]:
    with open_ledger(config, clock=clock) as opened:
        for pmid in (PMID, "other"):
            opened.members.upsert(
                PARTNER,
                EligibilityRecord(
                    partner_member_id=pmid,
                    email=f"{pmid}@example.org",
                    first_name="Sam",
                    last_name="Member",
                    date_of_birth="1985-09-20",
                    state="TX",
                    policy_type="Life",
                ),
            )
        yield opened


def test_subscription_start_cancel_restart(ledger: Ledger, config: StorageConfig, clock: SteppingClock) -> None:
    """Start (same terms again: no-op, other terms: refused), cancel (same date again: no-op), restart."""
    assert ledger.subscriptions.status(PARTNER, PMID) is SubscriptionStatus.NONE
    with pytest.raises(NotFound):
        ledger.subscriptions.start(PARTNER, "nobody", **ANNUAL)
    with pytest.raises(InvalidCommand) as free:
        ledger.subscriptions.start(PARTNER, PMID, **{**ANNUAL, "amount": "0"})
    assert free.value.details["field"] == "amount"
    started = ledger.subscriptions.start(PARTNER, PMID, **ANNUAL)
    assert (started.status, started.subscription_id) == ("active", subscription_id(PARTNER, PMID))
    assert ledger.subscriptions.start(PARTNER, PMID, **{**ANNUAL, "amount": "50.00"}).positions == ()
    with pytest.raises(InvalidTransition):
        ledger.subscriptions.start(PARTNER, PMID, **{**ANNUAL, "frequency": "monthly"})
    with pytest.raises(InvalidCommand) as early:
        ledger.subscriptions.cancel(PARTNER, PMID, cancellation_date="2026-01-31")
    assert early.value.details["not_before"] == "2026-02-01"
    assert (
        ledger.subscriptions.cancel(PARTNER, PMID, cancellation_date="2026-03-01", reason="price").status == "cancelled"
    )
    assert ledger.subscriptions.cancel(PARTNER, PMID, cancellation_date="2026-03-01").positions == ()
    with pytest.raises(InvalidTransition):
        ledger.subscriptions.cancel(PARTNER, PMID, cancellation_date="2026-03-02")
    with pytest.raises(InvalidCommand):
        ledger.subscriptions.start(PARTNER, PMID, **{**ANNUAL, "start_date": "2026-02-15"})
    monthly = {"start_date": "2026-04-01", "amount": "4.5", "currency": "USD", "frequency": "monthly"}
    restarted = ledger.subscriptions.start(PARTNER, PMID, **monthly)
    assert restarted.status == "active"
    assert [e.type for e in ledger.history(restarted.subscription_id)] == [
        "subscription.started",
        "subscription.cancelled",
        "subscription.restarted",
    ]
    with pytest.raises(NotFound):
        ledger.subscriptions.cancel(PARTNER, "other", cancellation_date="2026-03-01")
    ledger.members.erase(PARTNER, "other")
    with pytest.raises(InvalidTransition):
        ledger.subscriptions.start(PARTNER, "other", **ANNUAL)
    with open_ledger(config, clock=clock) as reopened:
        subscription = reopened.subscriptions.get(PARTNER, PMID)
        assert subscription.terms() == {**monthly, "amount": "4.50"}
        assert subscription.cancellation_date is None
        assert reopened.subscriptions.status(PARTNER, PMID) is SubscriptionStatus.ACTIVE
        reopened.verify()


def test_reminders_queue_sent_cancel(ledger: Ledger, config: StorageConfig, clock: SteppingClock) -> None:
    """Queue (idempotency key: retry is a no-op, a changed retry conflicts), mark sent, cancel, visibility."""
    with pytest.raises(NotFound):
        ledger.reminders.queue(PARTNER, "nobody", "enrollment", "Enroll today")
    queued = ledger.reminders.queue(PARTNER, PMID, "enrollment", "Enroll today", idempotency_key="req-1")
    assert (queued.status, len(queued.positions)) == ("queued", 1)
    [entry] = ledger.history(queued.reminder_id)
    assert set(entry.payload) == {
        "partner_member_id",
        "reminder_type",
        "message",
        "message_commitment",
        "queued_at",
        "estimated_send_time",
    }
    assert set(entry.payload["message"]) == {"sealed"}
    assert set(entry.payload["message_commitment"]) == {"commitment"}
    assert ledger.reminders.reveal_message(queued.reminder_id, PARTNER) == "Enroll today"
    retry = ledger.reminders.queue(PARTNER, PMID, "enrollment", "Enroll today", idempotency_key="req-1")
    assert (retry.reminder_id, retry.positions) == (queued.reminder_id, ())
    with pytest.raises(IdempotencyConflict) as conflict:
        ledger.reminders.queue(PARTNER, PMID, "kit", "Return your kit", idempotency_key="req-1")
    assert conflict.value.differing_fields == ["reminder_type", "message"]
    with pytest.raises(IdempotencyConflict) as changed:
        ledger.reminders.queue(PARTNER, PMID, "enrollment", "Enroll today!", idempotency_key="req-1")
    assert changed.value.differing_fields == ["message"]
    with pytest.raises(InvalidCommand):
        ledger.reminders.queue(PARTNER, PMID, "kit", "x" * 501)
    with pytest.raises(NotFound):
        ledger.reminders.get(queued.reminder_id, "another_partner")
    with pytest.raises(NotFound):
        ledger.reminders.mark_sent(uuid4())

    clock.now += timedelta(minutes=5)
    assert ledger.reminders.mark_sent(queued.reminder_id).status == "sent"
    with pytest.raises(InvalidTransition):
        ledger.reminders.cancel(queued.reminder_id, "too late")
    other = ledger.reminders.queue(PARTNER, PMID, "kit", "Return your kit", idempotency_key="req-2")
    assert ledger.reminders.cancel(other.reminder_id, "kit received").status == "cancelled"
    assert ledger.reminders.cancel(other.reminder_id, "kit received").positions == ()
    with pytest.raises(InvalidTransition):
        ledger.reminders.mark_sent(other.reminder_id)

    ledger.enrollments.enroll(PARTNER, PMID, "2026-01-10")
    with pytest.raises(ReminderNotApplicable) as enrolled:
        ledger.reminders.queue(PARTNER, PMID, "enrollment", "Enroll today")
    assert enrolled.value.details["reminder_type"] == "enrollment"
    ledger.members.erase(PARTNER, "other")
    with pytest.raises(PersonalDataErased):
        ledger.reminders.queue(PARTNER, "other", "kit", "Return your kit")

    with open_ledger(config, clock=clock) as reopened:
        sent = reopened.reminders.get(queued.reminder_id, PARTNER)
        assert sent.status is ReminderStatus.SENT
        assert (sent.sent_at or "").startswith("2026-01-15T12:05:00.")  # the stepping clock adds milliseconds
        cancelled = reopened.reminders.get(other.reminder_id)
        assert (cancelled.status, cancelled.cancellation_reason) == (ReminderStatus.CANCELLED, "kit received")
        again = reopened.reminders.queue(PARTNER, PMID, "kit", "Return your kit", idempotency_key="req-2")
        assert (again.reminder_id, again.status, again.positions) == (other.reminder_id, "cancelled", ())
        assert reopened.reminders.reveal_message(other.reminder_id) == "Return your kit"
        reopened.verify()


def test_reminder_message_is_sealed_and_erased_with_the_member(
    ledger: Ledger, config: StorageConfig, clock: SteppingClock
) -> None:
    """No payload ever holds a message's plaintext; erasing the member removes it (and the key) from storage,
    makes the message unreadable and refuses new reminders, while the other member's message still opens."""
    secret = "Dear Zebulon Quixoteworth, your DNA kit is waiting at 12 Quillfeather Lane"
    kept_text = "Dear Keeper Marchbanks, please return your kit"
    queued = ledger.reminders.queue(PARTNER, PMID, "kit", secret, idempotency_key="req-1")
    kept = ledger.reminders.queue(PARTNER, "other", "kit", kept_text)
    assert ledger.reminders.reveal_message(queued.reminder_id) == secret
    needles = [secret.encode(), b"Zebulon", b"Quixoteworth", b"Quillfeather", b"Marchbanks"]
    for envelope in ledger.entries():
        payload = canonical_json(envelope.payload)
        for needle in needles:
            assert needle not in payload, (envelope.type, needle)
    subject = member_subject(PARTNER, PMID)
    [(wrapped,)] = execute(
        key_store_url(config.database_url or ""), "SELECT wrapped FROM subject_keys WHERE subject = ?", (subject,)
    )
    before = database_dump(config)
    assert found(before, PMID.encode())  # the search sees the data (positive controls)
    assert found(before, bytes(wrapped))
    for needle in needles:
        assert not found(before, needle), needle  # never in plaintext, even before erasure

    ledger.members.erase(PARTNER, PMID)
    with pytest.raises(PersonalDataErased) as caught:
        ledger.reminders.reveal_message(queued.reminder_id, PARTNER)
    assert caught.value.subject == subject
    with pytest.raises(PersonalDataErased):
        ledger.reminders.queue(PARTNER, PMID, "kit", secret, idempotency_key="req-1")
    with pytest.raises(PersonalDataErased):
        ledger.reminders.queue(PARTNER, PMID, "kit", "Another one")
    assert ledger.reminders.reveal_message(kept.reminder_id) == kept_text
    clock.now += timedelta(minutes=1)
    assert ledger.reminders.cancel(queued.reminder_id, "member erased").status == "cancelled"

    after = database_dump(config)
    assert found(after, PMID.encode())
    assert not found(after, bytes(wrapped)), "the erased member's wrapped data key is still stored"
    for needle in needles:
        assert not found(after, needle), needle
    summary = ledger.verify()
    with open_ledger(config, clock=clock) as reopened:
        with pytest.raises(PersonalDataErased):
            reopened.reminders.reveal_message(queued.reminder_id)
        assert reopened.reminders.get(queued.reminder_id).status is ReminderStatus.CANCELLED
        assert reopened.reminders.reveal_message(kept.reminder_id) == kept_text
        assert reopened.verify().head_leaf_hash == summary.head_leaf_hash
    closed = database_dump(config)
    assert not found(closed, bytes(wrapped))
    for needle in needles:
        assert not found(closed, needle), needle
