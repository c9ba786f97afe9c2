"""Claims batch (issue 15): a historical import of N claims at level ``enhanced`` with its results file and
proofs, on SQLite and PostgreSQL, beside the per-claim submission path and the raw group-commit append rate
of the same run, and the reconciliation of the N claims.

Cases per backend (spawned processes, each on a fresh database: a temp SQLite file or a new PostgreSQL schema):

1. **import** (one process): setup, not timed: N documents registered (one photo per claim, saved 1,000 per
   save) and the JSON Lines file of N claims written (three claim types, varied amounts, one document each, a
   policy reference on one claim in ten). Then, timed phase by phase: ``import_claims`` (``ledger.batches.run``
   as ``ledger batch run`` calls it, the garbage collector's thresholds raised; the bulk path: a chunk of
   claims and its ``claimsfile.chunk_loaded`` per anchored save, each claim verified at ``enhanced`` with the
   risk rules, each chunk decided while the one before it commits), the sealing of a signed checkpoint
   covering the log (tree integration, in this process), and ``write_results`` (one line per claim with its
   decision and its inclusion proof against that checkpoint; under the same raised thresholds, as
   ``process_claims_file`` writes it). Then **reconciliation**: the partner's list of the N claims (one in 50
   with another amount) through ``process_reconciliation_file``, in a freshly opened ledger (no claim cached).
2. **per claim** (same process, before the import, another partner): K claims through ``ledger.claims.submit``,
   the path of ``POST /api/v1/claims`` minus HTTP (an in-process stand-in for the HTTP submission rate, which
   ``benchmarks/http.py`` measures with its server), at the same level with a registered document each.
3. **raw append** (own process): M events of new aggregates with a claim-sized payload through the recorder's
   group commit, 1,000 events per save: the storage's own ceiling in the same run.

Targets on this machine: >= 5,000 claims/s on PostgreSQL (1M in under 3.5 min), peak RSS <= 400 MB;
reconciliation of 1M claims <= 60 s. CPU time per claim is the figure to compare on a shared machine.

``--reconcile-only``: the reconciliation alone, on a log whose N claims (``claim.submitted`` and
``claim.verification_recorded`` each, the bulk import's entry shape and payload fields) are written through the
recorder's raw group commit, so 1M claims fit in a sitting; the use case is the real one reading the real log.
On PostgreSQL the server's CPU for the phase (its backends serving this process) is measured too.

``--workers W`` (default 1): processes that prepare the file's records during the load and prove the results
file's batches beside the loading process (``adapters.batch.workers``, as ``ledger batch run`` does; 0: all in
one process); their CPU is counted in each phase's.

Usage: ``python benchmarks/batch.py [--quick] [--claims N] [--per-claim K] [--raw M] [--chunk C]
[--workers W] [--reconcile-only] [--backends sqlite,postgresql] [--claim-facts table,memory]`` (each
claim-facts mode a column of the run). A table goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import (
    base_parser,
    emit_json,
    fresh_postgres_schema,
    fresh_sqlite_file,
    log,
    machine_info,
    parse_backends,
    run_in_subprocess,
    utc_now,
)

from _batch_cases import import_case, raw_append, reconcile_case
from _batch_report import import_targets, print_import_table, print_reconcile_table, reconcile_targets

from adapters.storage import ClaimFactsMode

FULL_CLAIMS, QUICK_CLAIMS = 1_000_000, 5_000
FULL_PER_CLAIM, QUICK_PER_CLAIM = 2_000, 300
FULL_RAW, QUICK_RAW = 200_000, 20_000


def run_backend(
    backend: str,
    postgres_url: str,
    claims: int,
    count: int,
    raw: int,
    chunk: int,
    facts: str = "default",
    *,
    reconcile_only: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    cases: tuple[tuple[str, Any, tuple[Any, ...]], ...] = (
        (("import", reconcile_case, (claims,)),)
        if reconcile_only
        else (("import", import_case, (claims, count, chunk, facts, workers)), ("raw", raw_append, (raw,)))
    )
    for name, function, args in cases:
        if backend == "sqlite":
            with fresh_sqlite_file() as path:
                found = run_in_subprocess(function, f"sqlite:///{path}", str(path.parent), *args)
        else:
            with fresh_postgres_schema(postgres_url, "batch") as schema, fresh_sqlite_file() as path:
                found = run_in_subprocess(function, schema.url, str(path.parent), *args)
        results.update(found if name == "import" else {"raw_append": found})
        log(f"{backend:<10} {name} done")
    return results


def parse_args() -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "batch benchmark")
    parser.add_argument("--claims", type=int, default=None, help=f"default {FULL_CLAIMS:,}; quick {QUICK_CLAIMS:,}")
    parser.add_argument("--per-claim", type=int, default=None, help=f"default {FULL_PER_CLAIM:,}")
    parser.add_argument("--raw", type=int, default=None, help=f"raw appended events; default {FULL_RAW:,}")
    parser.add_argument("--chunk", type=int, default=500, help="claims per chunk (one save each)")
    parser.add_argument(
        "--workers", type=int, default=1, help="batch worker processes beside the loading one (0: none)"
    )
    parser.add_argument(
        "--reconcile-only", action="store_true", help="only the reconciliation, on a log of N claims written raw"
    )
    parser.add_argument(
        "--claim-facts",
        default="default",
        help="comma-separated: table, memory, default (the backend's); each one a column of the same run",
    )
    args: argparse.Namespace = parser.parse_args()
    return args


def claim_facts_modes(text: str) -> list[str]:
    """Validate ``--claim-facts``: each mode a column of the run."""
    modes = [mode.strip() for mode in text.split(",") if mode.strip()]
    for mode in modes:
        if mode != "default":
            ClaimFactsMode(mode)  # refuse a typo before anything runs
    return modes


def main() -> None:
    args = parse_args()
    backends = parse_backends(args.backends)
    claims = args.claims or (QUICK_CLAIMS if args.quick else FULL_CLAIMS)
    if args.reconcile_only:
        reconcile_main(args, backends, claims)
        return
    count = args.per_claim or (QUICK_PER_CLAIM if args.quick else FULL_PER_CLAIM)
    raw = args.raw or (QUICK_RAW if args.quick else FULL_RAW)
    modes = claim_facts_modes(args.claim_facts)
    results = {
        (b if modes == ["default"] else f"{b} ({mode} facts)"): run_backend(
            b, args.postgres_url, claims, count, raw, args.chunk, mode, workers=args.workers
        )
        for b in backends
        for mode in modes
    }
    targets = import_targets(results)
    print_import_table(results)
    emit_json(
        {
            "benchmark": "batch",
            "date": utc_now(),
            "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
            "quick": bool(args.quick),
            "workload": {
                "claims": claims,
                "per_claim": count,
                "raw_events": raw,
                "chunk": args.chunk,
                "claim_facts": modes,
                "workers": args.workers,
            },
            **results,
            "targets": targets,
        },
        args.json_out,
    )


def reconcile_main(args: Any, backends: list[str], claims: int) -> None:
    results = {b: run_backend(b, args.postgres_url, claims, 0, 0, 0, reconcile_only=True) for b in backends}
    print_reconcile_table(results, backends)
    emit_json(
        {
            "benchmark": "batch",
            "case": "reconcile-only",
            "date": utc_now(),
            "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
            "quick": bool(args.quick),
            "workload": {"claims": claims},
            **results,
            "targets": reconcile_targets(results),
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
