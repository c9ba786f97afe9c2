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

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from adapters.files.private_files import replace_private_file_from
from ledger_core.claims.batch.claim_rows import ClaimState, claim_states, rows_reader
from ledger_core.claims.batch.claims_file import LineResult
from ledger_core.claims.batch.formats import RESULTS_FORMAT
from ledger_core.claims.batch.importing import ImportReport
from ledger_core.engine.audit_log import AuditLog, ProvenEntry
from ledger_core.engine.auditing import ProofService
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.engine.ports import AggregateRowsReader
from ledger_core.ledger import Ledger
from ledger_core.shared.chunks import chunked

if TYPE_CHECKING:
    from adapters.batch.workers import BatchWorkers


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


RESULTS_BATCH = 256
"""Result lines decided together: their claims' proofs are read in one go (``ProofService.prove_many``)."""
PARALLEL_LINES = 2 * RESULTS_BATCH
"""A file of more lines than this is written with the ``workers`` of :func:`write_results` when given."""


def result_lines(
    ledger: Ledger, audit: AuditLog, results: Iterable[LineResult], checkpoint: CheckpointRecord
) -> Iterator[dict[str, Any]]:
    """The results lines of ``results``, in order, :data:`RESULTS_BATCH` at a time: the batch's claims read in
    one query (:func:`~ledger_core.claims.batch.claim_rows.claim_states`), their proofs in one read of the tree."""
    for batch in chunked(results, RESULTS_BATCH):
        yield from _batch_lines(ledger, audit, batch, checkpoint)


def _batch_lines(
    ledger: Ledger, audit: AuditLog, batch: list[LineResult], checkpoint: CheckpointRecord
) -> Iterator[dict[str, Any]]:
    wanted = claims_of(batch)
    folded = claim_states(rows_reader(ledger.app.log_reader), wanted)
    claims = {claim_id: _decision(ledger, claim_id, folded.get(claim_id)) for claim_id in wanted}
    yield from _proven_lines(audit.proofs, batch, claims, checkpoint)


def claims_of(batch: Iterable[LineResult]) -> list[str]:
    """The claims of the ledger that ``batch``'s lines name, each once, in order."""
    return list(
        dict.fromkeys(result.claim_id for result in batch if result.outcome.has_claim and result.claim_id is not None)
    )


def folded_lines(
    reader: AggregateRowsReader, proofs: ProofService, batch: list[LineResult], checkpoint: CheckpointRecord
) -> list[dict[str, Any]] | None:
    """The results lines of ``batch`` from its claims' rows alone (no aggregate, no ledger: what a worker
    process has), or None when a claim of the batch is not one its rows describe (:func:`_decision` rebuilds
    those: the caller then writes the batch through :func:`result_lines`)."""
    wanted = claims_of(batch)
    folded = claim_states(reader, wanted)
    if len(folded) != len(wanted):
        return None
    claims = {claim_id: _state_decision(folded[claim_id]) for claim_id in wanted}
    return list(_proven_lines(proofs, batch, claims, checkpoint))


def _proven_lines(
    proofs: ProofService,
    batch: list[LineResult],
    claims: dict[str, tuple[StoredRow, dict[str, Any]]],
    checkpoint: CheckpointRecord,
) -> Iterator[dict[str, Any]]:
    """``batch``'s lines, given each claim's newest row and decision fields; its proofs in one read of the tree."""
    inclusions = proofs.prove_many([row.position for row, _ in claims.values()], checkpoint.size)
    proven = dict(zip(claims, inclusions, strict=True))
    for result in batch:
        line: dict[str, Any] = {"line": result.line, "outcome": result.outcome.value}
        if result.partner_claim_id is not None:
            line["partnerClaimId"] = result.partner_claim_id
        if result.claim_id is not None:
            line["claimId"] = result.claim_id
        if not result.outcome.has_claim or result.claim_id not in claims or result.claim_id is None:
            line["field"], line["reason"] = result.field, result.reason
            yield line
            continue
        row, decision = claims[result.claim_id]
        document = ProvenEntry(row, proven[result.claim_id], checkpoint).document().to_json()
        document.pop("checkpoint", None)  # the header carries it once
        line.update(decision)
        line.update(ledgerEventId=document.get("ledgerEventId"), leafIndex=row.position, proof=document)
        yield line


def _state_decision(state: ClaimState) -> tuple[StoredRow, dict[str, Any]]:
    """The newest row and decision fields of a claim its rows describe."""
    latest = state.verification
    return state.newest, {
        "status": state.status.value,
        "riskScore": None if latest is None else latest["risk_score"],
        "riskLevel": None if latest is None else latest["risk_level"],
        "riskFactors": [] if latest is None else list(latest["factors"]),
    }


def _decision(ledger: Ledger, claim_id: str, state: ClaimState | None) -> tuple[StoredRow, dict[str, Any]]:
    """The claim's newest row and its decision fields (``status``, ``riskScore``, ``riskLevel``, ``riskFactors``);
    a claim its rows do not describe (see :mod:`~ledger_core.claims.batch.claim_rows`) is rebuilt."""
    if state is not None:
        return _state_decision(state)
    current = ledger.claims.current(UUID(claim_id))
    verification = current.claim.verifications[-1] if current.claim.verifications else None
    head = next(row for row in ledger.app.log_reader.read_aggregate_rows(claim_id) if row.position == current.head)
    return head, {
        "status": current.claim.status.value,
        "riskScore": None if verification is None else verification.risk_score,
        "riskLevel": None if verification is None or verification.risk_level is None else verification.risk_level.value,
        "riskFactors": [] if verification is None else list(verification.factors),
    }


def write_results(
    ledger: Ledger,
    audit: AuditLog,
    report: ImportReport,
    checkpoint: CheckpointRecord | None,
    path: Path,
    workers: BatchWorkers | None = None,
) -> Path:
    """Write the results file of ``report``'s file at ``path`` (atomically); ``checkpoint`` must cover every
    claim of the file (None only for a file rejected whole, whose results file is the header alone).
    ``workers``: processes that prove some of the batches while this one proves the others (a file of more
    than :data:`PARALLEL_LINES` lines; the same bytes either way)."""

    def lines() -> Iterator[bytes]:
        yield orjson.dumps(results_header(report, checkpoint)) + b"\n"
        if checkpoint is None:
            return
        results = ledger.batches.results(report.partner_id, report.digest)
        if workers is not None and report.lines > PARALLEL_LINES:
            yield from workers.lines(ledger, audit, results, checkpoint)
            return
        for line in result_lines(ledger, audit, results, checkpoint):
            yield orjson.dumps(line) + b"\n"

    replace_private_file_from(path, lines())
    return path
