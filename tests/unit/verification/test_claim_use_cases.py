"""The claims use cases (``ledger.claims``, ``ledger.documents``): what the library, the HTTP API and the CLI call."""

from __future__ import annotations

import hashlib

import pytest

from ledger_core.claims.errors import DuplicateClaim
from ledger_core.claims.submission import validate_submission
from ledger_core.claims.use_cases import Claims, Documents
from ledger_core.engine.errors import InvalidTransition, NotFound
from ledger_core.shared.vocabulary import ClaimStatus

from .fakes import IndexFacts, MemoryLog, SteppingClock, claim_fields


@pytest.fixture
def claims(log: MemoryLog, clock: SteppingClock) -> Claims:
    return Claims(log, IndexFacts(log), clock)  # type: ignore[arg-type]


def test_submit_verifies_is_idempotent_and_detects_duplicates(claims: Claims, log: MemoryLog) -> None:
    """A submission and its verification are one save; an identical resubmission records nothing and names the
    claim's newest position; a different payload raises DuplicateClaim with evidence."""
    first = claims.submit(validate_submission(**claim_fields()))
    assert (first.created, first.positions, first.head, first.status) == (True, (0, 1), 1, ClaimStatus.PENDING)
    assert [e.type for e in log.envelopes()] == ["claim.submitted", "claim.verification_recorded"]
    again = claims.submit(validate_submission(**claim_fields(claim_amount="1200")))
    assert (again.claim_id, again.created, again.positions, again.head) == (first.claim_id, False, (), 1)
    with pytest.raises(DuplicateClaim) as caught:
        claims.submit(validate_submission(**claim_fields(claim_amount="1300", verification_level="full")))
    assert caught.value.code == "DUPLICATE_CLAIM"
    assert caught.value.details["differing_fields"] == ["claim_amount", "verification_level"]
    assert caught.value.details["partner_claim_id"] == "CLM-001"


def test_commands_reads_and_partner_scoping(claims: Claims, log: MemoryLog) -> None:
    """Recorded decisions and reviews persist transitions; reads hide other partners' claims."""
    claim_id = claims.submit(validate_submission(**claim_fields())).claim_id
    flagged = claims.record_verification(
        claim_id,
        status="flagged",
        risk_score=90,
        risk_level="high",
        factors=["amount_above_p95"],
        explanation="far above",
        rule_set_version="rules-2026.01",
        inputs={},
    )
    assert (flagged.status, flagged.positions) == (ClaimStatus.FLAGGED, (2,))
    with pytest.raises(NotFound):
        claims.review(claim_id, "other_partner", decision="verified", reviewer="a", notes="")
    reviewed = claims.review(claim_id, "acme_insurance", decision="verified", reviewer="a", notes="ok")
    assert (reviewed.positions, reviewed.head, reviewed.status) == ((3,), 3, ClaimStatus.VERIFIED)
    with pytest.raises(InvalidTransition):
        claims.review(claim_id, decision="rejected", reviewer="a", notes="")
    assert claims.get(claim_id, "acme_insurance").status is ClaimStatus.VERIFIED
    assert claims.current(claim_id, "acme_insurance").head == 3
    with pytest.raises(NotFound):
        claims.get(claim_id, "other_partner")
    with pytest.raises(NotFound):
        claims.current(claim_id, "other_partner")
    assert claims.get_by_reference("acme_insurance", "CLM-001").id == claim_id
    assert [e.type for e in log.envelopes()] == [
        "claim.submitted",
        "claim.verification_recorded",
        "claim.verification_recorded",
        "claim.review_resolved",
    ]


def test_registering_a_document_reverifies_the_claims_waiting_on_it(claims: Claims, log: MemoryLog) -> None:
    """documents.register records the registration, then the partner's pending claims listing the hash are
    verified again (the same use case as POST /documents)."""
    documents = Documents(log, claims.verification)  # type: ignore[arg-type]
    sha = hashlib.sha256(b"late invoice").hexdigest()
    listed = {"type": "pdf", "hash": sha, "metadata": {}}
    pending = claims.submit(validate_submission(**claim_fields(documents=[listed], verification_level="standard")))
    assert pending.status is ClaimStatus.PENDING
    result = documents.register(
        partner_id="acme_insurance",
        sha256=sha,
        document_type="pdf",
        media_type="application/pdf",
        size_bytes=10,
        metadata={},
    )
    assert (result.created, result.positions, result.document.sha256) == (True, (2,), sha)
    assert claims.get(pending.claim_id).status is ClaimStatus.VERIFIED
    assert [e.type for e in log.envelopes()][2:] == ["document.registered", "claim.verification_recorded"]
    assert documents.get("acme_insurance", sha).document_type.value == "pdf"
