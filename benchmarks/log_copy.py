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
import sys
import uuid

from _common import fresh_postgres_schema

from _copy_report import Meter, parse_workload, report_ways, run_rounds

from adapters.postgres.log import COPY_MIN_ENTRIES, PostgresLogRecorder
from ledger_core.engine.envelope import CanonicalPayload, EventDraft


def drafts(size: int) -> list[list[EventDraft]]:
    """``size`` saves of one new aggregate's first event each (~1 KB canonical payload)."""
    saves = []
    for _ in range(size):
        payload = CanonicalPayload(b'{"sealed":"' + os.urandom(512).hex().encode() + b'"}')
        saves.append([EventDraft(str(uuid.uuid4()), "bench.created", "Bench", str(uuid.uuid4()), 1, "acme", payload)])
    return saves


def write_batches(recorder: PostgresLogRecorder, batches: list[list[list[EventDraft]]]) -> dict[str, float]:
    """Write every batch through ``recorder._commit_batch``; wall, process CPU and backend CPU in seconds."""
    meter = Meter(recorder._writer_connection().info.backend_pid)
    for saves in batches:
        with meter.measure():
            outcomes = recorder._commit_batch(saves)
        if any(not isinstance(outcome, list) for outcome in outcomes):
            raise RuntimeError(f"a save was refused: {outcomes[:3]}")
    seconds: dict[str, float] = meter.seconds
    return seconds


def main() -> None:
    workload = parse_workload(__doc__ or "", "entries", COPY_MIN_ENTRIES, "COPY_MIN_ENTRIES")
    with (
        fresh_postgres_schema(workload.args.postgres_url, "logcopy_insert") as insert_schema,
        fresh_postgres_schema(workload.args.postgres_url, "logcopy_copy") as copy_schema,
    ):
        recorders = {"insert": PostgresLogRecorder(insert_schema.url), "copy": PostgresLogRecorder(copy_schema.url)}
        recorders["insert"].copy_min_entries = sys.maxsize  # never COPY
        try:
            per_round = run_rounds(
                workload.rounds,
                lambda way: write_batches(
                    recorders[way], [drafts(workload.batch_size) for _ in range(workload.batches)]
                ),
            )
        finally:
            for recorder in recorders.values():
                recorder.close()
    report_ways(
        "log_copy",
        workload,
        per_round,
        unit="row",
        title=f"{workload.rounds} rounds of {workload.batches} batches of {workload.batch_size} entries",
    )


if __name__ == "__main__":
    main()
