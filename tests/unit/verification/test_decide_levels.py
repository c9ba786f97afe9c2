"""decide(): the document checks every level shares (formerly the standard-v1 check) and the level outcomes."""

from __future__ import annotations

import dataclasses

import pytest

from ledger_core.claims.verification import decide
from ledger_core.claims.verification_inputs import VerificationInputs
from ledger_core.shared.vocabulary import ClaimStatus

from .test_risk_rules import document, inputs

A, B = "a" * 64, "b" * 64


def test_all_documents_registered_with_matching_types_verifies_at_standard() -> None:
    """standard: every listed hash registered with its type is verified, with no risk assessment."""
    case = inputs(
        verification_level="standard", documents=(document(hash=A), document(hash=B, type="pdf", registered_type="pdf"))
    )
    decision = decide(case, "rules-v1")
    assert (decision.status, decision.factors, decision.assessment) == (ClaimStatus.VERIFIED, (), None)
    assert decision.explanation == "All 2 document(s) registered with matching types."


def test_a_type_mismatch_rejects_before_anything_else() -> None:
    """A hash registered with another type rejects, even when another document is missing."""
    case = inputs(documents=(document(hash=A, registered_type="pdf"), document(hash=B, registered_type=None)))
    decision = decide(case, "rules-v1")
    assert (decision.status, decision.factors) == (ClaimStatus.REJECTED, (f"document_type_mismatch:{A}",))


@pytest.mark.parametrize("level", ["standard", "enhanced", "full"])
def test_missing_or_no_documents_wait(level: str) -> None:
    """An unregistered hash, or no documents at all, leaves the claim pending at every level."""
    missing = decide(inputs(verification_level=level, documents=(document(hash=B, registered_type=None),)), "rules-v1")
    assert (missing.status, missing.factors) == (ClaimStatus.PENDING, (f"document_not_registered:{B}",))
    empty = decide(inputs(verification_level=level, documents=()), "rules-v1")
    assert (empty.status, empty.factors) == (ClaimStatus.PENDING, ("no_documents",))


@pytest.mark.parametrize(
    ("level", "reused", "expected"),
    [
        ("enhanced", 0, ClaimStatus.VERIFIED),
        ("enhanced", 1, ClaimStatus.FLAGGED),
        ("full", 0, ClaimStatus.PENDING),
        ("full", 1, ClaimStatus.FLAGGED),
        ("standard", 1, ClaimStatus.VERIFIED),
    ],
)
def test_level_outcomes(level: str, reused: int, expected: ClaimStatus) -> None:
    """enhanced flags high risk; full also waits for a reviewer otherwise; standard assesses no risk."""
    case: VerificationInputs = dataclasses.replace(
        inputs(verification_level=level), documents=(document(other_claims=reused),)
    )
    decision = decide(case, "rules-v1")
    assert decision.status is expected
    assert (decision.assessment is None) == (level == "standard")
