"""Append throughput: raw eventsourcing 9.5 vs the ledger, on SQLite and PostgreSQL, in one run.

Cases (each in a fresh process, on a fresh database: a temp SQLite file or a new PostgreSQL schema):

  a  raw eventsourcing (its own recorders), 1 new aggregate per ``app.save``
  b  raw eventsourcing, 100 new aggregates per ``app.save``
  c  ledger, one caller, 1 event per ``ledger.app.save``
  d  ledger, one caller, 100 events per ``ledger.app.save``
  e  ledger, 64 threads calling ``ledger.app.save(agg)`` (group commit)
  f  ledger, 64 asyncio tasks in one loop awaiting ``ledger.app.save_async(agg)``
  g  ledger, 2 processes x 32 asyncio tasks on the same database (aggregate rate)

Workload "new" (cases a-g): every aggregate is new and gets one created event carrying ``name: str``;
building it is part of the measured work in every case.

Workload "steady" (cases b2-g2): events appended to EXISTING aggregates, the common case in the ledger
(claim status changes, enrollment steps). Each caller owns one long-lived aggregate, created and saved
in the (unmeasured) setup; every event is a ``noted`` event carrying ``text: str``:

  b2  raw eventsourcing, one aggregate, 100 events triggered then one ``app.save(agg)``
  c2  ledger, one caller, one aggregate, 1 event per ``ledger.app.save(agg)``
  d2  ledger, one caller, one aggregate, 100 events then one ``ledger.app.save(agg)``
  e2  ledger, 64 threads, each its own aggregate, 1 event per ``ledger.app.save(agg)``
  f2  ledger, 64 asyncio tasks, each its own aggregate, 1 event per ``await ledger.app.save_async(agg)``
  g2  ledger, 2 processes x 32 asyncio tasks, each its own aggregate (aggregate rate)

Both sides use an explicit event class and ``trigger_event`` (the ledger's own style), so the ratio
d2 / b2 compares persistence, not command-method styles. Targets (concurrent rate, ratio d / b resp.
d2 / b2) are evaluated for each workload separately.

Each case warms up first (same code path, same database), then writes a fixed number of events. After
each ledger case the whole chain is verified (``ledger.verify()``) and its size and aggregate count
checked (steady cases also check every aggregate's version); raw cases check ``max_notification_id``.

Durability is the same on both sides: SQLite in WAL mode with ``synchronous=FULL`` (eventsourcing's
default build setting, the ledger's explicit one), PostgreSQL with the server's ``synchronous_commit``.

Per case it reports events/s, peak RSS (``ru_maxrss`` of the case's own process), commits and events
per commit (ledger), and CPU: the process's CPU seconds per wall second and the share of the machine's
cores busy (so "GIL-bound" and "waiting on the database" can be told apart).

Usage: ``python benchmarks/append.py [--quick] [--backends sqlite,postgresql] [--workloads new,steady]
[--cases abcdefg] [--scale X]``. A letter in ``--cases`` selects that case in every chosen workload
(``b`` runs b and b2). One table per workload goes to stderr; the last line of stdout is one JSON
object with every figure (steady-state cases under ``<backend>.steady``, ``ratios.<backend>.steady``
and ``targets.<backend>.steady``).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

from _common import (
    CaseResult,
    base_parser,
    case_result,
    emit_json,
    fmt_mib,
    fmt_rate,
    fresh_postgres_schema,
    fresh_sqlite_file,
    log,
    machine_info,
    measure_phase,
    parse_backends,
    print_table,
    run_in_subprocess,
    run_workers,
    utc_now,
)

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from adapters.log_recorder import SequencedRecorder, system_clock
from adapters.memory.claim_facts import LogDerivedClaimFacts
from adapters.storage import StorageConfig, open_recorder
from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.ledger import Ledger

BATCH = 100  # aggregates per save in cases b and d
CALLERS = 64  # concurrent callers in cases e and f
PROCESSES = 2  # worker processes in case g ...
CALLERS_PER_PROCESS = 32  # ... each with this many asyncio callers
TARGETS = {"sqlite": 25_000.0, "postgresql": 10_000.0}
TARGET_RATIO = 0.7
CONCURRENT_CASES = ("e", "f", "g")
STEADY_CONCURRENT_CASES = ("e2", "f2", "g2")
WORKLOADS = ("new", "steady")
NOTE_TEXT = "claim status changed"  # the text of every steady-state event, on both sides

# Measured events per case. Full: roughly 5-10 s per case on a 2-core machine; quick: well under 1 s, so
# both workloads on both backends (26 cases, each in its own process) stay under a minute.
FULL_EVENTS: dict[str, dict[str, int]] = {
    "sqlite": {
        "a": 15_000, "b": 60_000, "c": 10_000, "d": 60_000, "e": 32_000, "f": 38_400, "g": 38_400,
        "b2": 60_000, "c2": 10_000, "d2": 60_000, "e2": 32_000, "f2": 38_400, "g2": 38_400,
    },
    "postgresql": {
        "a": 2_000, "b": 40_000, "c": 2_000, "d": 40_000, "e": 16_000, "f": 12_800, "g": 12_800,
        "b2": 40_000, "c2": 2_000, "d2": 40_000, "e2": 16_000, "f2": 12_800, "g2": 12_800,
    },
}
QUICK_EVENTS: dict[str, dict[str, int]] = {
    "sqlite": {
        "a": 500, "b": 5_000, "c": 500, "d": 5_000, "e": 2_560, "f": 3_200, "g": 3_200,
        "b2": 5_000, "c2": 500, "d2": 5_000, "e2": 2_560, "f2": 3_200, "g2": 3_200,
    },
    "postgresql": {
        "a": 200, "b": 3_000, "c": 200, "d": 3_000, "e": 1_920, "f": 1_920, "g": 1_920,
        "b2": 3_000, "c2": 200, "d2": 3_000, "e2": 1_920, "f2": 1_920, "g2": 1_920,
    },
}
WARMUP_SINGLE = 200  # events, cases a and c
WARMUP_BATCHES = 10  # saves of BATCH, cases b and d
WARMUP_PER_CALLER = 10  # saves per caller, cases e, f and g

LABELS = {
    "a": "(a) raw eventsourcing, 1 event/save",
    "b": f"(b) raw eventsourcing, {BATCH} events/save",
    "c": "(c) ledger, 1 caller, 1 event/save",
    "d": f"(d) ledger, 1 caller, {BATCH} events/save",
    "e": f"(e) ledger, {CALLERS} threads, save()",
    "f": f"(f) ledger, {CALLERS} asyncio tasks, save_async()",
    "g": f"(g) ledger, {PROCESSES} procs x {CALLERS_PER_PROCESS} asyncio tasks",
}
STEADY_LABELS = {
    "b2": f"(b2) raw eventsourcing, 1 agg, {BATCH} events/save",
    "c2": "(c2) ledger, 1 caller, 1 event/save",
    "d2": f"(d2) ledger, 1 caller, 1 agg, {BATCH} events/save",
    "e2": f"(e2) ledger, {CALLERS} threads, save(), own agg",
    "f2": f"(f2) ledger, {CALLERS} asyncio tasks, save_async(), own agg",
    "g2": f"(g2) ledger, {PROCESSES} procs x {CALLERS_PER_PROCESS} tasks, own agg",
}


# -- the workload: one tiny aggregate, created with a name ---------------------------------------------
class BenchAccount(LedgerAggregate):
    """Ledger side: like tests/support/toy.py ``Account``, reduced to its created event."""

    AGGREGATE_TYPE = "BenchAccount"

    class Opened(LedgerAggregate.Created):
        EVENT_TYPE: ClassVar[str] = "bench_account.opened"
        name: str

    class Noted(LedgerAggregate.Event):
        """Steady-state workload: an event on an existing aggregate."""

        EVENT_TYPE: ClassVar[str] = "bench_account.noted"
        text: str

        def apply(self, aggregate: BenchAccount) -> None:
            aggregate.last_note = self.text

    def __init__(self, partner_id: str | None, name: str) -> None:
        self.partner_id = partner_id
        self.name = name
        self.last_note = ""

    @classmethod
    def open(cls, name: str) -> BenchAccount:
        return cls._create(cls.Opened, id=derive_id("bench-account", name), partner_id=None, name=name)

    def note(self, text: str) -> None:
        self.trigger_event(self.Noted, text=text)


class RawAccount(Aggregate):
    """Raw eventsourcing side: the same shape (a created event with ``name``, a noted event with ``text``)."""

    class Noted(Aggregate.Event):
        text: str

        def apply(self, aggregate: RawAccount) -> None:
            aggregate.last_note = self.text

    def __init__(self, name: str) -> None:
        self.name = name
        self.last_note = ""

    def note(self, text: str) -> None:
        self.trigger_event(self.Noted, text=text)


class RawApp(Application[UUID]):
    """Plain eventsourcing application; persistence chosen by the env given to the constructor."""

    name = "BenchRaw"


# -- raw eventsourcing cases -----------------------------------------------------------------------------
def raw_env(backend: str, target: str) -> dict[str, str]:
    """eventsourcing settings: ``target`` is the SQLite path, or ``server_url|schema`` for PostgreSQL."""
    if backend == "sqlite":
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": target}
    from psycopg.conninfo import conninfo_to_dict

    server_url, schema = target.split("|", 1)
    params = conninfo_to_dict(server_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
        "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(params.get("port", "5432")),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(params.get("password") or "x"),  # required by eventsourcing even with trust auth
        "POSTGRES_SCHEMA": schema,
    }


def raw_case(backend: str, target: str, events: int, per_save: int) -> CaseResult:
    """Cases a and b: ``events`` new aggregates, ``per_save`` per ``app.save``."""
    app = RawApp(env=raw_env(backend, target))
    try:
        warmup = WARMUP_SINGLE if per_save == 1 else WARMUP_BATCHES * per_save

        def run(count: int) -> None:
            if per_save == 1:
                for _ in range(count):
                    app.save(RawAccount(name="raw"))
            else:
                for _ in range(count // per_save):
                    app.save(*[RawAccount(name="raw") for _ in range(per_save)])

        run(warmup)
        with measure_phase() as phase:
            run(events)
        stored = app.recorder.max_notification_id() or 0
        if stored != warmup + events:
            raise RuntimeError(f"raw eventsourcing stored {stored} events, expected {warmup + events}")
        return case_result(events, phase, verified=True)
    finally:
        app.close()


def raw_steady_case(backend: str, target: str, events: int, per_save: int) -> CaseResult:
    """Case b2: one long-lived aggregate (created in setup); ``per_save`` events triggered per ``app.save``."""
    app = RawApp(env=raw_env(backend, target))
    try:
        account = RawAccount(name="raw")
        app.save(account)  # setup: the aggregate exists before anything is measured
        warmup = WARMUP_SINGLE if per_save == 1 else WARMUP_BATCHES * per_save

        def run(count: int) -> None:
            for _ in range(count // per_save):
                for _ in range(per_save):
                    account.note(NOTE_TEXT)
                app.save(account)

        run(warmup)
        with measure_phase() as phase:
            run(events)
        expected = 1 + warmup + events
        stored = app.recorder.max_notification_id() or 0
        if stored != expected or account.version != expected:
            raise RuntimeError(
                f"raw eventsourcing stored {stored} events (aggregate version {account.version}), expected {expected}"
            )
        return case_result(events, phase, verified=True, aggregates=1)
    finally:
        app.close()


# -- ledger cases ----------------------------------------------------------------------------------------
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


def process_worker(index: int, barrier: Any, url: str, per_caller: int, workload: str = "new") -> dict[str, Any]:
    """Cases g / g2, one worker process: set up, warm up, wait for the siblings, then run its asyncio callers.

    ``workload="steady"`` (g2): each caller owns one aggregate, created here before the warm-up.
    """
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as data_dir:
        ledger, recorder = open_ledger(url, data_dir)
        try:
            accounts = open_accounts(ledger, f"steady-{index}", CALLERS_PER_PROCESS) if workload == "steady" else []

            async def callers(prefix: str, count: int) -> None:
                if workload == "steady":
                    await run_steady_tasks(ledger, accounts, count)
                else:
                    await run_tasks(ledger, prefix, CALLERS_PER_PROCESS, count)

            async def main() -> Any:
                await callers(f"warmup-{index}", WARMUP_PER_CALLER)
                before = recorder.committer.batches
                barrier.wait()
                with measure_phase() as phase:
                    await callers(f"run-{index}", per_caller)
                return phase, recorder.committer.batches - before

            phase, commits = asyncio.run(main())
            check_versions(accounts, 1 + WARMUP_PER_CALLER + per_caller)
        finally:
            ledger.close()
    return {
        "events": CALLERS_PER_PROCESS * per_caller,
        "started_at": phase.started_at,
        "ended_at": phase.ended_at,
        "rss_peak_kib": phase.rss_peak_kib,
        "rss_growth_kib": phase.rss_growth_kib,
        "cpu_seconds": phase.cpu_seconds,
        "machine_busy": phase.machine_busy,
        "commits": commits,
    }


def multiprocess_case(url: str, events: int, workload: str = "new") -> CaseResult:
    """Cases g / g2: PROCESSES spawned workers x CALLERS_PER_PROCESS tasks on one database; aggregate rate."""
    per_caller = events // (PROCESSES * CALLERS_PER_PROCESS)
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as data_dir:
        open_ledger(url, data_dir)[0].close()  # create the tables once, before the workers race for them
        results = run_workers(process_worker, PROCESSES, url, per_caller, workload)
        measured = sum(int(r["events"]) for r in results)
        warmup = PROCESSES * CALLERS_PER_PROCESS * WARMUP_PER_CALLER
        ledger = open_ledger(url, data_dir)[0]
        try:
            if workload == "steady":
                aggregates = PROCESSES * CALLERS_PER_PROCESS
                verify_s = verify(ledger, aggregates + warmup + measured, aggregates=aggregates)
            else:
                verify_s = verify(ledger, measured + warmup)
        finally:
            ledger.close()
    seconds = max(r["ended_at"] for r in results) - min(r["started_at"] for r in results)
    commits = sum(int(r["commits"]) for r in results)
    return CaseResult(
        events=measured,
        seconds=seconds,
        rss_peak_kib=max(int(r["rss_peak_kib"]) for r in results),
        rss_growth_kib=max(int(r["rss_growth_kib"]) for r in results),
        cpu_seconds=sum(float(r["cpu_seconds"]) for r in results),
        machine_busy=max((float(r["machine_busy"]) for r in results if r["machine_busy"] is not None), default=None),
        extra={
            "verified": True,
            "verify_s": round(verify_s, 2),
            "processes": PROCESSES,
            "rss_peak_sum_mib": round(sum(int(r["rss_peak_kib"]) for r in results) / 1024, 1),
            "per_process_events_per_s": [round(r["events"] / (r["ended_at"] - r["started_at"]), 1) for r in results],
            "commits": commits,
            "events_per_commit": round(measured / commits, 1) if commits else None,
            **({"aggregates": PROCESSES * CALLERS_PER_PROCESS} if workload == "steady" else {}),
        },
    )


# -- driver ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Database:
    """Where one case runs: the ledger URL and the raw eventsourcing target (see :func:`raw_env`)."""

    ledger_url: str
    raw_target: str


def run_case(backend: str, case: str, events: int, postgres_url: str) -> CaseResult:
    """Run one case in its own process on a database of its own (dropped afterwards)."""
    if backend == "sqlite":
        with fresh_sqlite_file() as path:
            return _dispatch(case, events, Database(f"sqlite:///{path.resolve()}", str(path.resolve())))
    with fresh_postgres_schema(postgres_url, prefix="bench_append") as schema:
        return _dispatch(case, events, Database(schema.url, f"{postgres_url}|{schema.name}"))


def _dispatch(case: str, events: int, db: Database) -> CaseResult:
    backend = "sqlite" if db.ledger_url.startswith("sqlite:") else "postgresql"
    if case == "a":
        return run_in_subprocess(raw_case, backend, db.raw_target, events, 1)
    if case == "b":
        return run_in_subprocess(raw_case, backend, db.raw_target, events, BATCH)
    if case == "g":
        return run_in_subprocess(multiprocess_case, db.ledger_url, events)
    if case == "b2":
        return run_in_subprocess(raw_steady_case, backend, db.raw_target, events, BATCH)
    if case == "g2":
        return run_in_subprocess(multiprocess_case, db.ledger_url, events, "steady")
    mode = {"c": "single", "d": "batch", "e": "threads", "f": "tasks"}[case[0]]
    if case in STEADY_LABELS:
        return run_in_subprocess(ledger_steady_case, db.ledger_url, mode, events)
    return run_in_subprocess(ledger_case, db.ledger_url, mode, events)


def round_events(case: str, events: int) -> int:
    """Round down so every caller / every save gets the same share (b2..g2 share the units of b..g)."""
    unit = {"b": BATCH, "d": BATCH, "e": CALLERS, "f": CALLERS, "g": PROCESSES * CALLERS_PER_PROCESS}.get(case[0], 1)
    return max(unit, events // unit * unit)


def _ratio(cases: dict[str, CaseResult], ledger_case_id: str, raw_case_id: str) -> float | None:
    """Ledger rate over raw eventsourcing rate, when both cases ran."""
    ledger, raw = cases.get(ledger_case_id), cases.get(raw_case_id)
    return ledger.events_per_s / raw.events_per_s if ledger and raw and raw.events_per_s else None


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def workload_targets(
    backend: str, cases: dict[str, CaseResult], concurrent_cases: tuple[str, ...], ratio: float | None
) -> dict[str, Any]:
    """One workload's verdicts: best concurrent rate against the backend's target, and the ratio."""
    concurrent = {case: cases[case].events_per_s for case in concurrent_cases if case in cases}
    best_case = max(concurrent, key=lambda case: concurrent[case]) if concurrent else None
    best = concurrent[best_case] if best_case else None
    return {
        "concurrent_min_events_per_s": TARGETS[backend],
        "best_concurrent_case": best_case,
        "best_concurrent_events_per_s": _round(best, 1),
        "concurrent_met": None if best is None else best >= TARGETS[backend],
        "ratio": _round(ratio),
        "ratio_met": None if ratio is None else ratio >= TARGET_RATIO,
    }


def summarise(
    results: dict[str, dict[str, CaseResult]], workloads: tuple[str, ...] = ("new",)
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ratio and target figures from the per-case results, for each workload separately.

    The new-aggregate workload keeps its top-level keys; the steady-state one sits under ``"steady"``.
    """
    ratios: dict[str, Any] = {}
    targets: dict[str, Any] = {"ratio_min": TARGET_RATIO}
    for backend, cases in results.items():
        ratio = _ratio(cases, "d", "b")
        ratios[backend] = {
            "ledger_d_over_raw_b": _round(ratio),
            "ledger_c_over_raw_a": _round(_ratio(cases, "c", "a")),
        }
        targets[backend] = workload_targets(backend, cases, CONCURRENT_CASES, ratio)
        if "steady" in workloads:
            steady_ratio = _ratio(cases, "d2", "b2")
            ratios[backend]["steady"] = {"ledger_d2_over_raw_b2": _round(steady_ratio)}
            targets[backend]["steady"] = workload_targets(backend, cases, STEADY_CONCURRENT_CASES, steady_ratio)
    return ratios, targets


