"""The results file of a claims file (docs/batch.md): one JSON line per input line, with proofs.

``<stem>.results.jsonl``. The first line is the header: ``format`` (``proveniq-ledger/claims-results/v1``),
the input's name, SHA-256, partner, status and counts, and the signed checkpoint (C2SP signed note) every
proof of the file is against. Then one line per input line, in line order: ``line``, ``outcome``,
``partnerClaimId`` and, for a claim of the ledger (``imported`` or ``already_in_ledger``), ``claimId``,
``status``, ``riskScore``, ``riskLevel``, ``riskFactors``, ``ledgerEventId``, ``leafIndex`` and ``proof``:
the inclusion proof document (docs/proofs.md) of the claim's newest log entry, with the entry's bytes, against
the header's checkpoint. A refused line carries ``field`` and ``reason``. Any RFC 9162 verifier (the
40-line one of docs/proofs.md) checks every proof offline against the header's root once the checkpoint's
signature is checked with the log's verifier key.

The file is written to a temporary name and renamed, so a reader never sees half a results file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson

from adapters.files.private_files import replace_private_file_from
from ledger_core.claims.batch.claims_file import LineResult
from ledger_core.claims.batch.formats import RESULTS_FORMAT
from ledger_core.claims.batch.importing import ImportReport
from ledger_core.engine.audit_log import AuditLog
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.ledger import Ledger


def results_header(report: ImportReport, checkpoint: CheckpointRecord | None) -> dict[str, Any]:
    return {
        "format": RESULTS_FORMAT,
        "fileName": report.file_name,
        "sha256": report.digest,
        "partnerId": report.partner_id,
        "status": report.status.value,
        "lines": report.lines,
        "counts": {outcome.value: count for outcome, count in sorted(report.counts.items())},
        "rejection": report.rejection,
        "message": report.message,
        "treeSize": None if checkpoint is None else checkpoint.size,
        "checkpoint": None if checkpoint is None else checkpoint.note,
    }


def result_line(ledger: Ledger, audit: AuditLog, result: LineResult, checkpoint: CheckpointRecord) -> dict[str, Any]:
    """One results line; a claim's line carries its decision and its proof against ``checkpoint``."""
    line: dict[str, Any] = {"line": result.line, "outcome": result.outcome.value}
    if result.partner_claim_id is not None:
        line["partnerClaimId"] = result.partner_claim_id
    if result.claim_id is not None:
        line["claimId"] = result.claim_id
    if not result.outcome.has_claim or result.claim_id is None:
        line["field"], line["reason"] = result.field, result.reason
        return line
    current = ledger.claims.current(UUID(result.claim_id))
    latest = current.claim.verifications[-1] if current.claim.verifications else None
    proven = audit.prove(current.head, checkpoint.size)
    document = proven.document().to_json()
    document.pop("checkpoint", None)  # the header carries it once
    line.update(
        status=current.claim.status.value,
        riskScore=None if latest is None else latest.risk_score,
        riskLevel=None if latest is None or latest.risk_level is None else latest.risk_level.value,
        riskFactors=[] if latest is None else list(latest.factors),
        ledgerEventId=document.get("ledgerEventId"),
        leafIndex=current.head,
        proof=document,
    )
    return line


def write_results(
    ledger: Ledger, audit: AuditLog, report: ImportReport, checkpoint: CheckpointRecord | None, path: Path
) -> Path:
    """Write the results file of ``report``'s file at ``path`` (atomically); ``checkpoint`` must cover every
    claim of the file (None only for a file rejected whole, whose results file is the header alone)."""

    def lines() -> Iterator[bytes]:
        yield orjson.dumps(results_header(report, checkpoint)) + b"\n"
        if checkpoint is None:
            return
        for result in ledger.batches.results(report.partner_id, report.digest):
            yield orjson.dumps(result_line(ledger, audit, result, checkpoint)) + b"\n"

    replace_private_file_from(path, lines())
    return path
