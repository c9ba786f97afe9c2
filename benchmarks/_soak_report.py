"""The soak's per-process figures and its tables (benchmarks/soak.py): RSS at the ends, growth after the
warm-up, the claim-facts index's estimated share of an API worker's growth, CPU."""

from __future__ import annotations

from typing import Any

from _common import print_table

from _soak_analysis import edge_span, rss_growth
from _soak_procs import ProcessSampler

CLAIM_FACTS_BYTES_PER_CLAIM = 696
"""The claim-facts index's cost per claim in the log (one document each), measured with tracemalloc
(docs/performance.md, "Soak: where the API workers' memory goes"): every API worker indexes every claim,
by design, so a worker's RSS grows by about this much per claim created, however long it runs."""


def process_figures(
    sampler: ProcessSampler, started: float, ended: float, claims_per_s: float, *, facts_in_workers: bool = True
) -> dict[str, Any]:
    """Per label: RSS at the ends of the run, growth after warm-up, CPU used per wall second; for the API
    workers also the part of the growth the claim-facts index explains (an estimate: claims created between
    the two averaged windows x :data:`CLAIM_FACTS_BYTES_PER_CLAIM`) and the growth beyond it, unless the
    deployment keeps the facts in tables (``facts_in_workers`` false: no estimate, the worker holds none)."""
    figures: dict[str, Any] = {}
    for label, series in sampler.series.items():
        kept = [i for i, t in enumerate(series.times) if started <= t <= ended]
        if not kept:
            continue
        private = label == "postgresql backends"  # their RSS also counts the shared buffers they touched
        values = [(series.anon_kib if private else series.rss_kib)[i] for i in kept]
        growth = rss_growth(values)
        cpu = [series.cpu_s[i] for i in kept]
        wall = series.times[kept[-1]] - series.times[kept[0]]
        span = edge_span([series.times[i] for i in kept])
        index_kib = None
        if facts_in_workers and label.startswith("api worker") and span is not None:
            index_kib = claims_per_s * span * CLAIM_FACTS_BYTES_PER_CLAIM / 1024
        figures[label] = {
            "measure": "RssAnon" if private else "RSS",
            "judged": series.judged,
            "samples": len(kept),
            "processes": max(series.processes[i] for i in kept),
            "processes_first_last": [series.processes[kept[0]], series.processes[kept[-1]]],
            "first_mib": round(values[0] / 1024, 1),
            "last_mib": round(values[-1] / 1024, 1),
            "after_warmup_first_mean_mib": None if growth is None else round(growth.first_mean_kib / 1024, 1),
            "after_warmup_last_mean_mib": None if growth is None else round(growth.last_mean_kib / 1024, 1),
            "growth_pct": None if growth is None else round(growth.fraction * 100, 2),
            "flat": None if growth is None else growth.flat(),
            "claim_facts_estimate_mib": None if index_kib is None else round(index_kib / 1024, 1),
            "growth_pct_beyond_claim_facts": None
            if index_kib is None or growth is None
            else round((growth.last_mean_kib - growth.first_mean_kib - index_kib) / growth.first_mean_kib * 100, 2),
            # CPU of a group whose members come and go (PostgreSQL backends) is not a difference of sums
            "cpu_util": None if private or wall <= 0 else round((cpu[-1] - cpu[0]) / wall, 3),
            "series_s": [round(series.times[i] - started, 1) for i in kept],
            "series_mib": [round(value / 1024, 1) for value in values],
            "series_anon_mib": [round(series.anon_kib[i] / 1024, 1) for i in kept],
        }
    return figures


def print_report(capacity_figures: dict[str, Any], soak: dict[str, Any], processes: dict[str, Any]) -> None:
    print_table(
        ["window", "operations", "p50 ms", "p99 ms", "max ms"],
        [
            [
                f"{w['start_s']:.0f}-{w['start_s'] + w['seconds']:.0f} s",
                str(w["operations"]),
                str(w["p50_ms"]),
                str(w["p99_ms"]),
                str(w["max_ms"]),
            ]
            for w in soak["windows"]
        ],
        title=f"\nsoak latency per window (scheduled -> answered), offered {soak['rate_per_s']:.1f} ops/s "
        f"= {soak['load_factor']:.0%} of capacity {capacity_figures['requests_per_s']:.1f} ops/s",
    )
    print_table(
        ["process", "measure", "first MiB", "last MiB", "growth %", "flat", "beyond facts %", "cpu", "n"],
        [
            [
                label + ("" if f["judged"] else " (not judged)"),
                f["measure"],
                str(f["first_mib"]),
                str(f["last_mib"]),
                str(f["growth_pct"]),
                str(f["flat"]),
                "-" if f["growth_pct_beyond_claim_facts"] is None else str(f["growth_pct_beyond_claim_facts"]),
                str(f["cpu_util"]),
                str(f["processes"]),
            ]
            for label, f in processes.items()
        ],
        title="\nprocesses: RSS (first/last sample), growth of the mean from the first to the last fifth after "
        "a 20 % warm-up; beyond facts = that growth less the claim-facts index's estimate (API workers); "
        "cpu = cores used",
    )