def _report_table(
    results: dict[str, dict[str, CaseResult]],
    labels: dict[str, str],
    ratio_row: list[str],
    targets: dict[str, dict[str, Any]],
    verdict_label: str,
    title: str,
) -> None:
    """One workload's table: its cases, then the ratio, best concurrent rate and verdict rows."""
    backends = list(results)
    headers = ["case"]
    for backend in backends:
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        headers += [f"{name} ev/s", "RSS MiB", "ev/commit", "CPU proc/box"]
    rows: list[list[str]] = []
    for case, label in labels.items():
        if not any(case in results[b] for b in backends):
            continue
        row = [label]
        for backend in backends:
            result = results[backend].get(case)
            if result is None:
                row += ["-", "-", "-", "-"]
            else:
                per_commit = result.extra.get("events_per_commit")
                cpu = f"{result.cpu_seconds / result.seconds:.2f}/" + (
                    "-" if result.machine_busy is None else f"{result.machine_busy:.2f}"
                )
                row += [fmt_rate(result.events_per_s), fmt_mib(result.rss_peak_kib), str(per_commit or "-"), cpu]
        rows.append(row)
    best_row = ["best ledger concurrent"]
    verdict_row = [verdict_label]
    for backend in backends:
        t = targets[backend]
        ratio = t["ratio"]
        ratio_row += ["-" if ratio is None else f"{ratio:.2f}", "", "", ""]
        best_row += [f"{fmt_rate(t['best_concurrent_events_per_s'])} ({t['best_concurrent_case']})", "", "", ""]
        verdict_row += [
            f">={TARGETS[backend]:,.0f}: {_verdict(t['concurrent_met'])}",
            f"ratio: {_verdict(t['ratio_met'])}",
            "",
            "",
        ]
    rows += [ratio_row, best_row, verdict_row]
    print_table(headers, rows, title=title)


