"""Outcome queries at 1M members and eligibility upserts per second, on SQLite and PostgreSQL, in one run.

Cases per backend (each in a fresh spawned process, on a fresh database: a temp SQLite file or a new
PostgreSQL schema):

1. **query**: the counters that M members (default 1,000,000; quick 100,000) produce are loaded into the
   real outcome store (setup, not measured): each member gets random but plausible facts (one of 10
   partners, a registration day in 2025-2026, 8.4 % enrolled, 93 % of those tested, 4 % MZ, 0.25 % ZZ,
   half answering NPS, actions at the seed's rates) and ``ledger_core.members.outcomes.contribution`` turns them
   into counters, summed and written with ``replace_all``. Then ``ledger.outcomes.report`` (two indexed
   range queries plus the metrics, suppression and cost model) answers ``--samples`` queries for a random
   partner and a random period of 1 to 24 whole months, after a warm-up: latency per call, p50/p99/max.
   The stored rows depend on partners x days x counters, never on members; the members themselves are
   not written to the log (1M real upserts would take an hour here, see case 2's rate).
2. **upserts**: ``ledger.members.upsert`` of N new members (default 5,000; quick 500), one caller, then
   8 threads (group commit), each sealing four personal fields under a fresh per-member key and updating
   the counters: upserts per second.
3. **baseline**: what a query costs without the projection, computing the figures from the full log
   (``ledger.outcomes.recomputed_report``: one sequential scan of every entry, sealed values opened) over
   the N members of case 2, which grows linearly with the log; the projection's answer for the same
   partner and period is checked equal to it.

Target: outcomes query p99 <= 100 ms at 1M members.

Usage: ``python benchmarks/outcomes.py [--quick] [--members M] [--upserts N] [--samples S]
[--backends sqlite,postgresql]``. A table goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
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
    print_table,
    run_in_subprocess,
    utc_now,
)

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.members.member_record import EligibilityRecord
from ledger_core.members.outcomes import MemberFacts, contribution, month_end
from ledger_core.shared.vocabulary import HealthAction, NpsKind, ResultType

FULL_MEMBERS, QUICK_MEMBERS = 1_000_000, 100_000
FULL_UPSERTS, QUICK_UPSERTS = 5_000, 500
SAMPLES, WARMUP = 2_000, 100
PARTNERS = tuple(f"partner_{index:02d}" for index in range(10))
FIRST_DAY = date(2025, 1, 1)
DAYS = 730
MONTHS = 24
THREADS = 8


def _month(index: int) -> date:
    """The first day of the ``index``-th month from FIRST_DAY."""
    return date(FIRST_DAY.year + (FIRST_DAY.month - 1 + index) // 12, (FIRST_DAY.month - 1 + index) % 12 + 1, 1)


TARGET_P99_MS = 100.0


def synthetic_counts(members: int, seed: int) -> Counter[tuple[str, date, str]]:
    """Counters of ``members`` members with random facts (see the module docstring)."""
    rng = random.Random(seed)
    total: Counter[tuple[str, date, str]] = Counter()
    results = [ResultType.MM] * 9575 + [ResultType.MZ] * 400 + [ResultType.ZZ] * 25
    for _ in range(members):
        partner = rng.choice(PARTNERS)
        registered = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        facts = MemberFacts(registered)
        if rng.random() < 0.084:
            enrolled = registered + timedelta(days=rng.randrange(30))
            if rng.random() < 0.93:
                delivered = enrolled + timedelta(days=7 + rng.randrange(14))
                nps = {NpsKind.OVERALL: rng.randrange(11)} if rng.random() < 0.5 else {}
                actions = {HealthAction.DOCTOR_VISIT} if rng.random() < 0.81 else set()
                if rng.random() < 0.34:
                    actions.add(HealthAction.SMOKING_CESSATION)
                facts = MemberFacts(registered, enrolled, delivered, rng.choice(results), nps, frozenset(actions))
            else:
                facts = MemberFacts(registered, enrolled)
        for (day, counter), value in contribution(facts).items():
            total[partner, day, counter] += value
    return total


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def query_case(database_url: str, data_dir: str, members: int, samples: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    counts = synthetic_counts(members, seed)
    synth_s = time.perf_counter() - started
    with open_ledger(StorageConfig(Path(data_dir), database_url)) as ledger:
        started = time.perf_counter()
        ledger.outcomes.store.replace_all(counts)
        load_s = time.perf_counter() - started
        rng = random.Random(seed + 1)

        def one() -> float:
            partner = rng.choice(PARTNERS)
            first_month = rng.randrange(MONTHS)
            start = _month(first_month)
            end = month_end(_month(first_month + rng.randrange(MONTHS - first_month)))
            began = time.perf_counter()
            ledger.outcomes.report(partner, start, end)
            return (time.perf_counter() - began) * 1000

        for _ in range(WARMUP):
            one()
        with measure_phase() as phase:
            latencies = [one() for _ in range(samples)]
        full = ledger.outcomes.report(PARTNERS[0], FIRST_DAY, month_end(_month(MONTHS + 1)))
    eligible = sum(v for (p, _, c), v in counts.items() if c == "eligible")
    return {
        "members": members,
        "eligible_counted": eligible,
        "counter_rows": len(counts),
        "setup_synthesis_s": round(synth_s, 2),
        "setup_load_s": round(load_s, 2),
        "samples": samples,
        "p50_ms": round(_percentile(latencies, 0.50), 3),
        "p99_ms": round(_percentile(latencies, 0.99), 3),
        "max_ms": round(max(latencies), 3),
        "mean_ms": round(sum(latencies) / len(latencies), 3),
        "queries_per_s": round(samples / phase.seconds, 1),
        "rss_peak_mib": round(phase.rss_peak_kib / 1024, 1),
        "example_partner_00_all_days": full.metrics,
    }


def _record(pmid: str) -> EligibilityRecord:
    return EligibilityRecord(pmid, f"{pmid}@example.org", "Ann", "Lee", "1980-02-02", "IA", "Life", "F")


def upsert_case(database_url: str, data_dir: str, upserts: int) -> dict[str, Any]:
    with open_ledger(StorageConfig(Path(data_dir), database_url)) as ledger:
        for index in range(20):  # warm-up: connections, caches
            ledger.members.upsert("warmup", _record(f"w{index}"))
        with measure_phase() as single:
            for index in range(upserts):
                ledger.members.upsert("bench", _record(f"s{index}"))
        per_thread = upserts // THREADS

        def worker(offset: int) -> None:
            for index in range(per_thread):
                ledger.members.upsert("bench", _record(f"t{offset}-{index}"))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        with measure_phase() as threaded:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        today = date.today()
        first, last = today.replace(day=1), month_end(today)
        projected = ledger.outcomes.report("bench", first, last)
        started = time.perf_counter()
        recomputed = ledger.outcomes.recomputed_report("bench", first, last)
        recompute_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        for _ in range(20):
            ledger.outcomes.report("bench", first, last)
        projected_ms = (time.perf_counter() - started) * 1000 / 20
        expected = upserts + per_thread * THREADS
        if projected != recomputed or projected.metrics["eligible_members"] != expected:
            raise SystemExit(f"projection and recomputation differ: {projected} vs {recomputed}")
        log_size = ledger.size()
    return {
        "upserts_single": upserts,
        "upserts_per_s_single": round(upserts / single.seconds, 1),
        "upserts_threads": THREADS,
        "upserts_per_s_threads": round(per_thread * THREADS / threaded.seconds, 1),
        "cpu_share_threads": round(threaded.cpu_seconds / threaded.seconds, 2),
        "baseline_members": expected + 20,
        "baseline_log_entries": log_size,
        "baseline_recompute_ms": round(recompute_ms, 1),
        "projection_query_ms_same_data": round(projected_ms, 3),
    }


def run_backend(backend: str, postgres_url: str, members: int, upserts: int, samples: int, seed: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, function, args in (
        ("query", query_case, (members, samples, seed)),
        ("upserts", upsert_case, (upserts,)),
    ):
        if backend == "sqlite":
            with fresh_sqlite_file() as path:
                results[name] = run_in_subprocess(function, f"sqlite:///{path}", str(path.parent), *args)
        else:
            with fresh_postgres_schema(postgres_url, "outcomes") as schema, fresh_sqlite_file() as path:
                results[name] = run_in_subprocess(function, schema.url, str(path.parent), *args)
        print(f"{backend:<10} {name} done", file=sys.stderr)
    return results


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "outcomes benchmark")
    parser.add_argument("--members", type=int, default=None, help=f"default {FULL_MEMBERS:,}; quick {QUICK_MEMBERS:,}")
    parser.add_argument("--upserts", type=int, default=None, help=f"default {FULL_UPSERTS:,}; quick {QUICK_UPSERTS:,}")
    parser.add_argument("--samples", type=int, default=None, help=f"timed queries (default {SAMPLES:,}; quick 300)")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    backends = parse_backends(args.backends)
    members = args.members or (QUICK_MEMBERS if args.quick else FULL_MEMBERS)
    upserts = args.upserts or (QUICK_UPSERTS if args.quick else FULL_UPSERTS)
    samples = args.samples or (300 if args.quick else SAMPLES)
    results = {b: run_backend(b, args.postgres_url, members, upserts, samples, args.seed) for b in backends}
    targets = {b: {"query_p99_met": r["query"]["p99_ms"] <= TARGET_P99_MS} for b, r in results.items()}
    headers = ["", *backends]

    def row(label: str, part: str, key: str) -> list[str]:
        return [label, *(str(results[b][part][key]) for b in backends)]

    print_table(
        headers,
        [
            row("members (query case)", "query", "members"),
            row("counter rows", "query", "counter_rows"),
            row("query p50 ms", "query", "p50_ms"),
            row("query p99 ms", "query", "p99_ms"),
            row("query max ms", "query", "max_ms"),
            [f"p99 <= {TARGET_P99_MS:g} ms", *("met" if targets[b]["query_p99_met"] else "NOT met" for b in backends)],
            row("upserts/s, 1 caller", "upserts", "upserts_per_s_single"),
            row(f"upserts/s, {THREADS} threads", "upserts", "upserts_per_s_threads"),
            row("baseline: recompute from log ms", "upserts", "baseline_recompute_ms"),
            row("  (members in that log)", "upserts", "baseline_members"),
            row("projection query, same data, ms", "upserts", "projection_query_ms_same_data"),
        ],
        title="\nOutcomes: report latency from the per-day counters, eligibility upserts, and the recompute baseline.",
    )
    emit_json(
        {
            "benchmark": "outcomes",
            "date": utc_now(),
            "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
            "quick": bool(args.quick),
            "workload": {"members": members, "upserts": upserts, "samples": samples, "partners": len(PARTNERS)},
            **results,
            "targets": targets,
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
