"""File-level claims batch processing: what ``ledger batch run`` and the transports call (docs/batch.md).

:func:`process_claims_file` ``(ledger, audit, path, outbound_dir, *, checkpoint_covering, file_name=None,
default_level="standard", progress=None, workers=None) -> BatchOutcome``: import one claims file (the use
case is ``ledger.batches``, :mod:`ledger_core.claims.batch.importing`), wait for a signed checkpoint covering
the whole log as it stands (``checkpoint_covering(size)``: seals, or waits for the sealer), then write
``<stem>.results.jsonl`` into ``outbound_dir`` (:mod:`adapters.batch.results`), with ``workers`` (worker
processes that prepare the records and prove results: :mod:`adapters.batch.workers`) when given, all of it
with the garbage
collector's thresholds raised (:func:`import_claims`). A file rejected whole is a
result (its results file is the header with the rejection), never an exception; a name that is not a claims
file name raises :class:`~ledger_core.claims.batch.formats.BatchFileRejected` (no partner to record it for).
Running the same file again records nothing and rewrites the same results (against the newest checkpoint).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from adapters.batch.reports import finding_json, report_header, write_report
from adapters.batch.results import write_results
from adapters.batch.workers import BatchWorkers
from adapters.gc_threshold import bulk_gc_threshold
from adapters.opening import seal_pending
from adapters.storage import StorageConfig
from ledger_core.claims.batch.claims_file import ClaimsFileStatus
from ledger_core.claims.batch.formats import BatchKind, parse_claims_name
from ledger_core.claims.batch.importing import ImportReport, OpenFile, Progress
from ledger_core.engine.audit_log import AuditLog
from ledger_core.engine.errors import LedgerError
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.ledger import Ledger

PARALLEL_BYTES = 1 << 20
"""For a claims file of more bytes than this (~3,000 claims) the ``workers`` given are started before the load
(a smaller file starts them only if it has more than :data:`~adapters.batch.workers.LOCAL_CHUNKS` chunks)."""

CheckpointCovering = Callable[[int], CheckpointRecord]
"""``checkpoint_covering(size)``: a signed checkpoint of at least ``size`` leaves (sealing or waiting for it)."""


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    report: ImportReport
    results_path: Path


def process_claims_file(
    ledger: Ledger,
    audit: AuditLog,
    path: Path,
    outbound_dir: Path,
    *,
    checkpoint_covering: CheckpointCovering,
    file_name: str | None = None,
    default_level: str = "standard",
    progress: Progress | None = None,
    workers: BatchWorkers | None = None,
) -> BatchOutcome:
    """Import ``path`` (named ``file_name``, default its own name) and write its results file (the records
    prepared and the proofs shared with ``workers`` when given: :mod:`adapters.batch.workers`); a
    ``reconcile_...`` file goes to :func:`process_reconciliation_file`."""
    name = file_name or path.name
    if parse_claims_name(name).kind is BatchKind.RECONCILE:
        return process_reconciliation_file(ledger, path, outbound_dir, file_name=name)

    @contextmanager
    def open_file() -> Iterator[IO[bytes]]:
        with path.open("rb") as handle:
            yield handle

    with bulk_gc_threshold():  # the import and the results file: see import_claims
        if workers is not None and path.stat().st_size > PARALLEL_BYTES:
            workers.start()  # they spawn while the file's first pass runs
        report = import_claims(ledger, name, open_file, default_level=default_level, progress=progress, workers=workers)
        stem = name.rsplit(".", 1)[0]
        results_path = outbound_dir / f"{stem}.results.jsonl"
        checkpoint = None
        if report.status is ClaimsFileStatus.COMPLETED:
            checkpoint = checkpoint_covering(ledger.size())
        write_results(ledger, audit, report, checkpoint, results_path, workers)
    return BatchOutcome(report, results_path)


def import_claims(
    ledger: Ledger,
    file_name: str,
    open_file: OpenFile,
    *,
    default_level: str = "standard",
    progress: Progress | None = None,
    workers: BatchWorkers | None = None,
) -> ImportReport:
    """``ledger.batches.run`` (the import use case, :mod:`ledger_core.claims.batch.importing`) with the cyclic
    garbage collector's thresholds raised for the run (:func:`~adapters.gc_threshold.bulk_gc_threshold`);
    ``workers`` prepare a JSON Lines file's records (:meth:`~adapters.batch.workers.BatchWorkers.prepare`)."""
    with bulk_gc_threshold():
        return ledger.batches.run(
            file_name, open_file, default_level=default_level, progress=progress, preparer=workers
        )


def sealing_checkpoint(
    config: StorageConfig, signing_key: Path | None = None, *, timeout: float = 120.0, poll: float = 0.2
) -> CheckpointCovering:
    """A :data:`CheckpointCovering` for a command-line process: seal what waits (or, when a separate sealer
    leads on PostgreSQL, wait for it) until a checkpoint covers ``size``; :class:`SealTimeout` after
    ``timeout`` seconds."""

    def covering(size: int) -> CheckpointRecord:
        deadline = time.monotonic() + timeout
        while True:
            latest = seal_pending(config, signing_key=signing_key)
            if latest is not None and latest.size >= size:
                return latest
            if time.monotonic() >= deadline:
                raise SealTimeout(size, None if latest is None else latest.size)
            time.sleep(poll)

    return covering


class SealTimeout(LedgerError):
    """No signed checkpoint covered the file's claims in time (is the sealer running?)."""

    code = "SEAL_TIMEOUT"

    def __init__(self, needed: int, sealed: int | None) -> None:
        super().__init__(
            f"no signed checkpoint covers the log's {needed} entries yet (latest: {sealed}); is the sealer running?",
            needed=needed,
            sealed=sealed,
        )


def process_reconciliation_file(
    ledger: Ledger, path: Path, outbound_dir: Path, *, file_name: str | None = None
) -> BatchOutcome:
    """Reconcile the partner's list at ``path`` with the ledger and write ``<stem>.report.jsonl`` (docs/batch.md):
    a header (format, the file, its status and counts), then one line per finding. The report's SHA-256 is
    recorded in the log with the counts."""
    name = file_name or path.name
    report_path = outbound_dir / f"{name.rsplit('.', 1)[0]}.report.jsonl"

    @contextmanager
    def open_file() -> Iterator[IO[bytes]]:
        with path.open("rb") as handle:
            yield handle

    with ledger.reconciliation.start(name, open_file) as started, tempfile.TemporaryFile() as spool:
        if isinstance(started, ImportReport):  # rejected whole (report: the header), or reconciled before (kept)
            if started.status is ClaimsFileStatus.REJECTED:
                write_report(report_path, report_header(started), spool)
            return BatchOutcome(started, report_path)
        for finding in started.findings():
            spool.write(orjson.dumps(finding_json(finding)) + b"\n")
        provisional = ImportReport.of(started.file)
        header = report_header(provisional) | {
            "status": "completed",
            "lines": started.lines,
            "counts": {outcome.value: count for outcome, count in sorted(started.counts.items())},
        }
        digest = write_report(report_path, header, spool)
        return BatchOutcome(started.finish(digest), report_path)
