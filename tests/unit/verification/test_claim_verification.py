"""The verification service: levels, one save per submission, idempotency, re-triggering, review."""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

import pytest

from ledger_core.claims.documents import DocumentService
from ledger_core.claims.errors import DuplicateClaim
from ledger_core.claims.submission import validate_submission
from ledger_core.claims.verification import ClaimVerificationService, decide
from ledger_core.claims.verification_inputs import VerificationInputs
from ledger_core.engine.errors import InvalidCommand, InvalidTransition
from ledger_core.shared.vocabulary import ClaimStatus

from .fakes import MemoryLog, claim_fields


def digest(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def register(documents: DocumentService, partner: str, label: str, kind: str = "photo", **metadata: str) -> str:
    media = {"photo": "image/jpeg", "pdf": "application/pdf", "form": "application/json"}[kind]
    sha = digest(label)
    documents.register(
        partner_id=partner, sha256=sha, document_type=kind, media_type=media, size_bytes=10, metadata=metadata
    )
    return sha


def doc(sha: str, kind: str = "photo", **metadata: str) -> dict[str, Any]:
    return {"type": kind, "hash": sha, "metadata": metadata}


def submit(service: ClaimVerificationService, **overrides: Any) -> Any:
    return service.submit(validate_submission(**claim_fields(**overrides)))


def test_submission_and_first_verification_are_one_save(
    service: ClaimVerificationService, documents: DocumentService, log: MemoryLog
) -> None:
    """POST /claims path: claim.submitted and claim.verification_recorded come from a single save."""
    sha = register(documents, "acme_insurance", "bumper")
    result = submit(service, documents=[doc(sha)], verification_level="standard")
    assert result.created
    assert len(result.positions) == 2
    assert [e.type for e in log.envelopes()[-2:]] == ["claim.submitted", "claim.verification_recorded"]
    assert result.claim.status is ClaimStatus.VERIFIED
    latest = result.claim.verifications[-1]
    assert (latest.risk_score, latest.rule_set_version) == (None, "rules-v2")


def test_identical_resubmission_is_idempotent_and_a_changed_one_conflicts(service: ClaimVerificationService) -> None:
    """Same partnerClaimId + same payload: the existing claim, nothing written; another payload: DuplicateClaim."""
    first = submit(service)
    again = submit(service)
    assert (again.created, again.positions, again.claim.id) == (False, (), first.claim.id)
    with pytest.raises(DuplicateClaim):
        submit(service, claim_amount="1200.01")


def test_unknown_document_waits_and_registration_retriggers(
    service: ClaimVerificationService, documents: DocumentService
) -> None:
    """A claim listing an unregistered hash is pending; registering it re-verifies the claim."""
    sha = digest("late invoice")
    pending = submit(service, documents=[doc(sha, "pdf")])
    assert pending.claim.status is ClaimStatus.PENDING
    assert pending.claim.verifications[-1].factors == (f"document_not_registered:{sha}",)
    register(documents, "acme_insurance", "late invoice", "pdf")
    [changed] = service.document_registered("acme_insurance", sha)
    assert changed.claim.id == pending.claim.id
    assert changed.claim.status is ClaimStatus.VERIFIED
    assert changed.claim.verifications[-1].risk_level is not None  # enhanced: a risk assessment


def test_other_partners_registration_does_not_count(
    service: ClaimVerificationService, documents: DocumentService
) -> None:
    """Documents must be registered by the claim's own partner."""
    sha = register(documents, "other_partner", "shared photo")
    assert submit(service, documents=[doc(sha)]).claim.status is ClaimStatus.PENDING
    assert service.document_registered("acme_insurance", sha) == []  # nothing registered by acme yet


def test_mismatched_type_rejects(service: ClaimVerificationService, documents: DocumentService) -> None:
    """A hash registered as a photo but listed as a pdf rejects the claim."""
    sha = register(documents, "acme_insurance", "photo")
    result = submit(service, documents=[doc(sha, "pdf")])
    assert result.claim.status is ClaimStatus.REJECTED
    assert result.claim.verifications[-1].factors == (f"document_type_mismatch:{sha}",)


def test_document_reuse_across_partners_is_flagged_without_revealing_them(
    service: ClaimVerificationService, documents: DocumentService, log: MemoryLog
) -> None:
    """The same document in another partner's claim flags an enhanced claim of a partner holding it; the
    inputs say only that some other partner's claim lists it (rules-v2): no count, no ids."""
    for partner in ("acme_insurance", "rival_mutual"):
        register(documents, partner, "staged crash")
    sha = digest("staged crash")
    first = submit(service, partner_id="rival_mutual", partner_claim_id="R-1", documents=[doc(sha)])
    assert first.claim.status is ClaimStatus.VERIFIED
    flagged = submit(service, documents=[doc(sha)])
    latest = flagged.claim.verifications[-1]
    assert flagged.claim.status is ClaimStatus.FLAGGED
    assert latest.factors == ("document_reused",)
    assert latest.risk_level is not None
    assert latest.inputs["documents"][0]["ownOtherClaims"] == 0
    assert latest.inputs["documents"][0]["otherPartners"] == "some"
    assert "otherPartnerClaims" not in latest.inputs["documents"][0]
    recorded = log.log[-1]
    assert b"rival_mutual" not in recorded
    assert str(first.claim.id).encode() not in recorded


def test_full_level_waits_for_a_reviewer(service: ClaimVerificationService, documents: DocumentService) -> None:
    """full: a low-risk claim stays pending awaiting review until a reviewer decides (claim.review_resolved)."""
    sha = register(documents, "acme_insurance", "full photo")
    result = submit(service, documents=[doc(sha)], verification_level="full")
    assert result.claim.status is ClaimStatus.PENDING
    assert result.claim.awaiting_review
    assert result.claim.verifications[-1].explanation.endswith("Awaiting manual review.")
    assert service.verify(result.claim.id, "acme_insurance").positions == ()  # nothing to re-verify
    with pytest.raises(InvalidCommand):
        service.review(result.claim.id, decision="maybe", reviewer="ops_alice", notes="")
    decided = service.review(result.claim.id, decision="verified", reviewer="ops_alice", notes="photos match")
    assert decided.claim.status is ClaimStatus.VERIFIED
    assert decided.claim.reviewed_by == "ops_alice"
    with pytest.raises(InvalidTransition):
        service.review(result.claim.id, decision="rejected", reviewer="ops_alice", notes="")


def test_full_level_waiting_for_documents_is_not_reviewable(service: ClaimVerificationService) -> None:
    """A full claim still waiting for documents cannot be decided by a reviewer yet."""
    result = submit(service, documents=[doc(digest("missing"))], verification_level="full")
    assert result.claim.status is ClaimStatus.PENDING
    assert not result.claim.awaiting_review
    with pytest.raises(InvalidTransition):
        service.review(result.claim.id, decision="verified", reviewer="ops_alice", notes="")


def test_full_level_documents_arriving_records_a_pending_assessment(
    service: ClaimVerificationService, documents: DocumentService
) -> None:
    """pending (documents) -> pending (awaiting review) is recorded as a new verification."""
    sha = digest("full later")
    submit(service, documents=[doc(sha)], verification_level="full")
    register(documents, "acme_insurance", "full later")
    [changed] = service.document_registered("acme_insurance", sha)
    assert changed.claim.awaiting_review
    assert len(changed.claim.verifications) == 2


def test_velocity_and_metadata_rules_through_the_service(
    service: ClaimVerificationService, documents: DocumentService
) -> None:
    """Claims sharing a policyReference burst; metadata contradicting the claim is reported by key."""
    statuses = []
    for number in range(4):
        sha = register(documents, "acme_insurance", f"burst {number}", policyReference="POL-9")
        result = submit(service, partner_claim_id=f"B-{number}", documents=[doc(sha, policyReference="POL-9")])
        statuses.append(result.claim.status)
    assert statuses == [ClaimStatus.VERIFIED, ClaimStatus.VERIFIED, ClaimStatus.FLAGGED, ClaimStatus.FLAGGED]
    sha = register(documents, "acme_insurance", "eur photo", currency="EUR")
    result = submit(service, partner_claim_id="M-1", documents=[doc(sha)])
    latest = result.claim.verifications[-1]
    assert latest.factors == ("document_metadata_inconsistent",)
    assert latest.risk_level is not None
    assert result.claim.status is ClaimStatus.VERIFIED  # medium risk (35): verified, with the assessment
    assert latest.risk_level is not None
    assert latest.risk_level.value == "medium"


def test_decide_refuses_an_unknown_rule_set(service: ClaimVerificationService) -> None:
    """Recorded inputs are only decided under a rule set this version knows."""
    claim = submit(service).claim
    inputs = VerificationInputs.from_json(claim.verifications[-1].inputs)
    assert decide(inputs, "rules-v1").status is claim.status
    with pytest.raises(InvalidCommand):
        decide(inputs, "rules-v0")


def test_verifying_another_partners_claim_is_not_found(service: ClaimVerificationService) -> None:
    """A claim is only visible to its own partner."""
    from ledger_core.engine.errors import NotFound

    claim_id: UUID = submit(service).claim.id
    with pytest.raises(NotFound):
        service.verify(claim_id, "someone_else")
