"""The proofs benchmark's verdicts and table (benchmarks/proofs.py): each backend's figures against the targets
(proof p99, sealing rate, verification rate), one table on stderr with the pymerkle baseline beside them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _common import fmt_rate, print_table

TARGET_P99_MS = 2.0
TARGET_P99_AT = 1_000_000
TARGET_SEAL = 50_000.0
TARGET_VERIFY = 20_000.0

Row = Callable[..., list[str]]  # row(label, cell(backend's figures) -> str, baseline's cell="")


def _at_least(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def verdicts(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    targets: dict[str, Any] = {
        "proof_p99_ms_max": TARGET_P99_MS,
        "proof_p99_defined_at_entries": TARGET_P99_AT,
        "sealing_min_entries_per_s": TARGET_SEAL,
        "verify_min_proofs_per_s": TARGET_VERIFY,
    }
    for backend, r in results.items():
        inc, con, ver = r["inclusion"]["p99_ms"], r["consistency"]["p99_ms"], r["verify"]
        targets[backend] = {
            "at_entries": r["entries"],
            "inclusion_p99_met": None if inc is None else inc <= TARGET_P99_MS,
            "consistency_p99_met": None if con is None else con <= TARGET_P99_MS,
            "sealing_met": r["sealing"]["entries_per_s"] >= TARGET_SEAL,
            "verify_inclusion_met": _at_least(ver["inclusion"]["per_s"], TARGET_VERIFY),
            "verify_consistency_met": _at_least(ver["consistency"]["per_s"], TARGET_VERIFY),
        }
    return targets


def _ms(summary: dict[str, Any]) -> str:
    if not summary.get("samples"):
        return "-"
    return f"{summary['p50_ms']:.3f} / {summary['p99_ms']:.3f}"


def _cpu(summary: dict[str, Any]) -> str:
    if not summary.get("samples"):
        return "-"
    return f"{summary['cpu_p50_ms']:.3f} / {summary['cpu_p99_ms']:.3f}"


def _per_s(figures: dict[str, Any]) -> str:
    return "-" if figures["per_s"] is None else f"{fmt_rate(figures['per_s'])} ({fmt_rate(figures['per_cpu_s'])})"


def _busy(summary: dict[str, Any]) -> str:
    busy = summary.get("machine_busy")
    return "-" if busy is None else f"{busy:.0%}"


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("PASS" if met else "FAIL")


def report(results: dict[str, dict[str, Any]], baseline: dict[str, Any] | None, targets: dict[str, Any]) -> None:
    backends = list(results)
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    headers = ["", *(names[b] for b in backends)] + (
        [f"pymerkle SqliteTree (N={baseline['entries']:,})"] if baseline else []
    )

    def row(label: str, cell: Callable[[dict[str, Any]], str], base: str = "") -> list[str]:
        return [label, *(cell(results[b]) for b in backends)] + ([base] if baseline else [])

    def target_row(label: str, key: str) -> list[str]:
        return row(label, lambda r: _verdict(targets[_backend_of(results, r)][key]))

    rows = [*_setup_rows(row, baseline), *_proof_rows(row, baseline), *_footprint_rows(row, baseline)]
    rows += [
        target_row(f"inclusion p99 <= {TARGET_P99_MS:g} ms", "inclusion_p99_met"),
        target_row(f"consistency p99 <= {TARGET_P99_MS:g} ms", "consistency_p99_met"),
        target_row(f"sealing >= {TARGET_SEAL:,.0f}/s", "sealing_met"),
        target_row(f"verify inclusion >= {TARGET_VERIFY:,.0f}/s", "verify_inclusion_met"),
        target_row(f"verify consistency >= {TARGET_VERIFY:,.0f}/s", "verify_consistency_met"),
    ]
    sizes = {r["entries"] for r in results.values()}
    note = "" if sizes == {TARGET_P99_AT} else f" (the p99 target is defined at {TARGET_P99_AT:,}; this run is {sizes})"
    print_table(
        headers,
        rows,
        title="\nProofs: sealing, proof generation (ProofService, warm, random) and verification."
        "\nLatency is wall time per call; client CPU is the calling thread's CPU time (PostgreSQL's server"
        " work is not in it);\nmachine busy is the share of all cores busy meanwhile (other processes included)."
        f"\nPeak RSS: ru_maxrss of the case's own process (fill excluded).{note}",
    )


def _setup_rows(row: Row, baseline: dict[str, Any] | None) -> list[list[str]]:
    """Log size, entry size, fill time, sealing rate and pymerkle's append rate."""
    b = baseline or {}
    return [
        row("entries (N)", lambda r: f"{r['entries']:,}", f"{b.get('entries', 0):,}"),
        row("entry bytes (mean)", lambda r: f"{r['fill']['entry_bytes_mean']:.0f}", "same entries"),
        row("fill, setup, unmeasured (s)", lambda r: f"{r['fill']['seconds']:.1f}"),
        row(
            "sealing entries/s (checkpoints)",
            lambda r: f"{fmt_rate(r['sealing']['entries_per_s'])} ({r['sealing']['checkpoints']})",
        ),
        row(
            "  sealer CPU util / machine busy",
            lambda r: f"{r['sealing']['process_cpu_util']:.2f} / {_busy(r['sealing'])}",
        ),
        row("pymerkle append entries/s", lambda r: "", fmt_rate(b.get("append", {}).get("entries_per_s"))),
    ]


