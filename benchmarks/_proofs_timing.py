"""The proofs benchmark's timing (benchmarks/proofs.py): per-call wall and thread-CPU latencies of a run of
calls (:func:`timed_calls`) and the rate of a check repeated for at least some seconds (:func:`rate`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from _common import measure_phase


@dataclass
class Timings:
    """Per-call wall and thread-CPU latencies (ns) of a run of calls, their results, and machine load."""

    wall_ns: list[int]
    cpu_ns: list[int]
    results: list[Any]
    machine_busy: float | None

    def summary(self) -> dict[str, Any]:
        """Count, p50/p99 (nearest rank), mean and max wall latency in ms; p50/p99 of this thread's CPU time.

        CPU time is what the call cost this process (SQLite works in-process; PostgreSQL's server time is
        not in it): a wall p99 well above the CPU p99 is waiting (database server, other processes).
        """
        if not self.wall_ns:
            return {"samples": 0, "p50_ms": None, "p99_ms": None}
        wall, cpu = sorted(self.wall_ns), sorted(self.cpu_ns)
        return {
            "samples": len(wall),
            "p50_ms": _rank(wall, 0.50),
            "p99_ms": _rank(wall, 0.99),
            "mean_ms": round(sum(wall) / len(wall) / 1e6, 4),
            "max_ms": round(wall[-1] / 1e6, 4),
            "cpu_p50_ms": _rank(cpu, 0.50),
            "cpu_p99_ms": _rank(cpu, 0.99),
            "machine_busy": None if self.machine_busy is None else round(self.machine_busy, 2),
        }


def _rank(ordered: Sequence[int], q: float) -> float:
    """The nearest-rank ``q`` quantile of sorted ns values, in ms."""
    return round(ordered[max(math.ceil(q * len(ordered)) - 1, 0)] / 1e6, 4)


def timed_calls(calls: Sequence[Callable[[], Any]]) -> Timings:
    """Run each call once, timing it (wall and this thread's CPU)."""
    wall: list[int] = []
    cpu: list[int] = []
    results: list[Any] = []
    clock, thread_clock = time.perf_counter_ns, time.thread_time_ns
    with measure_phase() as phase:
        for call in calls:
            start, start_cpu = clock(), thread_clock()
            results.append(call())
            cpu.append(thread_clock() - start_cpu)
            wall.append(clock() - start)
    return Timings(wall, cpu, results, phase.machine_busy)


def rate(items: Sequence[tuple[Any, ...]], check: Callable[..., Any], min_seconds: float) -> dict[str, Any]:
    """Calls of ``check(*item)`` over ``items``, repeated for at least ``min_seconds``, in one thread.

    ``per_s`` is per wall second; ``per_cpu_s`` per second of this thread's CPU time (what one core does
    when nothing else competes for it); ``machine_busy`` the share of all cores busy meanwhile.
    """
    if not items:
        return {"per_s": None, "per_cpu_s": None, "machine_busy": None}
    done = 0
    with measure_phase() as phase:
        start, start_cpu = time.perf_counter(), time.thread_time()
        while True:
            for item in items:
                check(*item)
            done += len(items)
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        cpu = time.thread_time() - start_cpu
    return {
        "per_s": round(done / elapsed, 1),
        "per_cpu_s": round(done / cpu, 1) if cpu > 0 else None,
        "machine_busy": None if phase.machine_busy is None else round(phase.machine_busy, 2),
    }
