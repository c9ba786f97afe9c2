"""The append benchmark's multi-process cases (benchmarks/append.py): g and g2, PROCESSES spawned workers of
CALLERS_PER_PROCESS asyncio tasks each on one database; the figures are the aggregate rate."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

from _common import CaseResult, measure_phase, run_workers

from _append_ledger import check_versions, open_accounts, open_ledger, run_steady_tasks, run_tasks, verify
from _append_workload import CALLERS_PER_PROCESS, PROCESSES, WARMUP_PER_CALLER


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