def _proof_rows(row: Row, baseline: dict[str, Any] | None) -> list[list[str]]:
    """Proof latencies (wall and client CPU) and machine load: inclusion, newest entries, consistency."""
    b = baseline or {}
    return [
        row(
            "inclusion p50 / p99 ms (samples)",
            lambda r: f"{_ms(r['inclusion'])} ({r['inclusion']['samples']})",
            f"{_ms(b['inclusion'])} ({b['inclusion']['samples']})" if baseline else "",
        ),
        row(
            "  client CPU p50 / p99 ms",
            lambda r: _cpu(r["inclusion"]),
            _cpu(b["inclusion"]) if baseline else "",
        ),
        row(
            "  machine busy (all cores)",
            lambda r: _busy(r["inclusion"]),
            _busy(b["inclusion"]) if baseline else "",
        ),
        row(
            "first (cold) inclusion ms",
            lambda r: f"{r['inclusion']['first_ms']:.2f}",
            f"{b['inclusion']['first_ms']:,.0f}" if baseline else "",
        ),
        row("newest entries: inclusion from store p50 / p99 ms", lambda r: _ms(r["recent_inclusion"]["store"])),
        row("  client CPU p50 / p99 ms", lambda r: _cpu(r["recent_inclusion"]["store"])),
        row("newest entries: from memory p50 / p99 ms", lambda r: _ms(r["recent_inclusion"]["memory"])),
        row("  client CPU p50 / p99 ms", lambda r: _cpu(r["recent_inclusion"]["memory"])),
        row(
            "consistency p50 / p99 ms (samples)",
            lambda r: f"{_ms(r['consistency'])} ({r['consistency']['samples']})",
            f"{_ms(b['consistency'])} ({b['consistency']['samples']})" if baseline else "",
        ),
        row(
            "  client CPU p50 / p99 ms",
            lambda r: _cpu(r["consistency"]),
            _cpu(b["consistency"]) if baseline else "",
        ),
    ]


def _footprint_rows(row: Row, baseline: dict[str, Any] | None) -> list[list[str]]:
    """Verification rates, peak RSS, database size and the tree's bytes per entry."""
    b = baseline or {}
    return [
        row(
            "verify inclusion/s: wall (per CPU s)",
            lambda r: _per_s(r["verify"]["inclusion"]),
            _per_s(b["verify"]["inclusion"]) if baseline else "",
        ),
        row(
            "verify consistency/s: wall (per CPU s)",
            lambda r: _per_s(r["verify"]["consistency"]),
            _per_s(b["verify"]["consistency"]) if baseline else "",
        ),
        row(
            "peak RSS MiB (sealing / whole case)",
            lambda r: f"{r['sealing']['rss_peak_mib']:.0f} / {r['rss_peak_mib']:.0f}",
            f"{b['append']['rss_peak_mib']:.0f} / {b['rss_peak_mib']:.0f}" if baseline else "",
        ),
        row("database MiB", lambda r: f"{r['db_mib']:,.0f}", f"{b['db_mib']:,.0f}" if baseline else ""),
        row(
            "tree bytes/entry: tiles / node rows",
            lambda r: "{tiles_bytes_per_entry:.1f} / {node_rows_bytes_per_entry:.1f}".format(**r["tree_storage"]),
        ),
    ]


def _backend_of(results: dict[str, dict[str, Any]], result: dict[str, Any]) -> str:
    return next(name for name, r in results.items() if r is result)
