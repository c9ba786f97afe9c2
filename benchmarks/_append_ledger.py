"""The append benchmark's ledger cases in one process (benchmarks/append.py): c-f (new aggregates) and c2-f2
(events on existing aggregates), and what every ledger case shares: the ledger opened on a fresh database,
the callers (threads, asyncio tasks) and the checks after the run (``ledger.verify()``, aggregate versions).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _common import CaseResult, case_result, measure_phase

from _append_workload import (
    BATCH,
    CALLERS,
    NOTE_TEXT,
    WARMUP_BATCHES,
    WARMUP_PER_CALLER,
    WARMUP_SINGLE,
    BenchAccount,
)

from adapters.log_recorder import SequencedRecorder, system_clock
from adapters.memory.claim_facts import LogDerivedClaimFacts
from adapters.storage import StorageConfig, open_recorder
from ledger_core.ledger import Ledger


class NoKeyStore:
    """The benchmark writes no personal data, so the ledger's key store must never be asked for a key."""

    def get_or_create(self, subject: str) -> tuple[str, bytes]:
        raise RuntimeError("the append benchmark does not seal personal data")

    def get(self, key_id: str) -> bytes | None:
        raise RuntimeError("the append benchmark does not seal personal data")

    def destroy(self, subject: str) -> int:
        raise RuntimeError("the append benchmark does not seal personal data")


def open_ledger(url: str, data_dir: str) -> tuple[Ledger, SequencedRecorder]:
    """A ledger on ``url`` that knows only :class:`BenchAccount`, plus its recorder (for the group-commit counters)."""
    recorder = open_recorder(StorageConfig(Path(data_dir), url))
    ledger = Ledger(
        recorder,
        recorder,
        NoKeyStore(),
        clock=system_clock,
        claim_facts=LogDerivedClaimFacts(recorder),
        aggregates=[BenchAccount],
        on_close=recorder.close,
    )
    return ledger, recorder


def verify(ledger: Ledger, expected: int, aggregates: int | None = None) -> float:
    """Verify the whole chain, its size and aggregate count (default: one per entry); return the seconds taken.

    Raises on any fault.
    """
    start = time.perf_counter()
    summary = ledger.verify()  # raises ChainBroken at the first fault
    expected_aggregates = expected if aggregates is None else aggregates
    if summary.size != expected or summary.aggregates != expected_aggregates:
        raise RuntimeError(
            f"chain verified but holds {summary.size} entries / {summary.aggregates} aggregates,"
            f" expected {expected} / {expected_aggregates}"
        )
    return time.perf_counter() - start


def check_versions(accounts: list[BenchAccount], expected: int) -> None:
    """Every steady-state aggregate got its share: version ``expected`` (created event included)."""
    wrong = [account.version for account in accounts if account.version != expected]
    if wrong:
        raise RuntimeError(f"{len(wrong)} aggregates at versions like {wrong[0]}, expected {expected}")


def run_threads(ledger: Ledger, prefix: str, callers: int, per_caller: int) -> None:
    """``callers`` threads each saving ``per_caller`` new aggregates, one per ``save``; started together."""
    start = threading.Barrier(callers + 1)
    errors: list[BaseException] = []

    def caller(k: int) -> None:
        try:
            start.wait()
            for i in range(per_caller):
                ledger.app.save(BenchAccount.open(f"{prefix}-{k}-{i}"))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=caller, args=(k,), name=f"caller-{k}") for k in range(callers)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


async def run_tasks(ledger: Ledger, prefix: str, callers: int, per_caller: int) -> None:
    """``callers`` asyncio tasks each awaiting ``per_caller`` ``save_async`` calls of one new aggregate."""

    async def caller(k: int) -> None:
        for i in range(per_caller):
            await ledger.app.save_async(BenchAccount.open(f"{prefix}-{k}-{i}"))

    await asyncio.gather(*(caller(k) for k in range(callers)))


