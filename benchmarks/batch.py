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

Usage: ``python benchmarks/batch.py [--quick] [--claims N] [--per-claim K] [--raw M] [--chunk C]
[--reconcile-only] [--backends sqlite,postgresql] [--claim-facts table,memory]`` (each claim-facts mode a column
of the run). A table goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from _common import (
    base_parser,
    emit_json,
    fresh_postgres_schema,
    fresh_sqlite_file,
    machine_info,
    measure_phase,
    parse_backends,
    print_table,
    run_in_subprocess,
    utc_now,
)

import orjson

from adapters.batch.processing import import_claims, process_reconciliation_file, sealing_checkpoint
from adapters.batch.results import write_results
from adapters.gc_threshold import bulk_gc_threshold
from adapters.opening import open_audit_log, open_ledger
from adapters.storage import ClaimFactsMode, StorageConfig, open_recorder
from ledger_core.claims.batch.claims_file import ClaimsFileStatus
from ledger_core.claims.documents import Document
from ledger_core.claims.submission import validate_submission
from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.envelope import EventDraft

FULL_CLAIMS, QUICK_CLAIMS = 1_000_000, 5_000
FULL_PER_CLAIM, QUICK_PER_CLAIM = 2_000, 300
FULL_RAW, QUICK_RAW = 200_000, 20_000
TARGET_CLAIMS_PER_S = 5_000.0
TARGET_RSS_MIB = 400.0
TARGET_RECONCILE_SECONDS_PER_MILLION = 60.0
PARTNER, API_PARTNER = "bench_carrier", "bench_api"
TYPES = ("auto", "property", "health")


def document_hash(partner: str, number: int) -> str:
    return hashlib.sha256(f"{partner}/{number}".encode()).hexdigest()


def claim_fields(partner: str, number: int) -> dict[str, Any]:
    document: dict[str, Any] = {"type": "photo", "hash": document_hash(partner, number)}
    if number % 10 == 0:
        document["metadata"] = {"policyReference": f"POL-{number % 997}"}
    return {
        "partnerClaimId": f"H-{number:08d}",
        "claimType": TYPES[number % 3],
        "claimAmount": f"{200 + (number * 7919) % 4800}.{number % 100:02d}",
        "currency": "USD",
        "submittedAt": f"2025-{1 + number % 12:02d}-{1 + number % 28:02d}T10:00:00Z",
        "documents": [document],
        "verificationLevel": "enhanced",
    }


def register_documents(ledger: Any, partner: str, count: int) -> None:
    """Setup: one registered photo per claim, 1,000 registrations per save."""
    pending = []
    for number in range(count):
        pending.append(
            Document.register(
                partner_id=partner,
                sha256=document_hash(partner, number),
                document_type="photo",
                media_type="image/jpeg",
                size_bytes=1000 + number,
                metadata={},
            )
        )
        if len(pending) == 1000:
            ledger.app.save(*pending)
            pending = []
    if pending:
        ledger.app.save(*pending)


def write_claims(path: Path, claims: int) -> None:
    with path.open("wb") as handle:
        for number in range(claims):
            handle.write(orjson.dumps(claim_fields(PARTNER, number)) + b"\n")


def write_reconciliation(path: Path, results: Path) -> int:
    """The partner's list from the results file: every claim with its status, one in 50 with another amount."""
    lines = 0
    with results.open("rb") as source, path.open("w", encoding="utf-8") as handle:
        handle.write("partnerClaimId,claimAmount,currency,status\n")
        next(source)
        for number, raw in enumerate(source):
            result = orjson.loads(raw)
            amount = claim_fields(PARTNER, number)["claimAmount"] if number % 50 else "1.00"
            handle.write(f"{result['partnerClaimId']},{amount},USD,{result['status']}\n")
            lines += 1
    return lines


def phase_json(phase: Any, units: int) -> dict[str, Any]:
    return {
        "seconds": round(phase.seconds, 2),
        "cpu_seconds": round(phase.cpu_seconds, 2),
        "per_s": round(units / phase.seconds, 1) if phase.seconds else None,
        "cpu_us_per_unit": round(phase.cpu_seconds / units * 1e6, 1),
        "rss_peak_mib": round(phase.rss_peak_kib / 1024, 1),
        "machine_busy": None if phase.machine_busy is None else round(phase.machine_busy, 2),
    }


