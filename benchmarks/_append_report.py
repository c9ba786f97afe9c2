"""The append benchmark's verdicts and tables (benchmarks/append.py): ledger / raw ratios, the best concurrent
rate against each backend's target, one table per workload on stderr."""

from __future__ import annotations

from typing import Any

from _common import CaseResult, fmt_mib, fmt_rate, print_table

from _append_workload import LABELS, STEADY_LABELS

TARGETS = {"sqlite": 25_000.0, "postgresql": 10_000.0}
TARGET_RATIO = 0.7
CONCURRENT_CASES = ("e", "f", "g")
STEADY_CONCURRENT_CASES = ("e2", "f2", "g2")


def _ratio(cases: dict[str, CaseResult], ledger_case_id: str, raw_case_id: str) -> float | None:
    """Ledger rate over raw eventsourcing rate, when both cases ran."""
    ledger, raw = cases.get(ledger_case_id), cases.get(raw_case_id)
    return ledger.events_per_s / raw.events_per_s if ledger and raw and raw.events_per_s else None


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def workload_targets(
    backend: str, cases: dict[str, CaseResult], concurrent_cases: tuple[str, ...], ratio: float | None
) -> dict[str, Any]:
    """One workload's verdicts: best concurrent rate against the backend's target, and the ratio."""
    concurrent = {case: cases[case].events_per_s for case in concurrent_cases if case in cases}
    best_case = max(concurrent, key=lambda case: concurrent[case]) if concurrent else None
    best = concurrent[best_case] if best_case else None
    return {
        "concurrent_min_events_per_s": TARGETS[backend],
        "best_concurrent_case": best_case,
        "best_concurrent_events_per_s": _round(best, 1),
        "concurrent_met": None if best is None else best >= TARGETS[backend],
        "ratio": _round(ratio),
        "ratio_met": None if ratio is None else ratio >= TARGET_RATIO,
    }


def summarise(
    results: dict[str, dict[str, CaseResult]], workloads: tuple[str, ...] = ("new",)
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ratio and target figures from the per-case results, for each workload separately.

    The new-aggregate workload keeps its top-level keys; the steady-state one sits under ``"steady"``.
    """
    ratios: dict[str, Any] = {}
    targets: dict[str, Any] = {"ratio_min": TARGET_RATIO}
    for backend, cases in results.items():
        ratio = _ratio(cases, "d", "b")
        ratios[backend] = {
            "ledger_d_over_raw_b": _round(ratio),
            "ledger_c_over_raw_a": _round(_ratio(cases, "c", "a")),
        }
        targets[backend] = workload_targets(backend, cases, CONCURRENT_CASES, ratio)
        if "steady" in workloads:
            steady_ratio = _ratio(cases, "d2", "b2")
            ratios[backend]["steady"] = {"ledger_d2_over_raw_b2": _round(steady_ratio)}
            targets[backend]["steady"] = workload_targets(backend, cases, STEADY_CONCURRENT_CASES, steady_ratio)
    return ratios, targets


def _report_table(
    results: dict[str, dict[str, CaseResult]],
    labels: dict[str, str],
    ratio_row: list[str],
    targets: dict[str, dict[str, Any]],
    verdict_label: str,
    title: str,
) -> None:
    """One workload's table: its cases, then the ratio, best concurrent rate and verdict rows."""
    backends = list(results)
    headers = ["case"]
    for backend in backends:
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        headers += [f"{name} ev/s", "RSS MiB", "ev/commit", "CPU proc/box"]
    rows: list[list[str]] = []
    for case, label in labels.items():
        if not any(case in results[b] for b in backends):
            continue
        row = [label]
        for backend in backends:
            result = results[backend].get(case)
            if result is None:
                row += ["-", "-", "-", "-"]
            else:
                per_commit = result.extra.get("events_per_commit")
                cpu = f"{result.cpu_seconds / result.seconds:.2f}/" + (
                    "-" if result.machine_busy is None else f"{result.machine_busy:.2f}"
                )
                row += [fmt_rate(result.events_per_s), fmt_mib(result.rss_peak_kib), str(per_commit or "-"), cpu]
        rows.append(row)
    best_row = ["best ledger concurrent"]
    verdict_row = [verdict_label]
    for backend in backends:
        t = targets[backend]
        ratio = t["ratio"]
        ratio_row += ["-" if ratio is None else f"{ratio:.2f}", "", "", ""]
        best_row += [f"{fmt_rate(t['best_concurrent_events_per_s'])} ({t['best_concurrent_case']})", "", "", ""]
        verdict_row += [
            f">={TARGETS[backend]:,.0f}: {_verdict(t['concurrent_met'])}",
            f"ratio: {_verdict(t['ratio_met'])}",
            "",
            "",
        ]
    rows += [ratio_row, best_row, verdict_row]
    print_table(headers, rows, title=title)


def report(
    results: dict[str, dict[str, CaseResult]],
    ratios: dict[str, Any],
    targets: dict[str, Any],
    workloads: tuple[str, ...] = ("new",),
) -> None:
    """One table per workload on stderr (the ratios shown are the ones in ``targets``)."""
    legend = (
        "\nCPU proc/box: process CPU seconds per wall second (1.00 = one core; g sums both workers)"
        " / share of all cores busy on the machine."
    )
    if "new" in workloads:
        _report_table(
            results,
            LABELS,
            ["ratio ledger (d) / raw (b)"],
            {backend: targets[backend] for backend in results},
            f"targets (>= rate, ratio >= {TARGET_RATIO})",
            "\nAppend throughput, new aggregates (1 created event each)."
            " RSS: peak resident set of the case's process (per process for g)." + legend,
        )
    if "steady" in workloads:
        _report_table(
            results,
            STEADY_LABELS,
            ["ratio ledger (d2) / raw (b2)"],
            {backend: targets[backend]["steady"] for backend in results},
            f"steady targets (>= rate, ratio >= {TARGET_RATIO})",
            "\nAppend throughput, steady state: events on existing aggregates (one long-lived aggregate per"
            " caller, created in the unmeasured setup)."
            "\nRSS: peak resident set of the case's process (per process for g2)."
            + legend.replace("g sums", "g2 sums"),
        )


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("PASS" if met else "FAIL")