def report(
    results: dict[str, dict[str, CaseResult]],
    ratios: dict[str, Any],
    targets: dict[str, Any],
    workloads: tuple[str, ...] = ("new",),
) -> None:
    """One table per workload on stderr (the ratios shown are the ones in ``targets``)."""
    legend = (
        "\nCPU proc/box: process CPU seconds per wall second (1.00 = one core; g sums both workers)"
        " / share of all cores busy on the machine."
    )
    if "new" in workloads:
        _report_table(
            results,
            LABELS,
            ["ratio ledger (d) / raw (b)"],
            {backend: targets[backend] for backend in results},
            f"targets (>= rate, ratio >= {TARGET_RATIO})",
            "\nAppend throughput, new aggregates (1 created event each)."
            " RSS: peak resident set of the case's process (per process for g)." + legend,
        )
    if "steady" in workloads:
        _report_table(
            results,
            STEADY_LABELS,
            ["ratio ledger (d2) / raw (b2)"],
            {backend: targets[backend]["steady"] for backend in results},
            f"steady targets (>= rate, ratio >= {TARGET_RATIO})",
            "\nAppend throughput, steady state: events on existing aggregates (one long-lived aggregate per"
            " caller, created in the unmeasured setup)."
            "\nRSS: peak resident set of the case's process (per process for g2)."
            + legend.replace("g sums", "g2 sums"),
        )


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("PASS" if met else "FAIL")