def per_claim(ledger: Any, count: int) -> dict[str, Any]:
    """Case 2: ``claims.submit`` one claim at a time (the API's use case)."""
    register_documents(ledger, API_PARTNER, count)
    submissions = []
    for number in range(count):
        fields = claim_fields(API_PARTNER, number)
        submissions.append(
            validate_submission(
                partner_id=API_PARTNER,
                partner_claim_id=fields["partnerClaimId"],
                claim_type=fields["claimType"],
                claim_amount=fields["claimAmount"],
                currency=fields["currency"],
                submitted_at=fields["submittedAt"],
                documents=fields["documents"],
                verification_level=fields["verificationLevel"],
            )
        )
    with measure_phase() as phase:
        for submission in submissions:
            ledger.claims.submit(submission)
    return {"claims": count, **phase_json(phase, count)}


def import_case(url: str, data_dir: str, claims: int, count: int, chunk: int, facts: str) -> dict[str, Any]:
    """Cases 1 and 2 in one process (claim facts ``facts``: table, memory or the backend's default)."""
    config = StorageConfig(Path(data_dir), url, claim_facts=None if facts == "default" else ClaimFactsMode(facts))
    work = Path(tempfile.mkdtemp(prefix="batch-bench-", dir=data_dir))
    name = f"claims_{PARTNER}_20260115.jsonl"
    source = work / name
    with open_ledger(config) as ledger:
        ledger.batches.chunk_size = chunk
        api = per_claim(ledger, count)
        register_documents(ledger, PARTNER, claims)
        write_claims(source, claims)
        sealing_checkpoint(config)(ledger.size())  # the setup's entries are sealed before the clock starts
        start = ledger.size()

        @contextmanager
        def open_file() -> Iterator[IO[bytes]]:
            with source.open("rb") as handle:
                yield handle

        with measure_phase() as loading:
            report = import_claims(ledger, name, open_file, default_level="enhanced")
        with measure_phase() as sealing:
            checkpoint = sealing_checkpoint(config)(ledger.size())
        results = work / "out" / f"{name.rsplit('.', 1)[0]}.results.jsonl"
        results.parent.mkdir()
        with open_audit_log(config) as audit, bulk_gc_threshold(), measure_phase() as writing:
            write_results(ledger, audit, report, checkpoint, results)
        if report.status is not ClaimsFileStatus.COMPLETED or sum(report.counts.values()) != claims:
            raise RuntimeError(f"import ended {report.status} with {report.counts}")
        proofs = sum(1 for raw in results.open("rb") if b'"proof"' in raw)
        if proofs != claims:
            raise RuntimeError(f"{proofs} proofs in the results file, expected {claims}")
        entries = ledger.size() - start
        total = loading.seconds + sealing.seconds + writing.seconds
        total_cpu = loading.cpu_seconds + sealing.cpu_seconds + writing.cpu_seconds
    reconcile_path = work / f"reconcile_{PARTNER}_20260116.csv"
    listed = write_reconciliation(reconcile_path, results)
    # A nightly run: a freshly opened ledger, no claim cached.
    with open_ledger(config) as ledger, measure_phase() as reconciling:
        outcome = process_reconciliation_file(ledger, reconcile_path, work / "out")
    return {
        "per_claim": api,
        "import": {
            "claims": claims,
            "chunk": chunk,
            "counts": {outcome.value: number for outcome, number in sorted(report.counts.items())},
            "log_entries": entries,
            "load": phase_json(loading, claims),
            "seal": phase_json(sealing, claims),
            "results": phase_json(writing, claims),
            "total_seconds": round(total, 2),
            "total_cpu_seconds": round(total_cpu, 2),
            "claims_per_s": round(claims / total, 1),
            "cpu_us_per_claim": round(total_cpu / claims * 1e6, 1),
            "seconds_per_million": round(total * 1_000_000 / claims, 1),
            "rss_peak_mib": round(writing.rss_peak_kib / 1024, 1),
        },
        "reconcile": {
            "claims": listed,
            "counts": outcome.report.counts and {k.value: v for k, v in sorted(outcome.report.counts.items())},
            **phase_json(reconciling, listed),
            "seconds_per_million": round(reconciling.seconds * 1_000_000 / listed, 1),
        },
    }


