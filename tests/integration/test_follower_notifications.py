"""Followers woken by PostgreSQL notifications (``HeadWatch``) instead of polling: the sealer runner, seal
waiters, the webhook projector and its leader election. Notifications are hints: a foreign announcement
(another schema's ledger shares the channel) or a lost one must never lose or stall work.

Each test gets a database of its own: notification channels are per database, and other tests (or
people) using the shared one would announce their own sizes at any time."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from support.clock import SteppingClock
from support.ledgers import open_toy_ledger
from support.toy import Account

from adapters.files.signing_key import ensure_signing_key
from adapters.ports import Head, HeadWatch
from adapters.postgres.log import LOG_CHANNEL
from adapters.postgres.outbox import PostgresOutboxStore
from adapters.postgres.tree import PostgresTreeStore
from adapters.workers.projector import LOG_TRACKING, WebhookProjector
from adapters.workers.seal_waiter import SealWaiter
from adapters.workers.sealer import SealerRunner
from ledger_core.engine.sealing import Sealer, SealPolicy
from ledger_core.ledger import Ledger

FOREIGN = 10**9  # a size announced by some other schema's ledger


def announce(url: str, channel: str, size: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_notify(%s, %s)", (channel, str(size)))


def wait_connected(watch: HeadWatch) -> None:
    for _ in range(200):
        if watch.wait(Head.LOG, -1, 0.05) is not None or watch.connected():
            return
    raise AssertionError("the watch never connected")


def append(ledger: Ledger, count: int, prefix: str = "a") -> list[int]:
    return [ledger.app.save_returning_positions(Account.open("acme", f"{prefix}{n}"))[0] for n in range(count)]


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh database (not only a schema): nobody else's notifications reach it."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = postgres_server.partition("?")
    yield f"{base.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def ledger(postgres_url: str) -> Iterator[Ledger]:
    opened, _ = open_toy_ledger(postgres_url)
    try:
        yield opened
    finally:
        opened.close()


def test_watch_follows_commits_and_forgets_a_foreign_head(postgres_url: str, ledger: Ledger) -> None:
    """The head follows the log's commits; a correction after a real read undoes a foreign announcement."""
    store = PostgresTreeStore(postgres_url)
    watch = store.watch()
    try:
        wait_connected(watch)
        append(ledger, 3)
        assert watch.wait(Head.LOG, 2, 30) == 3
        generation = watch.generation()
        announce(postgres_url, LOG_CHANNEL, FOREIGN)
        assert watch.wait(Head.LOG, 3, 30) == FOREIGN
        watch.correct({Head.LOG: 3}, generation)  # a read that started before the announcement: kept
        assert watch.head(Head.LOG) == FOREIGN
        watch.correct({Head.LOG: store.log_size()}, watch.generation())
        assert watch.head(Head.LOG) == 3
    finally:
        store.close()


def test_runner_seals_on_announcements_and_recovers_from_a_foreign_one(
    postgres_url: str, ledger: Ledger, tmp_path: Path
) -> None:
    """The runner seals what is appended while it waits on the watch; a foreign log announcement costs a
    look, after which it neither seals nothing in a loop nor misses the real entries."""
    store = PostgresTreeStore(postgres_url)
    signer = ensure_signing_key(tmp_path)
    sealer = Sealer(store, signer, SteppingClock(), policy=SealPolicy(batch_entries=1, interval_ms=0))
    runner = SealerRunner(store, sealer, poll_interval=0.01).start()
    waiter = SealWaiter(PostgresTreeStore(postgres_url), poll_interval=60.0)  # only an announcement wakes it
    try:
        announce(postgres_url, LOG_CHANNEL, FOREIGN)
        positions = append(ledger, 5)
        record = waiter.wait_until_sealed(positions[-1], timeout=30)
        assert record.size >= 5
        announce(postgres_url, LOG_CHANNEL, FOREIGN)
        more = append(ledger, 2, "b")
        assert waiter.wait_until_sealed(more[-1], timeout=30).size == 7
        assert runner.error is None
    finally:
        runner.stop()
        waiter.store.close()


