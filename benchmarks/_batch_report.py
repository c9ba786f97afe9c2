"""The claims batch benchmark's verdicts and tables (benchmarks/batch.py): the targets (claims/s, peak RSS,
reconciliation seconds per million), one table per run on stderr (columns: backend, or backend and claim-facts
mode)."""

from __future__ import annotations

from typing import Any

from _common import print_table

TARGET_CLAIMS_PER_S = 5_000.0
TARGET_RSS_MIB = 400.0
TARGET_RECONCILE_SECONDS_PER_MILLION = 60.0
IMPORT_ROWS = (  # label, then the keys down to the figure
    ("claims imported (enhanced)", "import", "claims"),
    ("load: wall s", "import", "load", "seconds"),
    ("load: CPU us per claim", "import", "load", "cpu_us_per_unit"),
    ("load: workers' CPU s (in the above)", "import", "load", "worker_cpu_seconds"),
    ("seal: wall s", "import", "seal", "seconds"),
    ("seal: CPU us per claim", "import", "seal", "cpu_us_per_unit"),
    ("results + proofs: wall s", "import", "results", "seconds"),
    ("results: CPU us per claim", "import", "results", "cpu_us_per_unit"),
    ("results: workers' CPU s (in the above)", "import", "results", "worker_cpu_seconds"),
    ("total claims/s (wall)", "import", "claims_per_s"),
    ("total CPU us per claim", "import", "cpu_us_per_claim"),
    ("total s per 1M (wall)", "import", "seconds_per_million"),
    ("peak RSS MiB", "import", "rss_peak_mib"),
    ("workers' peak RSS MiB", "import", "workers_rss_peak_mib"),
    ("machine busy (load)", "import", "load", "machine_busy"),
    ("per-claim submit: claims/s", "per_claim", "per_s"),
    ("per-claim submit: CPU us per claim", "per_claim", "cpu_us_per_unit"),
    ("raw append: events/s", "raw_append", "per_s"),
    ("raw append: CPU us per event", "raw_append", "cpu_us_per_unit"),
    ("reconcile: claims", "reconcile", "claims"),
    ("reconcile: wall s", "reconcile", "seconds"),
    ("reconcile: CPU us per claim", "reconcile", "cpu_us_per_unit"),
    ("reconcile: s per 1M", "reconcile", "seconds_per_million"),
)
RECONCILE_ROWS = (
    ("claims listed (and in the log)", "claims"),
    ("setup: raw log write s (not timed)", "setup_seconds"),
    ("reconcile: wall s", "seconds"),
    ("reconcile: CPU s (this process)", "cpu_seconds"),
    ("reconcile: CPU us per claim (this process)", "cpu_us_per_unit"),
    ("reconcile: server CPU us per claim", "server_cpu_us_per_unit"),
    ("reconcile: all CPU us per claim", "all_cpu_us_per_unit"),
    ("reconcile: s per 1M (wall)", "seconds_per_million"),
    ("peak RSS MiB", "rss_peak_mib"),
    ("machine busy", "machine_busy"),
)


def import_targets(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, bool]]:
    """Each column's verdicts: import rate, peak RSS (the loading process and its workers together),
    reconciliation time per million claims."""
    return {
        b: {
            "claims_per_s_met": r["import"]["claims_per_s"] >= TARGET_CLAIMS_PER_S,
            "rss_met": r["import"]["rss_peak_mib"] + r["import"]["workers_rss_peak_mib"] <= TARGET_RSS_MIB,
            "reconcile_seconds_per_million_met": r["reconcile"]["seconds_per_million"]
            <= TARGET_RECONCILE_SECONDS_PER_MILLION,
        }
        for b, r in results.items()
    }


def reconcile_targets(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, bool]]:
    """``--reconcile-only``: each backend's reconciliation time per million claims against its target."""
    return {
        b: {
            "reconcile_seconds_per_million_met": r["reconcile"]["seconds_per_million"]
            <= TARGET_RECONCILE_SECONDS_PER_MILLION
        }
        for b, r in results.items()
    }


def print_import_table(results: dict[str, dict[str, Any]]) -> None:
    """The import, per-claim, raw append and reconciliation figures, a column per run."""
    columns = list(results)

    def pick(found: Any, keys: list[str]) -> str:
        for key in keys:
            found = found[key]
        return str(found)

    print_table(
        ["", *columns],
        [[label, *(pick(results[column], keys) for column in columns)] for label, *keys in IMPORT_ROWS],
        title="\nClaims batch: bulk import with results and proofs, per-claim submit, raw append, reconcile.",
    )


def print_reconcile_table(results: dict[str, dict[str, Any]], backends: list[str]) -> None:
    """``--reconcile-only``: the reconciliation's figures, a column per backend."""
    print_table(
        ["", *backends],
        [[label, *(str(results[b]["reconcile"].get(key, "-")) for b in backends)] for label, key in RECONCILE_ROWS],
        title="\nClaims batch: reconciliation alone, on a log of claims written raw.",
    )
