"""The PostgreSQL log writer's bulk batches: ``INSERT ... SELECT FROM unnest`` against binary ``COPY``, in one run.

A bulk load (an eligibility file, a claims file) hands the group commit batches of thousands of new entries.
``PostgresLogRecorder`` writes a batch of ``COPY_MIN_ENTRIES`` entries or more with a binary ``COPY``; this
script writes the same kind of batches both ways through the real recorder (``_commit_batch``: the writer
thread's whole work for a batch: lock, heads, sequencing, the rows, the notification, the commit), on one
fresh schema per way, in interleaved rounds, and reports per row: the writer's wall time, its CPU (this
process), and the CPU of the PostgreSQL backend that served it.

Every entry is a new aggregate's first event with a ~1 KB payload (a sealed member's size), as in a bulk load.

    python benchmarks/log_copy.py [--quick] [--batches 30] [--batch-size 2000] [--rounds 4]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from typing import Any

from _common import (
    base_parser,
    emit_json,
    fresh_postgres_schema,
    machine_info,
    print_table,
    process_cpu_seconds,
    utc_now,
)

from _servers import pid_cpu_seconds

from adapters.postgres.log import COPY_MIN_ENTRIES, PostgresLogRecorder
from ledger_core.engine.envelope import CanonicalPayload, EventDraft

WAYS = ("insert", "copy")


def drafts(size: int) -> list[list[EventDraft]]:
    """``size`` saves of one new aggregate's first event each (~1 KB canonical payload)."""
    saves = []
    for _ in range(size):
        payload = CanonicalPayload(b'{"sealed":"' + os.urandom(512).hex().encode() + b'"}')
        saves.append([EventDraft(str(uuid.uuid4()), "bench.created", "Bench", str(uuid.uuid4()), 1, "acme", payload)])
    return saves


def write_batches(recorder: PostgresLogRecorder, batches: list[list[list[EventDraft]]]) -> dict[str, float]:
    """Write every batch through ``recorder._commit_batch``; wall, process CPU and backend CPU in seconds."""
    backend = recorder._writer_connection().info.backend_pid
    wall = cpu = server = 0.0
    for saves in batches:
        server_before, cpu_before, start = pid_cpu_seconds(backend), process_cpu_seconds(), time.perf_counter()
        outcomes = recorder._commit_batch(saves)
        wall += time.perf_counter() - start
        cpu += process_cpu_seconds() - cpu_before
        server += pid_cpu_seconds(backend) - server_before
        if any(not isinstance(outcome, list) for outcome in outcomes):
            raise RuntimeError(f"a save was refused: {outcomes[:3]}")
    return {"wall": wall, "cpu": cpu, "server": server}


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--batches", type=int, default=None, help="batches per way and round (30; quick 10)")
    parser.add_argument("--batch-size", type=int, default=2000, help="entries per batch (default 2,000)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (4; quick 2)")
    args = parser.parse_args()
    batches = args.batches or (10 if args.quick else 30)
    rounds = args.rounds or (2 if args.quick else 4)
    if args.batch_size < COPY_MIN_ENTRIES:
        sys.exit(f"--batch-size must be at least COPY_MIN_ENTRIES ({COPY_MIN_ENTRIES})")
    per_round: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    started = utc_now()
    with (
        fresh_postgres_schema(args.postgres_url, "logcopy_insert") as insert_schema,
        fresh_postgres_schema(args.postgres_url, "logcopy_copy") as copy_schema,
    ):
        recorders = {"insert": PostgresLogRecorder(insert_schema.url), "copy": PostgresLogRecorder(copy_schema.url)}
        recorders["insert"].copy_min_entries = sys.maxsize  # never COPY
        try:
            for _ in range(rounds):
                for way in WAYS:
                    work = [drafts(args.batch_size) for _ in range(batches)]
                    per_round[way].append(write_batches(recorders[way], work))
        finally:
            for recorder in recorders.values():
                recorder.close()
    rows = batches * args.batch_size
    result: dict[str, Any] = {}
    for way in WAYS:
        result[way] = {
            name + "_us_per_row": round(statistics.median(r[name] for r in per_round[way]) / rows * 1e6, 2)
            for name in ("wall", "cpu", "server")
        }
    ratios = {name: round(result["copy"][name] / result["insert"][name], 3) for name in result["insert"]}
    print_table(
        ["per row (median of rounds)", *WAYS, "copy / insert"],
        [
            [name, str(result["insert"][name]), str(result["copy"][name]), str(ratios[name])]
            for name in result["insert"]
        ],
        title=f"{rounds} rounds of {batches} batches of {args.batch_size} entries",
    )
    emit_json(
        {
            "benchmark": "log_copy",
            "started": started,
            "finished": utc_now(),
            "quick": args.quick,
            "machine": machine_info(args.postgres_url),
            "workload": {"batches": batches, "batch_size": args.batch_size, "rounds": rounds},
            "postgresql": result,
            "copy_over_insert": ratios,
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
