"""Domain results and stored rows to response schemas (the only place that knows both shapes).

Claims, documents and the audit log render to the camelCase shapes of seed 000
(:mod:`api.client.schemas.common`); the members context to the snake_case shapes of seed 001
(:mod:`api.client.schemas.members`). No view hands a partner an individual result: ``result_type`` is
always None.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from api.client.schemas import common as schemas
from api.client.schemas import members as member_schemas
from api.client.schemas.claims import ExplainResponse, ReplayCheckView
from ledger_core.claims.claim import Claim, Verification
from ledger_core.claims.documents import Document
from ledger_core.claims.replay import ReplayCheck
from ledger_core.engine.audit_log import ProvenEntry
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import decode_entry
from ledger_core.members.enrollments import EnrollmentResult
from ledger_core.members.outcomes import OutcomeReport
from ledger_core.members.subscriptions import SubscriptionResult
from ledger_core.members.use_cases import NOT_ENROLLED_REASON, Eligibility, EnrollmentStatus
from ledger_core.shared.vocabulary import NpsKind
from proofs.promise import InclusionPromise


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


def _inclusion_fields(proven: ProvenEntry) -> dict[str, Any]:
    """The inclusion proof document's fields (ledger_core.engine.audit_log.ProvenEntry.document)."""
    document = proven.document()
    return {
        "leaf_index": document.leaf_index,
        "tree_size": document.tree_size,
        "leaf_hash": document.leaf_hash.hex(),
        "inclusion_path": [node.hex() for node in document.path],
        "entry": b64(proven.row.entry),
        "checkpoint": proven.checkpoint.note,
        "merkle_root": document.extra["merkleRoot"],
        "ledger_event_id": document.extra["ledgerEventId"],
        "timestamp": document.extra["timestamp"],
    }


def proof(proven: ProvenEntry) -> schemas.Proof:
    """A claim's proof: the inclusion proof document plus its deprecated ``hash`` (= ``leafHash``)."""
    fields = _inclusion_fields(proven)
    return schemas.Proof(**fields, hash=fields["leaf_hash"])


def sealed_proof(proven: ProvenEntry | None) -> schemas.Proof | None:
    """The proof of a write, or None when its seal did not come within the wait."""
    return None if proven is None else proof(proven)


def audit_proof(proven: ProvenEntry) -> schemas.AuditProof:
    return schemas.AuditProof(**_inclusion_fields(proven))


def _risk(verification: Verification) -> schemas.RiskAssessment | None:
    if verification.risk_score is None or verification.risk_level is None:
        return None
    return schemas.RiskAssessment(
        score=verification.risk_score,
        level=verification.risk_level.value,
        factors=list(verification.factors),
        explanation=verification.explanation,
    )


def promise(made: InclusionPromise) -> schemas.InclusionPromiseDocument:
    """A signed promise of inclusion as sent (``Prefer: respond-async``)."""
    return schemas.InclusionPromiseDocument(
        origin=made.origin,
        leaf_index=made.leaf_index,
        leaf_hash=made.leaf_hash.hex(),
        timestamp=made.timestamp,
        signature=made.signature,
    )


def verification_response(
    claim: Claim, evidence: schemas.Proof | None, promised: schemas.InclusionPromiseDocument | None = None
) -> schemas.VerificationResponse:
    """Seed 5.2 for the claim's latest verification (or its submission when none was recorded); ``promised``
    when the client asked not to wait for the seal."""
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
        promise=promised,
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


def explain_response(claim_id: str, checks: list[ReplayCheck]) -> ExplainResponse:
    return ExplainResponse(
        claim_id=claim_id,
        matches=bool(checks) and all(check.matches for check in checks),
        verifications=[
            ReplayCheckView(
                verification_id=check.verification_id,
                position=check.position,
                rule_set_version=check.rule_set_version,
                recorded=check.recorded,
                recomputed=check.recomputed,
                decision_matches=check.decision_matches,
                recorded_inputs=check.recorded_inputs,
                rebuilt_inputs=check.rebuilt_inputs,
                inputs_match=check.inputs_match,
                problem=check.problem,
                matches=check.matches,
            )
            for check in checks
        ],
    )


# -- the members context (seed 001, snake_case) ----------------------------------------------------------
def eligibility_response(answer: Eligibility) -> member_schemas.EligibilityResponse:
    decision = answer.decision
    return member_schemas.EligibilityResponse(
        partner_member_id=decision.partner_member_id,
        eligible=decision.eligible,
        reason=decision.reason,
        enrollment_url=answer.enrollment_url,
        enrolled=decision.enrolled,
        rule=decision.rule,
    )


def enrollment_response(status: EnrollmentStatus) -> member_schemas.EnrollmentResponse:
    """The member's enrollment from plaintext fields of the log; ``result_type`` is always None."""
    enrollment = status.enrollment
    if enrollment is None:
        return member_schemas.EnrollmentResponse(
            partner_member_id=status.partner_member_id, enrolled=False, reason=NOT_ENROLLED_REASON
        )
    return member_schemas.EnrollmentResponse(
        partner_member_id=status.partner_member_id,
        enrolled=True,
        enrollment_date=enrollment.enrollment_date.isoformat(),
        test_status=enrollment.stage.value,
        kit_order_date=_iso(enrollment.kit_order_date),
        sample_received_date=_iso(enrollment.sample_received_date),
        estimated_result_date=_iso(enrollment.estimated_result_date),
        result_delivery_date=_iso(enrollment.result_delivery_date),
        result_type=None,
        counseling_scheduled=enrollment.counseling_at is not None,
        counseling_date=enrollment.counseling_at,
        subscription_status=status.subscription.value,
        nps_score=enrollment.nps.get(NpsKind.OVERALL),
    )


def operation_response(
    partner_id: str, result: EnrollmentResult | SubscriptionResult
) -> member_schemas.OperationResponse:
    status = result.stage if isinstance(result, EnrollmentResult) else result.status
    return member_schemas.OperationResponse(
        partner_id=partner_id,
        partner_member_id=result.partner_member_id,
        status=status,
        positions=list(result.positions),
    )


def report_response(report: OutcomeReport) -> member_schemas.OutcomesResponse:
    return member_schemas.OutcomesResponse(
        partner_id=report.partner_id,
        period_start=report.period_start.isoformat(),
        period_end=report.period_end.isoformat(),
        metrics=member_schemas.OutcomeMetrics(**report.metrics),  # type: ignore[arg-type]
        suppressed=list(report.suppressed),
        suppression_threshold=report.suppression_threshold,
    )


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
