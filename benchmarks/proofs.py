"""Proofs at scale: sealing rate, proof latency and verification rate at N entries, vs pymerkle 7.

For each backend (SQLite, PostgreSQL; a fresh temp file / a fresh schema each) in one run:

1. **Fill (setup, not measured).** N synthetic log rows go straight into ``ledger_log`` (SQLite:
   ``executemany`` in transactions of 100k rows; PostgreSQL: ``COPY``, then ``VACUUM ANALYZE`` and a
   ``CHECKPOINT``, as autovacuum would leave it). Entries are real version-1 envelopes (RFC 8785 canonical
   JSON, ~350 B, hash-chained through ``prev``; 1,024 aggregates interleaved), deterministic from
   ``--seed``; ``leaf_hash`` is SHA-256(0x00 || entry). The first 1,000 are decoded and re-encoded with
   ``ledger_core.engine.envelope`` to check they are byte-exact envelopes.
2. **Sealing (measured).** The real ``Sealer`` (``SealPolicy(max_batch_entries=--seal-batch)``, an Ed25519
   key from ``adapters.files.signing_key``) integrates the backlog as N / batch signed checkpoints. The latest
   checkpoint's signature is verified and its root compared across backends and with pymerkle's.
3. **Proof generation (measured).** Through ``ProofService`` in the case's process after a warm-up:
   ``--samples`` inclusion proofs of random positions against the latest checkpoint, and ``--samples``
   consistency proofs between two random checkpoints (old < new). Latency per call, p50/p99.
4. **Verification (measured).** ``proofs.verify_inclusion`` / ``proofs.verify_consistency`` over those
   proofs, one thread, repeated for at least ``VERIFY_SECONDS``: proofs per second.

Baseline: pymerkle 7 ``SqliteTree`` fed the same entries with its bulk path (``append_entries``, one
transaction per 100k) at ``--pymerkle-entries`` (default N); append rate, the first (cold) inclusion
proof, then ``--pymerkle-samples`` warm inclusion and consistency proofs (the same checkpoint sizes).

Each case runs in its own spawned process (fills too), so its peak RSS (``ru_maxrss``) is its own.

Targets: proof generation p99 <= 2 ms (defined at 1M entries), sealing >= 50,000 entries/s,
verification >= 20,000 proofs/s.

Usage: ``python benchmarks/proofs.py [--quick] [--entries N] [--backends sqlite,postgresql]
[--seal-batch B] [--samples S] [--pymerkle-entries M (0: skip)] [--pymerkle-samples K]``.
A table goes to stderr; the last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import base_parser as common_parser
from _common import (
    emit_json,
    fmt_mib,
    fmt_rate,
    fresh_postgres_schema,
    fresh_sqlite_file,
    log,
    machine_info,
    parse_backends,
    run_in_subprocess,
    utc_now,
)

from _proofs_ledger import WARMUP, CaseParams, ledger_case
from _proofs_log import fill_postgres, fill_sqlite
from _proofs_pymerkle import pymerkle_case
from _proofs_report import report, verdicts

FULL_ENTRIES = 1_000_000
QUICK_ENTRIES = 50_000
SEAL_BATCH = 100_000  # SealPolicy.max_batch_entries: entries per checkpoint
QUICK_SEAL_BATCH = 5_000  # quick runs still get 10 checkpoints to prove consistency between
SAMPLES = 2_000  # inclusion and consistency proofs timed per backend
VERIFY_SECONDS = 1.0  # least time spent verifying, per kind
PYMERKLE_SAMPLES = 50
QUICK_PYMERKLE_SAMPLES = 20


# -- driver -------------------------------------------------------------------------------------------------
def run_backend(backend: str, params: CaseParams, postgres_url: str) -> dict[str, Any]:
    """Fill a fresh database (one process), then seal and prove (another process)."""
    if backend == "sqlite":
        with fresh_sqlite_file("ledger.db") as path:
            fill = run_in_subprocess(fill_sqlite, str(path.resolve()), params.entries, params.seed)
            log(f"{'':<12} filled in {fill['seconds']:.1f} s; sealing and proving ...")
            result: dict[str, Any] = run_in_subprocess(ledger_case, f"sqlite://{path.resolve()}", params)
    else:
        with fresh_postgres_schema(postgres_url, prefix="bench_proofs") as schema:
            fill = run_in_subprocess(fill_postgres, schema.url, params.entries, params.seed)
            log(f"{'':<12} filled in {fill['seconds']:.1f} s; sealing and proving ...")
            result = run_in_subprocess(ledger_case, schema.url, params)
    result["fill"] = {
        "seconds": round(fill["seconds"], 2),
        "entries_per_s": round(params.entries / fill["seconds"], 1),
        "entry_bytes_mean": round(fill["entry_bytes_mean"], 1),
        "measured": False,
    }
    return result


def parse_args() -> argparse.Namespace:
    parser = common_parser(__doc__.splitlines()[0] if __doc__ else "proofs benchmark")
    parser.add_argument(
        "--entries", type=int, default=None, help=f"log size N (default {FULL_ENTRIES:,}; quick {QUICK_ENTRIES:,})"
    )
    parser.add_argument(
        "--seal-batch",
        type=int,
        default=None,
        help=f"entries per checkpoint (default {SEAL_BATCH:,}; quick {QUICK_SEAL_BATCH:,})",
    )
    parser.add_argument("--samples", type=int, default=SAMPLES, help="timed proofs of each kind (default %(default)s)")
    parser.add_argument(
        "--pymerkle-entries", type=int, default=None, help="pymerkle baseline size (default N; 0 skips it)"
    )
    parser.add_argument(
        "--pymerkle-samples",
        type=int,
        default=None,
        help=f"pymerkle proofs of each kind (default {PYMERKLE_SAMPLES}; quick {QUICK_PYMERKLE_SAMPLES})",
    )
    parser.add_argument("--seed", type=int, default=20260101, help="synthetic log seed (default %(default)s)")
    args: argparse.Namespace = parser.parse_args()
    return args


def run_backends(backends: list[str], params: CaseParams, postgres_url: str) -> dict[str, dict[str, Any]]:
    """Each backend's case in turn, with a progress line each."""
    results: dict[str, dict[str, Any]] = {}
    for backend in backends:
        log(f"{backend:<12} {params.entries:,} entries: filling (setup) ...")
        results[backend] = run_backend(backend, params, postgres_url)
        r = results[backend]
        log(
            f"{'':<12} sealing {fmt_rate(r['sealing']['entries_per_s'])}/s, inclusion p99"
            f" {r['inclusion']['p99_ms']} ms, peak RSS {fmt_mib(int(r['rss_peak_mib'] * 1024))} MiB"
        )
    return results


