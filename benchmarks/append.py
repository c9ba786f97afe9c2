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

import argparse
import time
from dataclasses import dataclass
from typing import Any

from _common import (
    CaseResult,
    base_parser,
    emit_json,
    fmt_mib,
    fmt_rate,
    fresh_postgres_schema,
    fresh_sqlite_file,
    log,
    machine_info,
    parse_backends,
    run_in_subprocess,
    utc_now,
)

from _append_ledger import ledger_case, ledger_steady_case
from _append_multiprocess import multiprocess_case
from _append_raw import raw_case, raw_steady_case
from _append_report import report, summarise
from _append_workload import (
    BATCH,
    CALLERS,
    CALLERS_PER_PROCESS,
    FULL_EVENTS,
    LABELS,
    PROCESSES,
    QUICK_EVENTS,
    STEADY_LABELS,
    WORKLOADS,
    round_events,
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


def parse_workloads(text: str) -> tuple[str, ...]:
    """Validate a ``--workloads`` value (kept in the canonical order)."""
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(chosen - set(WORKLOADS))
    if unknown or not chosen:
        raise SystemExit(f"--workloads: unknown {unknown or 'empty'}; choose from {', '.join(WORKLOADS)}")
    return tuple(workload for workload in WORKLOADS if workload in chosen)


def parse_args() -> argparse.Namespace:
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
    args: argparse.Namespace = parser.parse_args()
    return args


def chosen_cases(letters: str, workloads: tuple[str, ...]) -> list[str]:
    """The cases to run, new-aggregate cases first: a letter selects that case in every chosen workload."""
    cases: list[str] = []
    if "new" in workloads:
        cases += [case for case in LABELS if case in letters]
    if "steady" in workloads:
        cases += [case for case in STEADY_LABELS if case[0] in letters]
    return cases


def run_cases(backends: list[str], cases: list[str], args: argparse.Namespace) -> dict[str, dict[str, CaseResult]]:
    """Every chosen case on every chosen backend, one after the other, with a progress line each."""
    all_labels = {**LABELS, **STEADY_LABELS}
    counts = QUICK_EVENTS if args.quick else FULL_EVENTS
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
    return results


def workload_document() -> dict[str, Any]:
    """The JSON document's description of both workloads."""
    return {
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
    }


def main() -> None:
    args = parse_args()
    backends = parse_backends(args.backends)
    workloads = parse_workloads(args.workloads)
    cases = chosen_cases(args.cases, workloads)
    started = time.perf_counter()
    results = run_cases(backends, cases, args)
    ratios, targets = summarise(results, workloads)
    report(results, ratios, targets, workloads)
    log(f"total wall time {time.perf_counter() - started:.1f} s")
    document: dict[str, Any] = {
        "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
        "date": utc_now(),
        "quick": bool(args.quick),
        "workloads": list(workloads),
        "workload": workload_document(),
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
