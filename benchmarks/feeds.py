"""Batch feeds end to end: a 1,000,000-row eligibility file and a 1,000,000-member enrollment feed, on SQLite and
PostgreSQL, beside the per-record ``ledger.membership.upsert`` path, in one run.

Cases per backend (one spawned process on a fresh database: a temp SQLite file or a new PostgreSQL schema):

1. **bulk**: an eligibility CSV of N rows (default 1,000,000; quick 10,000; generated before the clock
   starts, 1 % of rows invalid) goes through ``adapters.feeds.processing.process_eligibility_file`` while the
   embedded sealer runs: scan (digest, UTF-8, header, repeats), parse, validate (the API's rules), seal four
   personal fields per member under its own key (keys created per batch), save each batch's events through
   the group commit, update the counters per batch, write the report. The clock stops when the sealer has
   signed a checkpoint covering the whole log. Wall and CPU time (the machine is shared: CPU time says what
   the work costs, wall time what it took here), peak RSS of the process.
2. **per record**: ``ledger.membership.upsert`` of K new members (default 3,000; quick 200), one call per
   row as the HTTP API does it; the rate is extrapolated to N rows.
3. **enrollment**: E of the loaded members (default 1,000,000; quick 10,000) are enrolled (setup, not
   measured, saved 1,000 aggregates per save), then ``write_enrollment_feed(..., full=True)`` writes the file.

Targets on this machine: <= 60 s for 1M rows per backend, peak RSS <= 300 MB; enrollment feed of 1M <= 20 s.

Usage: ``python benchmarks/feeds.py [--quick] [--rows N] [--per-record K] [--enrollments E]
[--backends sqlite,postgresql]``. A table goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    emit_json,
    fresh_postgres_schema,
    fresh_sqlite_file,
    machine_info,
    measure_phase,
    parse_backends,
    peak_rss_kib,
    print_table,
    run_in_subprocess,
    utc_now,
)

from adapters.feed_preparation import ProcessPreparer
from adapters.feeds.processing import process_eligibility_file, write_enrollment_feed
from adapters.opening import open_ledger, start_embedded_sealer
from adapters.storage import StorageConfig
from ledger_core.members.enrollments import Enrollment
from ledger_core.members.feeds.formats import ELIGIBILITY_COLUMNS
from ledger_core.members.feeds.loading import FeedPolicy
from ledger_core.members.member_record import EligibilityRecord
from ledger_core.members.outcomes import ELIGIBLE

FULL_ROWS, QUICK_ROWS = 1_000_000, 10_000
DEFAULT_BATCH_SIZE = 2000
FULL_PER_RECORD, QUICK_PER_RECORD = 3_000, 200
FULL_ENROLLMENTS, QUICK_ENROLLMENTS = 1_000_000, 10_000
TARGET_SECONDS_PER_MILLION = 60.0
TARGET_RSS_MIB = 300.0
TARGET_ENROLLMENT_SECONDS_PER_MILLION = 20.0
PARTNER = "bench_partner"
STATES = ("IA", "TX", "CA", "NY", "FL", "OH")


def write_file(path: Path, rows: int) -> int:
    """An eligibility CSV of ``rows`` records, 1 % invalid (state ``XX``); returns the number of valid rows."""
    valid = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(ELIGIBILITY_COLUMNS) + "\r\n")
        for index in range(rows):
            state = "XX" if index % 100 == 99 else STATES[index % len(STATES)]
            valid += state != "XX"
            handle.write(
                f"m{index:08d},member.{index}@example.org,First{index},Last{index},"
                f"19{50 + index % 40}-{1 + index % 12:02d}-{1 + index % 28:02d},{'MFO'[index % 3]},{state},"
                f"{('Life', 'Health', 'Disability')[index % 3]},2022-01-01\r\n"
            )
    return valid


def bulk_and_enrollment(
    url: str, data_dir: str, rows: int, enrollments: int, workers: int, batch_size: int
) -> dict[str, Any]:
    """Cases 1 and 3 in one process (case 3 needs case 1's members); ``workers`` preparation processes
    (``FeedPolicy.workers``): their peak RSS (summed) is read before they end and their CPU once they have
    ended, inside the measured phase."""
    config = StorageConfig(Path(data_dir), url)
    work = Path(tempfile.mkdtemp(prefix="feeds-bench-", dir=data_dir))
    file = work / f"eligibility_{PARTNER}_20260115.csv"
    valid = write_file(file, rows)
    ledger = open_ledger(config, feed_policy=FeedPolicy(batch_size=batch_size, workers=workers))
    sealer = start_embedded_sealer(config)
    try:
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with measure_phase() as phase:
            outcome = process_eligibility_file(ledger, PARTNER, file, work / "out")
            loaded_at = time.perf_counter()
            size = ledger.size()
            while sealer.store.integrated_size() < size:
                time.sleep(0.05)
            preparer = ledger.feeds.loader.preparer if ledger.feeds is not None else None
            worker_peaks: list[int] = []
            taken_back = 0
            if isinstance(preparer, ProcessPreparer):
                worker_peaks = preparer.peak_rss_kib()
                taken_back = preparer.taken_back
                preparer.close()  # the workers end: their CPU is now the children's
        seal_wait = time.perf_counter() - loaded_at
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker_cpu = (children.ru_utime + children.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
        cpu = phase.cpu_seconds + worker_cpu
        today = datetime.now(UTC).date()
        counters = ledger.outcomes.store.period_sums(PARTNER, today, today)
        if outcome.result.created != valid or counters.get(ELIGIBLE) != valid:
            raise RuntimeError(f"loaded {outcome.result.created}, counted {counters}, expected {valid}")
        bulk = {
            "rows": rows,
            "rows_loaded": outcome.result.created,
            "seconds": round(phase.seconds, 2),
            "workers": workers,
            "cpu_seconds": round(cpu, 2),
            "loader_cpu_seconds": round(phase.cpu_seconds, 2),
            "worker_cpu_seconds": round(worker_cpu, 2),
            "rows_per_s": round(rows / phase.seconds, 1),
            "cpu_us_per_row": round(cpu / rows * 1e6, 1),
            "postgres_cpu_us_per_row": round(phase.postgres_cpu_seconds / rows * 1e6, 1),
            "machine_cpu_us_per_row": round(phase.machine_cpu_seconds / rows * 1e6, 1),
            "seal_wait_seconds": round(seal_wait, 2),
            "worker_rss_peak_mib": round(sum(worker_peaks) / 1024, 1),
            "batches_taken_back": taken_back,
            "machine_busy": None if phase.machine_busy is None else round(phase.machine_busy, 2),
            "rss_peak_mib": round(phase.rss_peak_kib / 1024, 1),
            "seconds_per_million": round(phase.seconds * 1_000_000 / rows, 1),
            "log_entries": size,
        }
        enrollment = enroll_and_export(ledger, enrollments, work / "out")
    finally:
        sealer.stop()
        ledger.close()
    return {"bulk": bulk, "enrollment": enrollment}


def enroll_and_export(ledger: Any, enrollments: int, out: Path) -> dict[str, Any]:
    """Enroll the first ``enrollments`` members (setup), then time the full enrollment feed."""
    pending = []
    enrolled = 0
    for index in range(enrollments + enrollments // 99 + 1):
        if index % 100 == 99:
            continue  # the invalid rows were never loaded
        if enrolled == enrollments:
            break
        pending.append(
            Enrollment.enroll(
                partner_id=PARTNER,
                partner_member_id=f"m{index:08d}",
                enrollment_date="2026-01-15",
                date_of_birth=date(1980, 1, 1),
                state=STATES[index % len(STATES)],
            )
        )
        enrolled += 1
        if len(pending) == 1000:
            ledger.app.save(*pending)
            pending = []
    if pending:
        ledger.app.save(*pending)
    setup_peak_kib = peak_rss_kib()
    with measure_phase() as phase:
        path = write_enrollment_feed(ledger, PARTNER, date(2026, 1, 16), out, full=True)
    lines = sum(1 for _ in path.open(encoding="utf-8")) - 1
    if lines != enrolled:
        raise RuntimeError(f"enrollment feed has {lines} rows, expected {enrolled}")
    return {
        "members": enrolled,
        "seconds": round(phase.seconds, 2),
        "cpu_seconds": round(phase.cpu_seconds, 2),
        "rss_peak_mib": round(phase.rss_peak_kib / 1024, 1),
        "rss_before_feed_mib": round(phase.rss_start_kib / 1024, 1),
        "rss_peak_before_feed_mib": round(setup_peak_kib / 1024, 1),
        "seconds_per_million": round(phase.seconds * 1_000_000 / enrolled, 1),
        "cpu_seconds_per_million": round(phase.cpu_seconds * 1_000_000 / enrolled, 2),
    }


def enrollment_case(url: str, data_dir: str, enrollments: int) -> dict[str, Any]:
    """``--enrollment-only``: case 3 alone on a log of enrollments only (no eligibility load first), so 1M
    enrollments fit in a sitting; the partner's other entries are not read by the feed anyway (the log's index
    on partner, type and position)."""
    work = Path(tempfile.mkdtemp(prefix="feeds-bench-", dir=data_dir))
    with open_ledger(StorageConfig(Path(data_dir), url)) as ledger:
        return {"enrollment": enroll_and_export(ledger, enrollments, work / "out")}


def per_record(url: str, data_dir: str, count: int, extrapolate_to: int) -> dict[str, Any]:
    """Case 2: one ``membership.upsert`` per row."""
    with open_ledger(StorageConfig(Path(data_dir), url)) as ledger:
        records = [
            EligibilityRecord(
                partner_member_id=f"r{index:08d}",
                email=f"record.{index}@example.org",
                first_name=f"First{index}",
                last_name=f"Last{index}",
                date_of_birth="1980-05-15",
                state=STATES[index % len(STATES)],
                policy_type="Life",
                gender="F",
            )
            for index in range(count)
        ]
        with measure_phase() as phase:
            for record in records:
                ledger.membership.upsert(PARTNER, record)
    return {
        "rows": count,
        "seconds": round(phase.seconds, 2),
        "cpu_seconds": round(phase.cpu_seconds, 2),
        "rows_per_s": round(count / phase.seconds, 1),
        "cpu_us_per_row": round(phase.cpu_seconds / count * 1e6, 1),
        "extrapolated_seconds": round(phase.seconds / count * extrapolate_to, 1),
    }


def run_backend(
    backend: str,
    postgres_url: str,
    rows: int,
    count: int,
    enrollments: int,
    *,
    enrollment_only: bool = False,
    workers: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    cases: tuple[tuple[str, Any, tuple[int, ...]], ...] = (
        (("bulk", enrollment_case, (enrollments,)),)
        if enrollment_only
        else (
            ("bulk", bulk_and_enrollment, (rows, enrollments, workers, batch_size)),
            ("per_record", per_record, (count, rows)),
        )
    )
    for name, function, args in cases:
        if backend == "sqlite":
            with fresh_sqlite_file() as path:
                found = run_in_subprocess(function, f"sqlite:///{path}", str(path.parent), *args)
        else:
            with fresh_postgres_schema(postgres_url, "feeds") as schema, fresh_sqlite_file() as path:
                found = run_in_subprocess(function, schema.url, str(path.parent), *args)
        results.update(found if name == "bulk" else {"per_record": found})
        print(f"{backend:<10} {name} done", file=sys.stderr)
    return results


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "feeds benchmark")
    parser.add_argument("--rows", type=int, default=None, help=f"default {FULL_ROWS:,}; quick {QUICK_ROWS:,}")
    parser.add_argument("--per-record", type=int, default=None, help=f"default {FULL_PER_RECORD:,}")
    parser.add_argument("--enrollments", type=int, default=None, help=f"default {FULL_ENROLLMENTS:,}")
    parser.add_argument(
        "--enrollment-only", action="store_true", help="only the enrollment feed, on a log of E enrollments"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="preparation processes of the bulk load (0: all in one process)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per batch of the bulk load (FeedPolicy)"
    )
    args = parser.parse_args()
    if args.enrollment_only:
        enrollment_main(args)
        return
    backends = parse_backends(args.backends)
    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    count = args.per_record or (QUICK_PER_RECORD if args.quick else FULL_PER_RECORD)
    enrollments = min(args.enrollments or (QUICK_ENROLLMENTS if args.quick else FULL_ENROLLMENTS), rows * 99 // 100)
    results = {
        b: run_backend(b, args.postgres_url, rows, count, enrollments, workers=args.workers, batch_size=args.batch_size)
        for b in backends
    }
    targets = {
        b: {
            "bulk_seconds_per_million_met": r["bulk"]["seconds_per_million"] <= TARGET_SECONDS_PER_MILLION,
            "bulk_rss_met": r["bulk"]["rss_peak_mib"] <= TARGET_RSS_MIB,
            "enrollment_seconds_per_million_met": r["enrollment"]["seconds_per_million"]
            <= TARGET_ENROLLMENT_SECONDS_PER_MILLION,
        }
        for b, r in results.items()
    }

    def row(label: str, part: str, key: str) -> list[str]:
        return [label, *(str(results[b][part][key]) for b in backends)]

    print_table(
        ["", *backends],
        [
            row("bulk rows", "bulk", "rows"),
            row("bulk wall s (sealed)", "bulk", "seconds"),
            row("bulk CPU s", "bulk", "cpu_seconds"),
            row("bulk rows/s", "bulk", "rows_per_s"),
            row("bulk CPU us/row (all processes)", "bulk", "cpu_us_per_row"),
            row("bulk CPU s: loader", "bulk", "loader_cpu_seconds"),
            row("bulk CPU s: workers", "bulk", "worker_cpu_seconds"),
            row("bulk workers' peak RSS MiB", "bulk", "worker_rss_peak_mib"),
            row("bulk s per 1M rows", "bulk", "seconds_per_million"),
            row("sealer wait after load s", "bulk", "seal_wait_seconds"),
            row("bulk peak RSS MiB", "bulk", "rss_peak_mib"),
            row("machine busy", "bulk", "machine_busy"),
            row("per-record rows/s", "per_record", "rows_per_s"),
            row("per-record CPU us/row", "per_record", "cpu_us_per_row"),
            row("per-record s for N (extrapolated)", "per_record", "extrapolated_seconds"),
            row("enrollment members", "enrollment", "members"),
            row("enrollment feed s", "enrollment", "seconds"),
            row("enrollment s per 1M", "enrollment", "seconds_per_million"),
            row("enrollment peak RSS MiB", "enrollment", "rss_peak_mib"),
        ],
        title="\nFeeds: eligibility file end to end (bulk path), per-record upserts, enrollment feed.",
    )
    emit_json(
        {
            "benchmark": "feeds",
            "date": utc_now(),
            "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
            "quick": bool(args.quick),
            "workload": {
                "rows": rows,
                "per_record": count,
                "enrollments": enrollments,
                "workers": args.workers,
                "batch_size": args.batch_size,
            },
            **results,
            "targets": targets,
        },
        args.json_out,
    )


def enrollment_main(args: Any) -> None:
    backends = parse_backends(args.backends)
    enrollments = args.enrollments or (QUICK_ENROLLMENTS if args.quick else FULL_ENROLLMENTS)
    results = {b: run_backend(b, args.postgres_url, 0, 0, enrollments, enrollment_only=True) for b in backends}
    print_table(
        ["", *backends],
        [
            [label, *(str(results[b]["enrollment"][key]) for b in backends)]
            for label, key in (
                ("enrollment members", "members"),
                ("enrollment feed s", "seconds"),
                ("enrollment CPU s", "cpu_seconds"),
                ("enrollment s per 1M", "seconds_per_million"),
                ("enrollment CPU s per 1M", "cpu_seconds_per_million"),
                ("RSS before the feed MiB", "rss_before_feed_mib"),
                ("peak RSS before the feed MiB", "rss_peak_before_feed_mib"),
                ("enrollment peak RSS MiB", "rss_peak_mib"),
            )
        ],
        title="\nFeeds: the full enrollment feed on a log of enrollments.",
    )
    targets = {
        b: {
            "enrollment_seconds_per_million_met": r["enrollment"]["seconds_per_million"]
            <= TARGET_ENROLLMENT_SECONDS_PER_MILLION,
            "enrollment_rss_met": r["enrollment"]["rss_peak_mib"] <= TARGET_RSS_MIB,
        }
        for b, r in results.items()
    }
    emit_json(
        {
            "benchmark": "feeds",
            "case": "enrollment-only",
            "date": utc_now(),
            "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
            "quick": bool(args.quick),
            "workload": {"enrollments": enrollments},
            **results,
            "targets": targets,
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