def claim_drafts(number: int) -> tuple[EventDraft, EventDraft]:
    """Claim ``number``'s two entries as the bulk import writes them (payload fields and shapes of
    ``claim.submitted`` and its ``enhanced`` ``claim.verification_recorded``)."""
    fields = claim_fields(PARTNER, number)
    claim_id = str(derive_id("claim", PARTNER, fields["partnerClaimId"]))
    submitted_at = fields["submittedAt"].replace("Z", ".000000Z")
    documents = [{"hash": d["hash"], "metadata": d.get("metadata", {}), "type": d["type"]} for d in fields["documents"]]
    submitted = {
        "claim_amount": fields["claimAmount"],
        "claim_type": fields["claimType"],
        "currency": "USD",
        "documents": documents,
        "partner_claim_id": fields["partnerClaimId"],
        "submitted_at": submitted_at,
        "verification_level": "enhanced",
    }
    now = "2026-01-16T02:00:00.000000Z"
    verified = {
        "explanation": "The claim reached the ledger 380 days after its submittedAt (more than 365 days).",
        "factors": ["submitted_late"],
        "inputs": {
            "amount": fields["claimAmount"],
            "amountHistory": {"count": 0, "lnMad": None, "lnMedian": None},
            "asOfPosition": 2 * number,
            "claimType": fields["claimType"],
            "currency": "USD",
            "documents": [
                {
                    "hash": d["hash"],
                    "metadataConflicts": [],
                    "otherPartners": "none",
                    "ownOtherClaims": 0,
                    "registeredType": "photo",
                    "type": "photo",
                }
                for d in documents
            ],
            "evaluatedAt": now,
            "receivedAt": now,
            "reference": {"key": "policyReference" if number % 10 == 0 else None, "otherClaimsInWindow": 0},
            "submittedAt": submitted_at,
            "verificationLevel": "enhanced",
        },
        "previous_status": "submitted",
        "risk_level": "low",
        "risk_score": 25,
        "rule_set_version": "rules-v2",
        "status": "verified",
        "verification_id": str(uuid.uuid4()),
    }
    return (
        EventDraft(str(uuid.uuid4()), "claim.submitted", "Claim", claim_id, 1, PARTNER, submitted),
        EventDraft(str(uuid.uuid4()), "claim.verification_recorded", "Claim", claim_id, 2, PARTNER, verified),
    )


def write_claim_log(config: StorageConfig, claims: int) -> None:
    """Setup of ``--reconcile-only``: N claims' entries through the raw group commit, 500 claims per save."""
    recorder = open_recorder(config)
    try:
        for start in range(0, claims, 500):
            drafts = [draft for number in range(start, min(start + 500, claims)) for draft in claim_drafts(number)]
            recorder.submit_drafts(drafts).result()
    finally:
        recorder.close()