def ledger_case(url: str, mode: str, events: int) -> CaseResult:
    """Cases c (``single``), d (``batch``), e (``threads``) and f (``tasks``) on a fresh database at ``url``."""
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as data_dir:
        ledger, recorder = open_ledger(url, data_dir)
        try:
            committer = recorder.committer
            runner: Callable[[str, int], None]
            if mode == "single":
                warmup = WARMUP_SINGLE

                def runner(prefix: str, count: int) -> None:
                    for i in range(count):
                        ledger.app.save(BenchAccount.open(f"{prefix}-{i}"))

            elif mode == "batch":
                warmup = WARMUP_BATCHES * BATCH

                def runner(prefix: str, count: int) -> None:
                    for j in range(count // BATCH):
                        ledger.app.save(*[BenchAccount.open(f"{prefix}-{j}-{i}") for i in range(BATCH)])

            elif mode == "threads":
                warmup = WARMUP_PER_CALLER * CALLERS

                def runner(prefix: str, count: int) -> None:
                    run_threads(ledger, prefix, CALLERS, count // CALLERS)

            elif mode == "tasks":
                warmup = WARMUP_PER_CALLER * CALLERS

                def runner(prefix: str, count: int) -> None:
                    asyncio.run(run_tasks(ledger, prefix, CALLERS, count // CALLERS))

            else:
                raise ValueError(mode)
            runner("warmup", warmup)
            batches_before, events_before = committer.batches, committer.events
            with measure_phase() as phase:
                runner("run", events)
            commits = committer.batches - batches_before
            committed = committer.events - events_before
            verify_s = verify(ledger, warmup + events)
        finally:
            ledger.close()
    return case_result(
        events,
        phase,
        verified=True,
        verify_s=round(verify_s, 2),
        commits=commits,
        events_per_commit=round(committed / commits, 1) if commits else None,
    )


def run_steady_threads(ledger: Ledger, accounts: list[BenchAccount], per_caller: int) -> None:
    """One thread per existing aggregate, each saving ``per_caller`` events on it, one per ``save``."""
    start = threading.Barrier(len(accounts) + 1)
    errors: list[BaseException] = []

    def caller(account: BenchAccount) -> None:
        try:
            start.wait()
            for _ in range(per_caller):
                account.note(NOTE_TEXT)
                ledger.app.save(account)
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=caller, args=(account,), name=f"caller-{k}") for k, account in enumerate(accounts)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


async def run_steady_tasks(ledger: Ledger, accounts: list[BenchAccount], per_caller: int) -> None:
    """One asyncio task per existing aggregate, each awaiting ``per_caller`` one-event ``save_async`` calls."""

    async def caller(account: BenchAccount) -> None:
        for _ in range(per_caller):
            account.note(NOTE_TEXT)
            await ledger.app.save_async(account)

    await asyncio.gather(*(caller(account) for account in accounts))


def open_accounts(ledger: Ledger, prefix: str, count: int) -> list[BenchAccount]:
    """Setup of the steady-state cases: ``count`` aggregates, created and saved in one go."""
    accounts = [BenchAccount.open(f"{prefix}-{k}") for k in range(count)]
    ledger.app.save(*accounts)
    return accounts


def ledger_steady_case(url: str, mode: str, events: int) -> CaseResult:
    """Cases c2 (``single``), d2 (``batch``), e2 (``threads``), f2 (``tasks``): events on existing aggregates."""
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as data_dir:
        ledger, recorder = open_ledger(url, data_dir)
        try:
            committer = recorder.committer
            runner: Callable[[int], None]
            if mode in ("single", "batch"):
                accounts = open_accounts(ledger, "steady", 1)
                account = accounts[0]
                per_save = 1 if mode == "single" else BATCH
                warmup = WARMUP_SINGLE if mode == "single" else WARMUP_BATCHES * BATCH

                def runner(count: int) -> None:
                    for _ in range(count // per_save):
                        for _ in range(per_save):
                            account.note(NOTE_TEXT)
                        ledger.app.save(account)

            elif mode == "threads":
                accounts = open_accounts(ledger, "steady", CALLERS)
                warmup = WARMUP_PER_CALLER * CALLERS

                def runner(count: int) -> None:
                    run_steady_threads(ledger, accounts, count // CALLERS)

            elif mode == "tasks":
                accounts = open_accounts(ledger, "steady", CALLERS)
                warmup = WARMUP_PER_CALLER * CALLERS

                def runner(count: int) -> None:
                    asyncio.run(run_steady_tasks(ledger, accounts, count // CALLERS))

            else:
                raise ValueError(mode)
            runner(warmup)
            batches_before, events_before = committer.batches, committer.events
            with measure_phase() as phase:
                runner(events)
            commits = committer.batches - batches_before
            committed = committer.events - events_before
            check_versions(accounts, 1 + (warmup + events) // len(accounts))
            verify_s = verify(ledger, len(accounts) + warmup + events, aggregates=len(accounts))
        finally:
            ledger.close()
    return case_result(
        events,
        phase,
        verified=True,
        verify_s=round(verify_s, 2),
        aggregates=len(accounts),
        commits=commits,
        events_per_commit=round(committed / commits, 1) if commits else None,
    )
