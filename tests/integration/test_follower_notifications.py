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
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from support.clock import SteppingClock
from support.ledgers import open_toy_ledger
from support.toy import Account

from adapters.files.signing_key import ensure_signing_key
from adapters.ports import Head, HeadWatch
from adapters.postgres.log import LOG_CHANNEL
from adapters.postgres.notifications import Channel, PostgresHeadWatch
from adapters.postgres.outbox import PostgresOutboxStore
from adapters.postgres.tree import CHECKPOINT_HEADS, PostgresTreeStore
from adapters.workers.projector import LOG_TRACKING, WebhookProjector
from adapters.workers.seal_waiter import SealWaiter
from adapters.workers.sealer import SealerRunner, Step
from ledger_core.engine.sealing import Sealer, SealPolicy, SealSchedule
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


def test_watch_keeps_what_was_announced_while_it_read_the_heads(postgres_url: str) -> None:
    """A commit made after the snapshot of the watch's first head read is announced during that read (psycopg
    then keeps the notification aside from the libpq queue the watch drains): the watch must still learn it, as
    no later announcement may come (a seal waiter would sleep through its checkpoint until its timeout)."""
    committed_meanwhile = "SELECT 3 FROM (SELECT pg_notify('t_watch_head', '4')) AS committed_meanwhile"
    watch = PostgresHeadWatch(postgres_url, {Head.CHECKPOINT: Channel("t_watch_head", committed_meanwhile)})
    try:
        assert watch.wait(Head.CHECKPOINT, 3, 30) == 4
    finally:
        watch.close()


class CommitDuringRead(PostgresTreeStore):
    """Once armed, its next read of the log size returns what it found, after which ``commit`` appends one more
    entry and the watch learns its announcement: a commit the read missed, announced while the read was under way."""

    def __init__(self, url: str, commit: Callable[[], object]) -> None:
        super().__init__(url)
        self.commit = commit
        self.armed = False

    def log_size(self) -> int:
        size = super().log_size()
        if self.armed:
            self.armed = False
            learned = threading.Event()

            def heard(announced: int) -> None:
                if announced == size + 1:
                    learned.set()

            self.watch().subscribe(Head.LOG, heard)
            self.commit()
            if not learned.wait(30):
                raise AssertionError("the commit during the read was never announced")
        return size


def test_a_correction_keeps_a_commit_announced_during_its_read(postgres_url: str, ledger: Ledger) -> None:
    """A foreign head hides the announcement of a real commit (not higher: the head does not move); a read that
    began before that commit must not correct the head below it (else followers wait for the fallback read)."""
    store = CommitDuringRead(postgres_url, lambda: append(ledger, 1, "b"))
    watch = store.watch()
    try:
        wait_connected(watch)
        append(ledger, 3)
        assert watch.wait(Head.LOG, 2, 30) == 3
        announce(postgres_url, LOG_CHANNEL, FOREIGN)
        assert watch.wait(Head.LOG, 3, 30) == FOREIGN
        generation = watch.generation()
        store.armed = True
        read = store.log_size()
        assert read == 3
        watch.correct({Head.LOG: read}, generation)  # the foreign head is forgotten, the commit seen meanwhile not
        assert watch.head(Head.LOG) == 4
    finally:
        store.close()


def test_runner_keeps_an_entry_committed_while_it_reads(
    postgres_url: str, ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step by step: a foreign log announcement makes the runner look (nothing to seal), its read then misses an
    entry committed meanwhile whose announcement the foreign head hid; the heads must still say the entry waits
    (it is sealed now, not after the fallback read)."""
    monkeypatch.setattr("adapters.workers.sealer.FALLBACK_SECONDS", 3600.0)  # hints stay fresh, however slow the test
    store = CommitDuringRead(postgres_url, lambda: append(ledger, 1, "b"))
    policy = SealPolicy(batch_entries=1, interval_ms=0)
    sealer = Sealer(store, ensure_signing_key(tmp_path), SteppingClock(), policy=policy)
    runner = SealerRunner(store, sealer)
    watch = store.watch()
    try:
        wait_connected(watch)
        assert store.try_acquire_leadership()
        append(ledger, 3)
        sealer.seal_once()
        assert watch.wait(Head.LOG, 2, 30) == 3
        assert watch.wait(Head.CHECKPOINT, 2, 30) == 3
        assert runner._pending() == 0
        announce(postgres_url, LOG_CHANNEL, FOREIGN)
        assert watch.wait(Head.LOG, 3, 30) == FOREIGN
        assert runner._step(SealSchedule(policy)) is Step.IDLE  # the hint said "behind": one look, nothing sealed
        store.armed = True
        assert runner._pending() == 0  # the read, begun before the entry was committed
        assert runner._pending() == 1  # the heads: the entry waits
        assert runner._step(SealSchedule(policy)) is Step.SEALED
    finally:
        store.close()


def test_runner_looks_when_a_foreign_checkpoint_head_passes_the_log(
    postgres_url: str, ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A foreign checkpoint announcement above the log's head costs the runner a look, not a stall until the
    fallback read: the entries waiting are still counted."""
    monkeypatch.setattr("adapters.workers.sealer.FALLBACK_SECONDS", 3600.0)  # hints stay fresh, however slow the test
    store = PostgresTreeStore(postgres_url)
    runner = SealerRunner(store, Sealer(store, ensure_signing_key(tmp_path), SteppingClock()))
    watch = store.watch()
    try:
        wait_connected(watch)
        append(ledger, 2)
        assert watch.wait(Head.LOG, 1, 30) == 2
        assert runner._pending() == 2
        announce(postgres_url, CHECKPOINT_HEADS.name, FOREIGN)
        assert watch.wait(Head.CHECKPOINT, 0, 30) == FOREIGN
        assert runner._pending() == 2
        assert watch.head(Head.CHECKPOINT) == 0
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


class SealedDuringRead(PostgresTreeStore):
    """Its first read of the sealed size returns what it found, after which ``seal`` commits a checkpoint and the
    watch announces it: a checkpoint the read missed, announced while the read was under way."""

    def __init__(self, url: str, seal: Callable[[], object]) -> None:
        super().__init__(url)
        self.seal = seal
        self.first = True

    def integrated_size(self) -> int:
        size = super().integrated_size()
        if self.first:
            self.first = False
            announced = threading.Event()

            def heard(sealed: int) -> None:
                if sealed > size:
                    announced.set()

            self.watch(log=False).subscribe(Head.CHECKPOINT, heard)  # after the waiter's own subscription
            self.seal()
            if not announced.wait(30):
                raise AssertionError("the checkpoint was never announced")
        return size


def test_waiter_is_woken_by_a_checkpoint_announced_while_it_reads(
    postgres_url: str, ledger: Ledger, tmp_path: Path
) -> None:
    """A checkpoint announced while the waiter reads the sealed size (the read missed it) makes it read again at
    once: it does not sleep for its poll interval (600 s here) with the announcement already spent."""
    sealing = PostgresTreeStore(postgres_url)
    seal = Sealer(sealing, ensure_signing_key(tmp_path), SteppingClock()).seal_once
    waiting = SealedDuringRead(postgres_url, seal)
    waiter = SealWaiter(waiting, poll_interval=600.0)
    [position] = append(ledger, 1)
    sizes: list[int] = []
    thread = threading.Thread(
        target=lambda: sizes.append(waiter.wait_until_sealed(position, timeout=600).size), daemon=True
    )
    try:
        thread.start()
        thread.join(30)
        assert not thread.is_alive(), "the waiter slept through the announcement"
        assert sizes == [1]
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