def run_baseline(params: CaseParams, pm_entries: int, pm_samples: int) -> dict[str, Any]:
    """The pymerkle baseline at ``pm_entries`` (checkpoint sizes as the ledger's), in its own process."""
    log(f"{'pymerkle':<12} {pm_entries:,} entries: append_entries, then {pm_samples} proofs of each kind ...")
    sizes = list(range(params.seal_batch, pm_entries, params.seal_batch))
    with fresh_sqlite_file("pymerkle.db") as path:
        baseline: dict[str, Any] = run_in_subprocess(
            pymerkle_case, str(path.resolve()), pm_entries, params.seed, pm_samples, sizes, params.verify_seconds
        )
    log(
        f"{'':<12} append {fmt_rate(baseline['append']['entries_per_s'])}/s,"
        f" inclusion p99 {baseline['inclusion']['p99_ms']} ms"
    )
    return baseline


def compared_roots(results: dict[str, dict[str, Any]], baseline: dict[str, Any] | None, entries: int) -> dict[str, str]:
    """The roots of every run over the same ``entries``; exits if they differ."""
    roots = {name: r["root"] for name, r in results.items() if r["entries"] == entries}
    if baseline is not None and baseline["entries"] == entries:
        roots["pymerkle"] = baseline["root"]
    if len(set(roots.values())) > 1:
        raise SystemExit(f"roots differ for the same {entries:,} entries: {roots}")
    return roots


def main() -> None:
    args = parse_args()
    backends = parse_backends(args.backends)
    entries = args.entries or (QUICK_ENTRIES if args.quick else FULL_ENTRIES)
    seal_batch = args.seal_batch or (QUICK_SEAL_BATCH if args.quick else SEAL_BATCH)
    params = CaseParams(
        entries, seal_batch, args.samples, VERIFY_SECONDS / 2 if args.quick else VERIFY_SECONDS, args.seed
    )
    pm_entries = entries if args.pymerkle_entries is None else args.pymerkle_entries
    pm_samples = args.pymerkle_samples or (QUICK_PYMERKLE_SAMPLES if args.quick else PYMERKLE_SAMPLES)

    started = time.perf_counter()
    results = run_backends(backends, params, args.postgres_url)
    baseline = run_baseline(params, pm_entries, pm_samples) if pm_entries > 0 else None
    roots = compared_roots(results, baseline, entries)
    targets = verdicts(results)
    report(results, baseline, targets)
    log(f"total wall time {time.perf_counter() - started:.1f} s")
    document: dict[str, Any] = {
        "benchmark": "proofs",
        "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
        "date": utc_now(),
        "quick": bool(args.quick),
        "workload": {
            "entries": entries,
            "seal_max_batch_entries": seal_batch,
            "samples": args.samples,
            "warmup": WARMUP,
            "verify_seconds": params.verify_seconds,
            "seed": args.seed,
            "entry": "version-1 envelope, RFC 8785 JSON, hash-chained, 1024 interleaved aggregates",
            "inclusion": "ProofService.inclusion(random position) against the latest checkpoint",
            "consistency": "ProofService.consistency(old, new), two random checkpoints, old < new",
            "pymerkle": None
            if baseline is None
            else {"version": "7.0.0", "entries": baseline["entries"], "samples": pm_samples},
        },
        "roots_agree": True,
        "compared_roots": sorted(roots),
    }
    for backend in ("sqlite", "postgresql"):
        if backend in results:
            document[backend] = results[backend]
    if baseline is not None:
        document["pymerkle"] = baseline
    document["targets"] = targets
    emit_json(document, args.json_out)


if __name__ == "__main__":
    main()
