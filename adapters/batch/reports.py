"""The reconciliation report (docs/batch.md): ``<stem>.report.jsonl``, written atomically, its SHA-256 returned.

First line: ``format`` (``proveniq-ledger/reconciliation-report/v1``), the partner's file name and SHA-256,
status, lines and counts by outcome. Then one line per finding: ``outcome`` (``mismatch``,
``missing_in_ledger``, ``unknown_to_partner``, ``duplicate_in_file``, ``invalid``), the file's ``line`` (none for a
claim the file does not name), ``partnerClaimId``, ``claimId``, the ``fields`` that differ, and the ``ledger``'s and
the ``partner``'s amount, currency and status.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from adapters.files.private_files import replace_private_file_from
from ledger_core.claims.batch.formats import REPORT_FORMAT
from ledger_core.claims.batch.importing import ImportReport
from ledger_core.claims.batch.reconciliation import Finding


def report_header(report: ImportReport) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "fileName": report.file_name,
        "sha256": report.digest,
        "partnerId": report.partner_id,
        "status": report.status.value,
        "lines": report.lines,
        "counts": {outcome.value: count for outcome, count in sorted(report.counts.items())},
        "rejection": report.rejection,
        "message": report.message,
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    document: dict[str, Any] = {"outcome": finding.outcome.value, "line": finding.line}
    optional = {
        "partnerClaimId": finding.partner_claim_id,
        "claimId": finding.claim_id,
        "fields": list(finding.fields) or None,
        "ledger": finding.ledger,
        "partner": finding.partner,
        "reason": finding.reason,
    }
    return document | {key: value for key, value in optional.items() if value is not None}


def write_report(path: Path, header: dict[str, Any], findings: IO[bytes]) -> str:
    """Write ``header`` then the spooled finding lines to ``path``; return the file's SHA-256."""
    digest = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        first = orjson.dumps(header) + b"\n"
        digest.update(first)
        yield first
        findings.seek(0)
        while block := findings.read(1 << 20):
            digest.update(block)
            yield block

    replace_private_file_from(path, chunks())
    return digest.hexdigest()