def parse_workloads(text: str) -> tuple[str, ...]:
    """Validate a ``--workloads`` value (kept in the canonical order)."""
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(chosen - set(WORKLOADS))
    if unknown or not chosen:
        raise SystemExit(f"--workloads: unknown {unknown or 'empty'}; choose from {', '.join(WORKLOADS)}")
    return tuple(workload for workload in WORKLOADS if workload in chosen)


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "append benchmark")
    parser.add_argument(
        "--cases",
        default="".join(LABELS),
        help="which cases to run, e.g. 'bdeg' (default: all); a letter selects that case in every chosen"
        " workload ('b' runs b and b2)",
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="comma-separated subset of: new (every event creates an aggregate, cases a-g), steady (events on"
        " existing aggregates, cases b2-g2) (default: both)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every event count by this factor")
    args = parser.parse_args()
    backends = parse_backends(args.backends)
    workloads = parse_workloads(args.workloads)
    cases: list[str] = []
    if "new" in workloads:
        cases += [case for case in LABELS if case in args.cases]
    if "steady" in workloads:
        cases += [case for case in STEADY_LABELS if case[0] in args.cases]
    all_labels = {**LABELS, **STEADY_LABELS}
    counts = QUICK_EVENTS if args.quick else FULL_EVENTS
    started = time.perf_counter()
    results: dict[str, dict[str, CaseResult]] = {backend: {} for backend in backends}
    for backend in backends:
        for case in cases:
            events = round_events(case, int(counts[backend][case] * args.scale))
            log(f"{backend:<10} {all_labels[case]:<52} {events:>8,} events ...")
            result = run_case(backend, case, events, args.postgres_url)
            results[backend][case] = result
            log(
                f"{'':<10} {'':<52} {fmt_rate(result.events_per_s):>8} ev/s in {result.seconds:.2f} s,"
                f" peak RSS {fmt_mib(result.rss_peak_kib)} MiB"
            )
    ratios, targets = summarise(results, workloads)
    report(results, ratios, targets, workloads)
    log(f"total wall time {time.perf_counter() - started:.1f} s")
    document: dict[str, Any] = {
        "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
        "date": utc_now(),
        "quick": bool(args.quick),
        "workloads": list(workloads),
        "workload": {
            "aggregate": "new aggregate, one created event with name: str",
            "batch": BATCH,
            "callers": CALLERS,
            "processes": PROCESSES,
            "callers_per_process": CALLERS_PER_PROCESS,
            "labels": LABELS,
            "steady": {
                "aggregate": "existing aggregates, one long-lived aggregate per caller (created in the unmeasured"
                " setup); events: noted with text: str",
                "batch": BATCH,
                "callers": CALLERS,
                "processes": PROCESSES,
                "callers_per_process": CALLERS_PER_PROCESS,
                "labels": STEADY_LABELS,
            },
        },
    }
    for backend in BACKENDS_ORDER:
        if backend in results:
            document[backend] = {case: result.as_json() for case, result in results[backend].items() if case in LABELS}
            if "steady" in workloads:
                document[backend]["steady"] = {
                    case: result.as_json() for case, result in results[backend].items() if case in STEADY_LABELS
                }
    document["ratios"] = ratios
    document["targets"] = targets
    emit_json(document, args.json_out)


BACKENDS_ORDER = ("sqlite", "postgresql")

if __name__ == "__main__":
    main()
