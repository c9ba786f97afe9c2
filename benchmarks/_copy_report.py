"""The report of a benchmark that writes the same batches two ways, ``INSERT`` and ``COPY`` (``log_copy.py``,
``keys_copy.py``): per unit, the median over the interleaved rounds of the caller's wall time, its CPU and the
PostgreSQL backend's CPU, each way and their ratio; a table on stderr and one JSON object as the last line."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from _common import base_parser, emit_json, machine_info, print_table, process_cpu_seconds, utc_now

from _servers import pid_cpu_seconds

WAYS = ("insert", "copy")
MEASURES = ("wall", "cpu", "server")


class Meter:
    """Sums, over the calls it measures, the caller's wall time and CPU and the CPU of one PostgreSQL backend."""

    def __init__(self, backend_pid: int) -> None:
        self.backend_pid = backend_pid
        self.seconds = dict.fromkeys(MEASURES, 0.0)

    @contextmanager
    def measure(self) -> Iterator[None]:
        server, cpu, start = pid_cpu_seconds(self.backend_pid), process_cpu_seconds(), time.perf_counter()
        yield
        self.seconds["wall"] += time.perf_counter() - start
        self.seconds["cpu"] += process_cpu_seconds() - cpu
        self.seconds["server"] += pid_cpu_seconds(self.backend_pid) - server


@dataclass(frozen=True)
class Workload:
    """The command line of a two-ways benchmark: ``rounds`` of ``batches`` batches of ``batch_size`` each way."""

    args: argparse.Namespace
    batches: int
    batch_size: int
    rounds: int
    started: str

    def units(self) -> int:
        """Units (rows, keys) written each way in one round."""
        return self.batches * self.batch_size

    def json(self) -> dict[str, int]:
        return {"batches": self.batches, "batch_size": self.batch_size, "rounds": self.rounds}


def parse_workload(description: str, unit: str, minimum: int, minimum_name: str) -> Workload:
    """``--batches`` (30; quick 10), ``--batch-size`` (2,000, at least ``minimum``), ``--rounds`` (4; quick 2)."""
    parser = base_parser(description)
    parser.add_argument("--batches", type=int, default=None, help="batches per way and round (30; quick 10)")
    parser.add_argument("--batch-size", type=int, default=2000, help=f"{unit} per batch (default 2,000)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (4; quick 2)")
    args = parser.parse_args()
    if args.batch_size < minimum:
        sys.exit(f"--batch-size must be at least {minimum_name} ({minimum})")
    return Workload(
        args,
        args.batches or (10 if args.quick else 30),
        args.batch_size,
        args.rounds or (2 if args.quick else 4),
        utc_now(),
    )


def run_rounds(rounds: int, write: Callable[[str], dict[str, float]]) -> dict[str, list[dict[str, float]]]:
    """``write(way)`` for each way in turn, ``rounds`` times: way -> the measures of each round."""
    per_round: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
    for _ in range(rounds):
        for way in WAYS:
            per_round[way].append(write(way))
    return per_round


def report_ways(
    benchmark: str, workload: Workload, per_round: dict[str, list[dict[str, float]]], *, unit: str, title: str
) -> None:
    """Print and emit ``per_round`` (way -> rounds -> measure -> seconds for the workload's units each round)."""
    result: dict[str, Any] = {}
    for way in WAYS:
        result[way] = {
            f"{name}_us_per_{unit}": round(
                statistics.median(r[name] for r in per_round[way]) / workload.units() * 1e6, 2
            )
            for name in MEASURES
        }
    ratios = {name: round(result["copy"][name] / result["insert"][name], 3) for name in result["insert"]}
    print_table(
        [f"per {unit} (median of rounds)", *WAYS, "copy / insert"],
        [
            [name, str(result["insert"][name]), str(result["copy"][name]), str(ratios[name])]
            for name in result["insert"]
        ],
        title=title,
    )
    emit_json(
        {
            "benchmark": benchmark,
            "started": workload.started,
            "finished": utc_now(),
            "quick": workload.args.quick,
            "machine": machine_info(workload.args.postgres_url),
            "workload": workload.json(),
            "postgresql": result,
            "copy_over_insert": ratios,
        },
        workload.args.json_out,
    )