def test_async_waiter_is_woken_by_a_checkpoint_of_another_process(
    postgres_url: str, ledger: Ledger, tmp_path: Path
) -> None:
    """No runner in this process and a poll interval far beyond the timeout: the announcement wakes it."""
    sealing = PostgresTreeStore(postgres_url)
    waiting = PostgresTreeStore(postgres_url)
    waiter = SealWaiter(waiting, poll_interval=600.0)
    [position] = append(ledger, 1)

    async def wait() -> int:
        task = asyncio.create_task(waiter.wait_until_sealed_async(position, timeout=60))
        await asyncio.sleep(0)  # the waiter registers (and reads the sealed size: 0) first
        while not waiting.watch(log=False).connected():
            await asyncio.sleep(0.01)
        await asyncio.to_thread(Sealer(sealing, ensure_signing_key(tmp_path), SteppingClock()).seal_once)
        return (await task).size

    try:
        assert asyncio.run(wait()) == 1
    finally:
        sealing.close()
        waiting.close()


class CountingStore(PostgresTreeStore):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.reads = 0

    def first_checkpoint_after(self, position: int):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().first_checkpoint_after(position)


def test_waiter_reads_each_checkpoint_once(postgres_url: str, ledger: Ledger, tmp_path: Path) -> None:
    """Waiters of positions in one checkpoint share one read; a later checkpoint is read again."""
    store = CountingStore(postgres_url)
    sealer = Sealer(store, ensure_signing_key(tmp_path), SteppingClock())
    try:
        first = append(ledger, 4)
        sealer.seal_once()
        second = append(ledger, 2, "b")
        sealer.seal_once()
        waiter = SealWaiter(store, poll_interval=0.01)
        assert {waiter.first_checkpoint_after(p).size for p in first} == {4}  # type: ignore[union-attr]
        assert store.reads == 1
        assert {waiter.first_checkpoint_after(p).size for p in second} == {6}  # type: ignore[union-attr]
        assert store.reads == 2
        assert waiter.first_checkpoint_after(6) is None
        assert store.reads == 3
    finally:
        store.close()


def test_one_projector_leads_per_schema(postgres_url: str, ledger: Ledger) -> None:
    """The first store to ask leads; the other takes over once the leader's connection is gone (within a bound:
    the server frees a closed session's advisory lock asynchronously, so the very next try may still miss)."""
    first, second = PostgresOutboxStore(postgres_url), PostgresOutboxStore(postgres_url)
    second.lead_retry = 0.0
    try:
        assert first.lead()
        assert not second.lead()
        first.close()
        deadline = time.monotonic() + 30
        while not second.lead() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.lead()
    finally:
        second.close()


def test_projector_follows_announcements_and_ignores_a_foreign_head(postgres_url: str, ledger: Ledger) -> None:
    """Following the watch, the projector consumes every entry, and a foreign announcement costs one empty
    step: afterwards it is not "behind" any more (no step per wake-up)."""
    store = PostgresOutboxStore(postgres_url)
    projector = WebhookProjector(store, batch=2)
    stop = threading.Event()
    try:
        projector.follow()
        watch = store.watch()
        wait_connected(watch)
        append(ledger, 5)
        assert watch.wait(Head.LOG, 4, 30) == 5
        assert projector.run_once() == 5
        with store.transaction() as tx:
            assert tx.lock_tracking(LOG_TRACKING) == 5
        announce(postgres_url, LOG_CHANNEL, FOREIGN)
        assert watch.wait(Head.LOG, 5, 30) == FOREIGN
        assert projector.step() == 0  # the hint said "behind": one look
        assert watch.head(Head.LOG) == 5
        assert not projector._behind(LOG_TRACKING)
        append(ledger, 1, "b")
        projector.wait(stop, 0.0)
        assert projector.run_once() == 1
        assert watch.head(Head.CHECKPOINT) is None  # no tree in this schema: nothing announced yet
    finally:
        store.close()