def write_partner_list(path: Path, claims: int) -> None:
    """The partner's list of the N claims in log order (status ``verified``), one in 50 with another amount."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write("partnerClaimId,claimAmount,currency,status\n")
        for number in range(claims):
            fields = claim_fields(PARTNER, number)
            amount = fields["claimAmount"] if number % 50 else "1.00"
            handle.write(f"{fields['partnerClaimId']},{amount},USD,verified\n")


def reconcile_case(url: str, data_dir: str, claims: int) -> dict[str, Any]:
    """``--reconcile-only``: the log written raw (not timed), then the reconciliation in a fresh ledger."""
    config = StorageConfig(Path(data_dir), url)
    work = Path(tempfile.mkdtemp(prefix="batch-bench-", dir=data_dir))
    (work / "out").mkdir()
    with measure_phase() as setup:
        write_claim_log(config, claims)
    reconcile_path = work / f"reconcile_{PARTNER}_20260116.csv"
    write_partner_list(reconcile_path, claims)
    server = ServerCpu(url)
    with open_ledger(config) as ledger:
        server.start()
        with measure_phase() as reconciling:
            outcome = process_reconciliation_file(ledger, reconcile_path, work / "out")
        server_cpu = server.stop()
    digest = hashlib.sha256(outcome.results_path.read_bytes()).hexdigest()
    found = {
        "claims": claims,
        "setup_seconds": round(setup.seconds, 1),
        "counts": {k.value: v for k, v in sorted(outcome.report.counts.items())},
        "report_sha256": digest,
        **phase_json(reconciling, claims),
        "seconds_per_million": round(reconciling.seconds * 1_000_000 / claims, 1),
    }
    if server_cpu is not None:
        found["server_cpu_seconds"] = round(server_cpu, 2)
        found["server_cpu_us_per_unit"] = round(server_cpu / claims * 1e6, 1)
        found["all_cpu_us_per_unit"] = round((reconciling.cpu_seconds + server_cpu) / claims * 1e6, 1)
    return {"reconcile": found}


class ServerCpu:
    """The CPU time of the PostgreSQL backends that serve this process (same machine: ``/proc/<pid>/stat``),
    found in ``pg_stat_activity`` by client address and port (this process's sockets). None on SQLite (the
    engine runs in the process, its CPU is already counted)."""

    def __init__(self, url: str) -> None:
        self.url = url if url.startswith("postgresql") else None
        self.before: dict[int, float] = {}

    def _backends(self) -> dict[int, float]:
        import psycopg  # only on PostgreSQL

        ports = _own_tcp_ports()
        with psycopg.connect(self.url or "", autocommit=True) as conn:
            query = "SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL"
            rows = conn.execute(query).fetchall()
        return {int(pid): _proc_cpu_seconds(int(pid)) for pid, port in rows if port in ports}

    def start(self) -> None:
        if self.url is not None:
            self.before = self._backends()

    def stop(self) -> float | None:
        if self.url is None:
            return None
        after = self._backends()
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in after.items())


def _own_tcp_ports() -> set[int]:
    """The local TCP ports of this process's sockets (``/proc/self/fd`` inodes matched in ``/proc/net/tcp*``)."""
    import os

    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as handle:
            next(handle)
            for line in handle:
                parts = line.split()
                if parts[9] in inodes:
                    ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


