"""The sealer runner (thread) and wait_until_sealed over an in-memory store."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from adapters.workers.seal_waiter import SealWaiter
from adapters.workers.sealer import SealerRunner
from ledger_core.engine.merkle import LogTruncated, NotSealed
from ledger_core.engine.sealing import Sealer, SealPolicy
from proofs.note import NoteSigner

from .fakes import MemoryLog, MemoryTreeStore, StepClock


def runner_for(store: MemoryTreeStore, signer: NoteSigner, events: list[dict[str, Any]], **policy: int) -> SealerRunner:
    sealer = Sealer(store, signer, StepClock(), policy=SealPolicy(**policy))
    return SealerRunner(store, sealer, poll_interval=0.005, retry_after=0.01, report=events.append)


def test_thread_seals_after_interval_and_stops_cleanly(
    log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner
) -> None:
    """Embedded: start(), entries get sealed within about T ms, stop() ends the thread."""
    events: list[dict[str, Any]] = []
    runner = runner_for(store, signer, events, batch_entries=1000, interval_ms=30).start()
    try:
        position = log.append("a")
        record = runner.waiter.wait_until_sealed(position, timeout=5)
        assert record.size == 1
    finally:
        runner.stop()
    assert runner._thread is not None
    assert not runner._thread.is_alive()
    assert [e["event"] for e in events] == ["leader", "sealed", "stopped"]


def test_wait_returns_the_first_checkpoint_containing_the_position(
    log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner
) -> None:
    """wait_until_sealed gives the smallest checkpoint with size > position, even if newer ones exist."""
    sealer = Sealer(store, signer, StepClock())
    for _ in range(5):
        log.append("a")
    sealer.seal_once()
    for _ in range(5):
        log.append("a")
    sealer.seal_once()
    waiter = SealWaiter(store)
    assert waiter.wait_until_sealed(3, timeout=0.1).size == 5
    assert waiter.wait_until_sealed(7, timeout=0.1).size == 10


def test_wait_times_out(log: MemoryLog, store: MemoryTreeStore) -> None:
    """Nothing sealed within the timeout: NotSealed."""
    log.append("a")
    with pytest.raises(NotSealed, match="not sealed within"):
        SealWaiter(store, poll_interval=0.01).wait_until_sealed(0, timeout=0.05)


def test_wait_sees_a_sealer_in_another_process_by_polling(
    log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner
) -> None:
    """Without notifications (sealer elsewhere) the waiter polls the store and returns once sealed."""
    log.append("a")
    waiter = SealWaiter(store, poll_interval=0.01)
    timer = threading.Timer(0.05, lambda: Sealer(store, signer, StepClock()).seal_once())
    timer.start()
    started = time.monotonic()
    assert waiter.wait_until_sealed(0, timeout=5).size == 1
    assert time.monotonic() - started < 2


def test_async_wait(log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner) -> None:
    """The coroutine variant waits without blocking the event loop."""
    events: list[dict[str, Any]] = []
    runner = runner_for(store, signer, events, interval_ms=10).start()
    try:
        position = log.append("a")
        record = asyncio.run(runner.waiter.wait_until_sealed_async(position, timeout=5))
        assert record.size == 1
    finally:
        runner.stop()


def test_integrity_error_stops_the_runner(log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner) -> None:
    """A truncated log stops the runner for good (it never signs on top of damage) and keeps the error."""
    for _ in range(3):
        log.append("a")
    Sealer(store, signer, StepClock()).seal_once()
    del log.rows[1:]
    events: list[dict[str, Any]] = []
    runner = runner_for(store, signer, events, interval_ms=0).start()
    assert runner._thread is not None
    runner._thread.join(5)
    assert isinstance(runner.error, LogTruncated)
    assert events[-2]["event"] == "stopped"
    assert events[-1]["event"] == "failed"


def test_transient_errors_are_retried(log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner) -> None:
    """A failed commit (e.g. a lost connection) is reported and the next round seals."""
    log.append("a")
    store.fail_next_commit = True
    events: list[dict[str, Any]] = []
    runner = runner_for(store, signer, events, interval_ms=0).start()
    try:
        assert runner.waiter.wait_until_sealed(0, timeout=5).size == 1
    finally:
        runner.stop()
    assert [e["event"] for e in events][:3] == ["leader", "error", "sealed"]


def test_lost_leadership_is_noticed_before_sealing(log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner) -> None:
    """If the lock went away, the runner does not seal; it competes for leadership again, then seals."""
    answers = iter([False])
    store.holds_leadership = lambda: next(answers, True)  # type: ignore[method-assign]
    log.append("a")
    events: list[dict[str, Any]] = []
    runner = runner_for(store, signer, events, interval_ms=0).start()
    try:
        assert runner.waiter.wait_until_sealed(0, timeout=5).size == 1
    finally:
        runner.stop()
    assert [e["event"] for e in events] == ["leader", "leadership-lost", "leader", "sealed", "stopped"]


def test_async_waiters_share_one_poll_and_get_their_first_checkpoint(
    log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner
) -> None:
    """Many coroutines of one loop: each gets the smallest checkpoint containing its position; the
    sealed size is read by the loop's one poller, not once per waiter."""
    sealer = Sealer(store, signer, StepClock())
    for _ in range(5):
        log.append("a")
    sealer.seal_once()
    for _ in range(5):
        log.append("a")
    sealer.seal_once()
    reads: list[int] = []
    integrated = store.integrated_size

    def counted() -> int:
        reads.append(1)
        return integrated()

    store.integrated_size = counted  # type: ignore[method-assign]
    waiter = SealWaiter(store, poll_interval=3600)

    async def wait_all() -> list[int]:
        records = await asyncio.gather(*(waiter.wait_until_sealed_async(p, timeout=30) for p in range(10)))
        return [record.size for record in records]

    assert asyncio.run(wait_all()) == [5] * 5 + [10] * 5
    assert len(reads) == 1
    assert waiter._loops == {}  # the poller ended with its last waiter


def test_async_waiters_are_woken_by_notify_without_polling(
    log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner
) -> None:
    """An in-process sealer's notify() wakes waiting coroutines at once (the poll interval is an hour)."""
    waiter = SealWaiter(store, poll_interval=3600)
    position = log.append("a")

    def seal_and_notify() -> None:
        result = Sealer(store, signer, StepClock()).seal_once()
        assert result is not None
        waiter.notify(result.checkpoint.size)

    async def scenario() -> int:
        waiting = asyncio.ensure_future(waiter.wait_until_sealed_async(position, timeout=30))
        while not waiter._loops:  # registered (and the first poll, which found nothing, is done)
            await asyncio.sleep(0)
        await asyncio.to_thread(seal_and_notify)
        return (await waiting).size

    assert asyncio.run(scenario()) == 1


def test_async_wait_times_out_and_unregisters(log: MemoryLog, store: MemoryTreeStore) -> None:
    log.append("a")
    waiter = SealWaiter(store, poll_interval=0.01)
    with pytest.raises(NotSealed, match="not sealed within"):
        asyncio.run(waiter.wait_until_sealed_async(0, timeout=0.05))
    assert waiter._loops == {}
