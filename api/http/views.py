"""Domain objects and stored rows to response schemas (the only place that knows both shapes)."""

from __future__ import annotations

import base64

from api.client.schemas import common as schemas
from ledger_core.claims.claim import Claim, Verification
from ledger_core.claims.documents import Document
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.merkle import CheckpointRecord
from proofs.bundle import InclusionProof


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def log_entry(row: StoredRow) -> schemas.LogEntry:
    envelope = decode_entry(row.entry)
    return schemas.LogEntry(
        position=envelope.position,
        ledger_event_id=envelope.event_id,
        type=envelope.type,
        aggregate_type=envelope.aggregate_type,
        aggregate_id=envelope.aggregate_id,
        aggregate_version=envelope.aggregate_version,
        aggregate_prev_position=envelope.aggregate_prev_position,
        recorded_at=envelope.recorded_at,
        leaf_hash=row.leaf_hash.hex(),
        payload=envelope.payload,
        entry=b64(row.entry),
    )


def proof(row: StoredRow, inclusion: InclusionProof, record: CheckpointRecord) -> schemas.Proof:
    envelope = decode_entry(row.entry)
    return schemas.Proof(
        ledger_event_id=envelope.event_id,
        hash=inclusion.leaf_hash.hex(),
        timestamp=envelope.recorded_at,
        merkle_root=record.root_hash.hex(),
        leaf_index=inclusion.leaf_index,
        tree_size=inclusion.tree_size,
        inclusion_path=[node.hex() for node in inclusion.path],
        checkpoint=record.note,
        entry=b64(row.entry),
    )


def audit_proof(row: StoredRow, inclusion: InclusionProof, record: CheckpointRecord) -> schemas.AuditProof:
    return schemas.AuditProof(
        leaf_index=inclusion.leaf_index,
        tree_size=inclusion.tree_size,
        leaf_hash=inclusion.leaf_hash.hex(),
        inclusion_path=[node.hex() for node in inclusion.path],
        merkle_root=record.root_hash.hex(),
        checkpoint=record.note,
        entry=b64(row.entry),
        ledger_event_id=decode_entry(row.entry).event_id,
    )


def _risk(verification: Verification) -> schemas.RiskAssessment | None:
    if verification.risk_score is None or verification.risk_level is None:
        return None
    return schemas.RiskAssessment(
        score=verification.risk_score,
        level=verification.risk_level.value,
        factors=list(verification.factors),
        explanation=verification.explanation,
    )


def verification_response(claim: Claim, evidence: schemas.Proof | None) -> schemas.VerificationResponse:
    """Seed 5.2 for the claim's latest verification (or its submission when none was recorded)."""
    latest = claim.verifications[-1] if claim.verifications else None
    return schemas.VerificationResponse(
        verification_id=None if latest is None else latest.verification_id,
        claim_id=str(claim.id),
        status=claim.status.value,
        proof=evidence,
        partner_claim_id=claim.partner_claim_id,
        rule_set_version=None if latest is None else latest.rule_set_version,
        factors=[] if latest is None else list(latest.factors),
        explanation=None if latest is None else latest.explanation,
        risk_assessment=None if latest is None else _risk(latest),
    )


def claim_view(claim: Claim) -> schemas.ClaimView:
    return schemas.ClaimView(
        claim_id=str(claim.id),
        partner_id=str(claim.partner_id),
        partner_claim_id=claim.partner_claim_id,
        claim_type=claim.claim_type.value,
        claim_amount=claim.claim_amount_text,
        currency=claim.currency.value,
        submitted_at=claim.submitted_at,
        documents=[
            schemas.ClaimDocumentBody(type=doc.type.value, hash=doc.hash, metadata=dict(doc.metadata))
            for doc in claim.documents
        ],
        verification_level=claim.verification_level.value,
        status=claim.status.value,
        verifications=[
            schemas.VerificationView(
                verification_id=v.verification_id,
                status=v.status.value,
                rule_set_version=v.rule_set_version,
                factors=list(v.factors),
                explanation=v.explanation,
                risk_assessment=_risk(v),
            )
            for v in claim.verifications
        ],
        version=int(claim.version),
    )


def document_view(document: Document, created: bool) -> schemas.DocumentResponse:
    return schemas.DocumentResponse(
        document_id=str(document.id),
        hash=document.sha256,
        type=document.document_type.value,
        media_type=document.media_type,
        size_bytes=document.size_bytes,
        metadata=dict(document.metadata),
        created=created,
    )
