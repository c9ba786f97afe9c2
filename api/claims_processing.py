"""The feeds worker's :class:`~adapters.workers.claims_files.ClaimsProcessing` over one open ledger and audit
log: the file-level functions of :mod:`adapters.batch.processing` (docs/batch.md, "Over SFTP").

A claims file in a partner's inbound folder must carry that partner's id in its name: a file naming another
partner is refused whole (its results header says ``file_name``), so no partner can import, verify or
reconcile claims in another's name. A file refused before the loader read it (its name, OpenPGP) gets the
results file (or reconciliation report) header alone, with the rejection.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from adapters.batch.processing import CheckpointCovering, process_claims_file
from adapters.batch.reports import report_header, write_report
from adapters.batch.results import results_header
from adapters.batch.workers import BatchWorkers
from adapters.workers.claims_files import ClaimsResult, claims_kind
from ledger_core.claims.batch.claims_file import ClaimsFileStatus
from ledger_core.claims.batch.formats import BatchFileRejected, BatchFileRejection, BatchKind, parse_claims_name
from ledger_core.claims.batch.importing import ImportReport
from ledger_core.engine.audit_log import AuditLog
from ledger_core.ledger import Ledger

__all__ = ["LedgerClaimsProcessing"]


class LedgerClaimsProcessing:
    """Imports, verifies and reconciles claims files through ``ledger``; proofs from ``audit``."""

    def __init__(
        self,
        ledger: Ledger,
        audit: AuditLog,
        checkpoint_covering: CheckpointCovering,
        default_level: str,
        workers: BatchWorkers | None = None,
    ) -> None:
        """``workers``: the processes that parse big files' lines and prove their results beside this one (the
        caller closes them); None: all in this process."""
        self.ledger = ledger
        self.audit = audit
        self.checkpoint_covering = checkpoint_covering
        self.default_level = default_level
        self.workers = workers

    def process_claims(
        self, partner_id: str, source: Path, file_name: str, out_dir: Path, progress: Callable[[int], None] | None
    ) -> ClaimsResult:
        try:
            name = parse_claims_name(file_name)
        except BatchFileRejected as rejected:
            return self._refused(partner_id, file_name, rejected.rejection.value, rejected.message, out_dir)
        if name.partner_id != partner_id:
            message = f"a claims file in this folder is named claims|verify|reconcile_{partner_id}_<YYYYMMDD>..."
            return self._refused(partner_id, file_name, BatchFileRejection.FILE_NAME.value, message, out_dir)
        outcome = process_claims_file(
            self.ledger,
            self.audit,
            source,
            out_dir,
            checkpoint_covering=self.checkpoint_covering,
            file_name=file_name,
            default_level=self.default_level,
            progress=progress,
            workers=self.workers,
        )
        report = outcome.report
        return ClaimsResult(
            kind=name.kind,
            rejected_whole=report.status is ClaimsFileStatus.REJECTED,
            lines=report.lines,
            counts={outcome.value: count for outcome, count in sorted(report.counts.items())},
            output=outcome.results_path,
        )

    def reject_claims(self, partner_id: str, file_name: str, reason: str, out_dir: Path) -> ClaimsResult:
        return self._refused(partner_id, file_name, "openpgp", reason, out_dir)

    def _refused(self, partner_id: str, file_name: str, rejection: str, message: str, out_dir: Path) -> ClaimsResult:
        kind = claims_kind(file_name) or BatchKind.IMPORT
        stem = file_name.rsplit(".", 1)[0]
        report = ImportReport(partner_id, file_name, "", ClaimsFileStatus.REJECTED, {}, 0, rejection, message)
        if kind is BatchKind.RECONCILE:
            output, header = out_dir / f"{stem}.report.jsonl", report_header(report)
        else:
            output, header = out_dir / f"{stem}.results.jsonl", results_header(report, None)
        write_report(output, header | {"sha256": None}, io.BytesIO())  # the header alone
        return ClaimsResult(kind, True, 0, {}, output, refused=rejection)
