"""The outbox contract on both backends: leases, lease expiry, outcomes, endpoint projection effects, and
concurrent claimers (threads) never leasing the same delivery."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.opening import open_ledger
from adapters.outbox import CANCELLED, DELIVERED, PENDING, AttemptOutcome, AttemptResult, DueDelivery, OutboxStore
from adapters.storage import StorageConfig, open_outbox
from ledger_core.webhooks.events import PartnerEvent

NOW = 1_800_000_000.0


def event(number: int, kind: str = "claim.verified", partner: str = "p1") -> PartnerEvent:
    return PartnerEvent(f"msg_{number}", partner, kind, "2026-01-15T12:00:00Z", {"n": number}, number, "00" * 32)


@pytest.fixture
def outbox(tmp_path: Path, database_url: str) -> Iterator[OutboxStore]:
    config = StorageConfig(tmp_path, database_url)
    with open_ledger(config):  # creates ledger_log, which the outbox reads
        store = open_outbox(config)
        with store.transaction() as tx:
            tx.upsert_endpoint("p1", "ep", "http://127.0.0.1:9/hooks", ["claim.verified", "audit.alert"], "s1")
            tx.upsert_endpoint("p1", "other", "http://127.0.0.1:9/other", ["audit.alert"], "s2")
        try:
            yield store
        finally:
            store.close()


def claim(store: OutboxStore, now: float, limit: int = 100, lease: float = 10.0) -> list[DueDelivery]:
    with store.transaction() as tx:
        return tx.claim_due(now, limit, now + lease)


def test_enqueue_follows_subscriptions_and_leases_are_exclusive(outbox: OutboxStore) -> None:
    """Deliveries go to subscribed endpoints only; a leased delivery is not claimed again until it expires."""
    with outbox.transaction() as tx:
        assert tx.enqueue_many([event(1), event(2, "audit.alert")], NOW) == 3
    first = claim(outbox, NOW)
    assert sorted((d.message_id, d.target.endpoint_id) for d in first) == [
        ("msg_1", "ep"),
        ("msg_2", "ep"),
        ("msg_2", "other"),
    ]
    assert claim(outbox, NOW + 5) == []
    again = claim(outbox, NOW + 11)
    assert {d.delivery_id for d in again} == {d.delivery_id for d in first}
    assert {d.body for d in again} == {d.body for d in first}


def test_outcomes_and_endpoint_changes(outbox: OutboxStore) -> None:
    """Delivered is final; a retry is due at its time; a disabled endpoint holds, a removed one cancels."""
    with outbox.transaction() as tx:
        tx.enqueue_many([event(1), event(2)], NOW)
    one, two = claim(outbox, NOW)
    with outbox.transaction() as tx:
        tx.record(
            [
                AttemptResult(one, NOW, 200, 3.0, None, AttemptOutcome.DELIVERED),
                AttemptResult(two, NOW, 500, 4.0, "HTTP 500", AttemptOutcome.RETRY, NOW + 60),
            ],
            [],
            NOW,
        )
    assert claim(outbox, NOW + 59) == []
    with outbox.transaction() as tx:
        tx.set_endpoint_enabled("p1", "ep", False)
    assert claim(outbox, NOW + 61) == []
    with outbox.transaction() as tx:
        tx.set_endpoint_enabled("p1", "ep", True)
        tx.set_partner_active("p1", False)
    assert claim(outbox, NOW + 61) == []
    with outbox.transaction() as tx:
        tx.set_partner_active("p1", True)
    (retry,) = claim(outbox, NOW + 61)
    assert retry.attempts == 1
    with outbox.transaction() as tx:
        tx.remove_endpoint("p1", "ep")
        statuses = {
            d.message_id: d.status for d in tx.list_deliveries("p1", "ep", limit=10, starting_after=None, status=None)
        }
        attempts = tx.attempts(one.delivery_id)
    assert statuses == {"msg_1": DELIVERED, "msg_2": CANCELLED}
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 200)]


def test_concurrent_claimers_never_share_a_delivery(outbox: OutboxStore) -> None:
    """Four threads claiming small batches at once lease every delivery exactly once."""
    with outbox.transaction() as tx:
        tx.enqueue_many([event(n) for n in range(200)], NOW)
    leased: list[int] = []
    lock = threading.Lock()

    def claimer() -> None:
        while batch := claim(outbox, NOW, limit=7):
            with lock:
                leased.extend(d.delivery_id for d in batch)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(leased) == len(set(leased)) == 200
    with outbox.transaction() as tx:
        pending = tx.list_deliveries("p1", "ep", limit=500, starting_after=None, status=PENDING)
    assert len(pending) == 200
