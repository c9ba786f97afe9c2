"""The aggregate cache's trade-off (docs/performance.md, "Soak: a smaller aggregate cache"): what a claim read
and a re-verification cost when the claim's aggregate is in the process's cache (a hit) and when it is not
(a miss: its events are read from the log and replayed), on PostgreSQL.

``--claims`` (2,000; quick 300) claims of benchmarks/fraud_eval.py's synthetic stream are submitted
(documents registered first) on a fresh schema through one ledger; then, in random order, every claim is
read (``Claims.view``, what ``GET /claims/{id}`` does) and re-verified (``Claims.verify``, a decided claim:
nothing recorded) through a ledger whose cache holds them all (hits) and through one whose cache holds one
aggregate (every read a miss). Wall and CPU time per operation (mean, p50, p99). The cost of a smaller
bound is then (miss - hit) x the share of reads that miss.

Usage: ``python benchmarks/soak_cache.py [--quick] [--claims N]``. Table on stderr, JSON last on stdout.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from _common import (
    base_parser,
    emit_json,
    fresh_postgres_schema,
    log,
    machine_info,
    print_table,
    utc_now,
)

from fraud_eval import Stream


def _now() -> datetime:
    return datetime.now(UTC)


def submit_claims(url: str, data_dir: Path, count: int) -> list[tuple[UUID, str]]:
    """Submit ``count`` synthetic claims (documents registered first); their (claim id, partner id)."""
    from adapters.opening import open_ledger
    from adapters.storage import StorageConfig

    ids: list[tuple[UUID, str]] = []
    with open_ledger(StorageConfig(data_dir, url)) as ledger:
        for claim in Stream(count, seed=7, fraud_rate=0.0):
            for digest, kind in claim.registrations:
                ledger.documents.register(
                    partner_id=claim.submission.partner_id,
                    sha256=digest,
                    document_type=kind,
                    media_type="image/jpeg" if kind == "photo" else "application/pdf",
                    size_bytes=1,
                    metadata={},
                )
            ledger.claims.submit(claim.submission)
            ids.append((claim.submission.claim_id, claim.submission.partner_id))
    return ids


def timed(operation: Callable[[UUID, str], object], ids: list[tuple[UUID, str]]) -> dict[str, float]:
    """Wall and CPU time of ``operation`` over ``ids``: mean, p50 and p99 of the wall time, mean CPU (us)."""
    walls: list[float] = []
    cpu_started = time.process_time()
    for claim_id, partner_id in ids:
        started = time.perf_counter()
        operation(claim_id, partner_id)
        walls.append(time.perf_counter() - started)
    cpu = time.process_time() - cpu_started
    walls.sort()
    return {
        "mean_us": round(sum(walls) / len(walls) * 1e6, 1),
        "p50_us": round(walls[len(walls) // 2] * 1e6, 1),
        "p99_us": round(walls[min(len(walls) - 1, int(len(walls) * 0.99))] * 1e6, 1),
        "cpu_us": round(cpu / len(walls) * 1e6, 1),
    }


def measure(url: str, data_dir: Path, ids: list[tuple[UUID, str]], cache_size: int) -> dict[str, dict[str, float]]:
    """Reads and re-verifications through a ledger whose cache holds ``cache_size`` aggregates."""
    from adapters.opening import open_ledger
    from adapters.storage import StorageConfig

    order = list(ids)
    random.Random(cache_size).shuffle(order)
    with open_ledger(StorageConfig(data_dir, url), aggregate_cache_size=cache_size) as ledger:
        if cache_size >= len(ids):  # fill the cache first: every timed operation is then a hit
            for claim_id, partner_id in order:
                ledger.claims.view(claim_id, partner_id)
        ledger.claims.view(*order[0])  # the facts index and connections warmed in both cases
        return {
            "read": timed(lambda c, p: ledger.claims.view(c, p), order),
            "reverify": timed(lambda c, p: ledger.claims.verify(c, p), order),
        }


def main() -> None:
    parser = base_parser(__doc__.split("\n\n", 1)[0] if __doc__ else "soak_cache")
    parser.add_argument("--claims", type=int, default=None, help="claims submitted (2000; quick 300)")
    args = parser.parse_args()
    count = args.claims or (300 if args.quick else 2000)
    started = utc_now()
    with fresh_postgres_schema(args.postgres_url, prefix="bench_cache") as schema, tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        log(f"submitting {count} claims")
        ids = submit_claims(schema.url, data_dir, count)
        log("timing hits and misses")
        hits = measure(schema.url, data_dir, ids, cache_size=len(ids) * 4)
        misses = measure(schema.url, data_dir, ids, cache_size=1)
    rows = []
    for op in ("read", "reverify"):
        for label, figures in (("hit", hits[op]), ("miss", misses[op])):
            rows.append([f"{op} {label}", *(str(figures[k]) for k in ("mean_us", "p50_us", "p99_us", "cpu_us"))])
    print_table(["operation", "mean us", "p50 us", "p99 us", "cpu us"], rows, title="aggregate cache: hit vs miss")
    emit_json(
        {
            "benchmark": "soak_cache",
            "started": started,
            "finished": utc_now(),
            "quick": args.quick,
            "claims": count,
            "hit": hits,
            "miss": misses,
            "miss_extra_us": {op: round(misses[op]["mean_us"] - hits[op]["mean_us"], 1) for op in hits},
            "miss_extra_cpu_us": {op: round(misses[op]["cpu_us"] - hits[op]["cpu_us"], 1) for op in hits},
            "machine": machine_info(args.postgres_url),
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
