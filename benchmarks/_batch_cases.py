"""The claims batch benchmark's cases (benchmarks/batch.py), each run in its own spawned process on a fresh
database: the import with its results file and proofs, the per-claim submissions and the reconciliation
(:func:`import_case`), the raw group-commit append (:func:`raw_append`) and ``--reconcile-only``
(:func:`reconcile_case`)."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from _common import measure_phase

from _batch_claims import (
    API_PARTNER,
    PARTNER,
    claim_fields,
    register_documents,
    write_claim_log,
    write_claims,
    write_partner_list,
    write_reconciliation,
)
from _batch_server_cpu import ServerCpu

from adapters.batch.processing import import_claims, process_reconciliation_file, sealing_checkpoint
from adapters.batch.results import write_results
from adapters.batch.workers import BatchWorkers, batch_workers
from adapters.gc_threshold import bulk_gc_threshold
from adapters.opening import open_audit_log, open_ledger
from adapters.storage import ClaimFactsMode, StorageConfig, open_recorder
from ledger_core.claims.batch.claims_file import ClaimsFileStatus
from ledger_core.claims.submission import validate_submission
from ledger_core.engine.envelope import EventDraft


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


@dataclass
class Imported:
    """The import's three timed phases (load, seal, results), its report and its results file."""

    report: Any
    loading: Any
    sealing: Any
    writing: Any
    results: Path
    workers: int = 0
    load_worker_cpu_seconds: float = 0.0
    """CPU of the load's workers (included in ``loading.cpu_seconds``)."""
    results_worker_cpu_seconds: float = 0.0
    """CPU of the results' workers (included in ``writing.cpu_seconds``)."""
    workers_rss_peak_kib: int = 0
    """The workers' peak resident sets, summed (read before they end)."""

    def summary(self, claims: int, chunk: int, entries: int) -> dict[str, Any]:
        loading, sealing, writing = self.loading, self.sealing, self.writing
        total = loading.seconds + sealing.seconds + writing.seconds
        total_cpu = loading.cpu_seconds + sealing.cpu_seconds + writing.cpu_seconds
        return {
            "claims": claims,
            "chunk": chunk,
            "counts": {outcome.value: number for outcome, number in sorted(self.report.counts.items())},
            "log_entries": entries,
            "workers": self.workers,
            "load": phase_json(loading, claims) | {"worker_cpu_seconds": round(self.load_worker_cpu_seconds, 2)},
            "seal": phase_json(sealing, claims),
            "results": phase_json(writing, claims) | {"worker_cpu_seconds": round(self.results_worker_cpu_seconds, 2)},
            "total_seconds": round(total, 2),
            "total_cpu_seconds": round(total_cpu, 2),
            "claims_per_s": round(claims / total, 1),
            "cpu_us_per_claim": round(total_cpu / claims * 1e6, 1),
            "seconds_per_million": round(total * 1_000_000 / claims, 1),
            "rss_peak_mib": round(writing.rss_peak_kib / 1024, 1),
            "workers_rss_peak_mib": round(self.workers_rss_peak_kib / 1024, 1),
        }


def worker_cpu(pool: BatchWorkers | None) -> float:
    """CPU the pool's live workers have used so far (read from /proc while they live)."""
    return 0.0 if pool is None else pool.cpu_seconds()


def timed_import(ledger: Any, config: StorageConfig, source: Path, claims: int, workers: int = 1) -> Imported:
    """Case 1's timed phases: ``import_claims``, the sealing of a checkpoint covering the log, then
    ``write_results`` (a line per claim with its inclusion proof); checks every claim imported and proven.
    ``workers`` processes (0: none) prepare the records during the load and prove batches of the results, one
    pool for the run as ``ledger batch run`` has; each phase's CPU counts what its workers used in it."""
    name = source.name

    @contextmanager
    def open_file() -> Iterator[IO[bytes]]:
        with source.open("rb") as handle:
            yield handle

    with batch_workers(config, workers) as pool:
        with measure_phase() as loading:
            if pool is not None:
                pool.start()  # as process_claims_file starts them for a big file: they spawn during the first pass
            report = import_claims(ledger, name, open_file, default_level="enhanced", workers=pool)
        load_workers = worker_cpu(pool)
        loading.cpu_seconds += load_workers
        with measure_phase() as sealing:
            checkpoint = sealing_checkpoint(config)(ledger.size())
        sealing.cpu_seconds += worker_cpu(pool) - load_workers  # (idle workers: ~0)
        results = source.parent / "out" / f"{name.rsplit('.', 1)[0]}.results.jsonl"
        results.parent.mkdir()
        before = worker_cpu(pool)
        with open_audit_log(config) as audit, bulk_gc_threshold(), measure_phase() as writing:
            write_results(ledger, audit, report, checkpoint, results, pool)
        results_workers = worker_cpu(pool) - before
        writing.cpu_seconds += results_workers
        workers_peak = 0 if pool is None else sum(pool.peak_rss_kib())
    if report.status is not ClaimsFileStatus.COMPLETED or sum(report.counts.values()) != claims:
        raise RuntimeError(f"import ended {report.status} with {report.counts}")
    proofs = sum(1 for raw in results.open("rb") if b'"proof"' in raw)
    if proofs != claims:
        raise RuntimeError(f"{proofs} proofs in the results file, expected {claims}")
    return Imported(report, loading, sealing, writing, results, workers, load_workers, results_workers, workers_peak)


def import_case(
    url: str, data_dir: str, claims: int, count: int, chunk: int, facts: str, workers: int = 1
) -> dict[str, Any]:
    """Cases 1 and 2 in one process (claim facts ``facts``: table, memory or the backend's default; ``workers``
    batch worker processes)."""
    config = StorageConfig(Path(data_dir), url, claim_facts=None if facts == "default" else ClaimFactsMode(facts))
    work = Path(tempfile.mkdtemp(prefix="batch-bench-", dir=data_dir))
    source = work / f"claims_{PARTNER}_20260115.jsonl"
    with open_ledger(config) as ledger:
        ledger.batches.chunk_size = chunk
        api = per_claim(ledger, count)
        register_documents(ledger, PARTNER, claims)
        write_claims(source, claims)
        sealing_checkpoint(config)(ledger.size())  # the setup's entries are sealed before the clock starts
        start = ledger.size()
        imported = timed_import(ledger, config, source, claims, workers)
        entries = ledger.size() - start
    reconcile_path = work / f"reconcile_{PARTNER}_20260116.csv"
    listed = write_reconciliation(reconcile_path, imported.results)
    # A nightly run: a freshly opened ledger, no claim cached.
    with open_ledger(config) as ledger, measure_phase() as reconciling:
        outcome = process_reconciliation_file(ledger, reconcile_path, work / "out")
    return {
        "per_claim": api,
        "import": imported.summary(claims, chunk, entries),
        "reconcile": {
            "claims": listed,
            "counts": outcome.report.counts and {k.value: v for k, v in sorted(outcome.report.counts.items())},
            **phase_json(reconciling, listed),
            "seconds_per_million": round(reconciling.seconds * 1_000_000 / listed, 1),
        },
    }


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