def _proc_cpu_seconds(pid: int) -> float:
    import os

    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_append(url: str, data_dir: str, events: int) -> dict[str, Any]:
    """Case 3: new one-event aggregates, 1,000 per save, straight to the recorder's group commit."""
    payload = claim_fields(PARTNER, 1)
    saves = [
        [
            EventDraft(str(uuid.uuid4()), "bench.appended", "Bench", str(uuid.uuid4()), 1, PARTNER, payload)
            for _ in range(min(1000, events - start))
        ]
        for start in range(0, events, 1000)
    ]
    recorder = open_recorder(StorageConfig(Path(data_dir), url))
    try:
        with measure_phase() as phase:
            for drafts in saves:
                recorder.submit_drafts(drafts).result()
    finally:
        recorder.close()
    return {"events": events, **phase_json(phase, events)}


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
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    cases: tuple[tuple[str, Any, tuple[Any, ...]], ...] = (
        (("import", reconcile_case, (claims,)),)
        if reconcile_only
        else (("import", import_case, (claims, count, chunk, facts)), ("raw", raw_append, (raw,)))
    )
    for name, function, args in cases:
        if backend == "sqlite":
            with fresh_sqlite_file() as path:
                found = run_in_subprocess(function, f"sqlite:///{path}", str(path.parent), *args)
        else:
            with fresh_postgres_schema(postgres_url, "batch") as schema, fresh_sqlite_file() as path:
                found = run_in_subprocess(function, schema.url, str(path.parent), *args)
        results.update(found if name == "import" else {"raw_append": found})
        print(f"{backend:<10} {name} done", file=sys.stderr)
    return results


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "batch benchmark")
    parser.add_argument("--claims", type=int, default=None, help=f"default {FULL_CLAIMS:,}; quick {QUICK_CLAIMS:,}")
    parser.add_argument("--per-claim", type=int, default=None, help=f"default {FULL_PER_CLAIM:,}")
    parser.add_argument("--raw", type=int, default=None, help=f"raw appended events; default {FULL_RAW:,}")
    parser.add_argument("--chunk", type=int, default=500, help="claims per chunk (one save each)")
    parser.add_argument(
        "--reconcile-only", action="store_true", help="only the reconciliation, on a log of N claims written raw"
    )
    parser.add_argument(
        "--claim-facts",
        default="default",
        help="comma-separated: table, memory, default (the backend's); each one a column of the same run",
    )
    args = parser.parse_args()
    backends = parse_backends(args.backends)
    claims = args.claims or (QUICK_CLAIMS if args.quick else FULL_CLAIMS)
    if args.reconcile_only:
        reconcile_main(args, backends, claims)
        return
    count = args.per_claim or (QUICK_PER_CLAIM if args.quick else FULL_PER_CLAIM)
    raw = args.raw or (QUICK_RAW if args.quick else FULL_RAW)
    modes = [mode.strip() for mode in args.claim_facts.split(",") if mode.strip()]
    for mode in modes:
        if mode != "default":
            ClaimFactsMode(mode)  # refuse a typo before anything runs
    results = {
        (b if modes == ["default"] else f"{b} ({mode} facts)"): run_backend(
            b, args.postgres_url, claims, count, raw, args.chunk, mode
        )
        for b in backends
        for mode in modes
    }
    columns = list(results)
    targets = {
        b: {
            "claims_per_s_met": r["import"]["claims_per_s"] >= TARGET_CLAIMS_PER_S,
            "rss_met": r["import"]["rss_peak_mib"] <= TARGET_RSS_MIB,
            "reconcile_seconds_per_million_met": r["reconcile"]["seconds_per_million"]
            <= TARGET_RECONCILE_SECONDS_PER_MILLION,
        }
        for b, r in results.items()
    }

    def row(label: str, *keys: str) -> list[str]:
        def pick(found: Any) -> str:
            for key in keys:
                found = found[key]
            return str(found)

        return [label, *(pick(results[column]) for column in columns)]

    print_table(
        ["", *columns],
        [
            row("claims imported (enhanced)", "import", "claims"),
            row("load: wall s", "import", "load", "seconds"),
            row("load: CPU us per claim", "import", "load", "cpu_us_per_unit"),
            row("seal: wall s", "import", "seal", "seconds"),
            row("seal: CPU us per claim", "import", "seal", "cpu_us_per_unit"),
            row("results + proofs: wall s", "import", "results", "seconds"),
            row("results: CPU us per claim", "import", "results", "cpu_us_per_unit"),
            row("total claims/s (wall)", "import", "claims_per_s"),
            row("total CPU us per claim", "import", "cpu_us_per_claim"),
            row("total s per 1M (wall)", "import", "seconds_per_million"),
            row("peak RSS MiB", "import", "rss_peak_mib"),
            row("machine busy (load)", "import", "load", "machine_busy"),
            row("per-claim submit: claims/s", "per_claim", "per_s"),
            row("per-claim submit: CPU us per claim", "per_claim", "cpu_us_per_unit"),
            row("raw append: events/s", "raw_append", "per_s"),
            row("raw append: CPU us per event", "raw_append", "cpu_us_per_unit"),
            row("reconcile: claims", "reconcile", "claims"),
            row("reconcile: wall s", "reconcile", "seconds"),
            row("reconcile: CPU us per claim", "reconcile", "cpu_us_per_unit"),
            row("reconcile: s per 1M", "reconcile", "seconds_per_million"),
        ],
        title="\nClaims batch: bulk import with results and proofs, per-claim submit, raw append, reconcile.",
    )
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
            },
            **results,
            "targets": targets,
        },
        args.json_out,
    )


def reconcile_main(args: Any, backends: list[str], claims: int) -> None:
    results = {b: run_backend(b, args.postgres_url, claims, 0, 0, 0, reconcile_only=True) for b in backends}
    rows = [
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
    ]
    print_table(
        ["", *backends],
        [[label, *(str(results[b]["reconcile"].get(key, "-")) for b in backends)] for label, key in rows],
        title="\nClaims batch: reconciliation alone, on a log of claims written raw.",
    )
    emit_json(
        {
            "benchmark": "batch",
            "case": "reconcile-only",
            "date": utc_now(),
            "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
            "quick": bool(args.quick),
            "workload": {"claims": claims},
            **results,
            "targets": {
                b: {
                    "reconcile_seconds_per_million_met": r["reconcile"]["seconds_per_million"]
                    <= TARGET_RECONCILE_SECONDS_PER_MILLION
                }
                for b, r in results.items()
            },
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
