"""The standard-level check (rule set standard-v1) over a claim's listed documents."""

from __future__ import annotations

from api.verification import RULE_SET_VERSION, standard_check
from ledger_core.claims import Claim
from ledger_core.vocabulary import ClaimStatus

A, B = "a" * 64, "b" * 64


def claim(*documents: tuple[str, str]) -> Claim:
    return Claim.submit(
        partner_id="acme",
        partner_claim_id="C-1",
        claim_type="auto",
        claim_amount="10.00",
        currency="USD",
        submitted_at="2026-01-15T14:30:00Z",
        documents=[{"type": kind, "hash": digest, "metadata": {}} for digest, kind in documents],
        verification_level="standard",
    )


def test_all_documents_registered_with_matching_types_verifies() -> None:
    """Every listed hash registered with its type: verified, no factors."""
    outcome = standard_check(claim((A, "photo"), (B, "pdf")), {A: "photo", B: "pdf"}.get)
    assert (outcome.status, outcome.factors) == (ClaimStatus.VERIFIED, [])
    assert outcome.inputs["documents"][0] == {"hash": A, "type": "photo", "registeredType": "photo"}


def test_a_missing_document_leaves_the_claim_pending() -> None:
    """A listed hash the partner has not registered: pending, naming the hash."""
    outcome = standard_check(claim((A, "photo"), (B, "pdf")), {A: "photo"}.get)
    assert (outcome.status, outcome.factors) == (ClaimStatus.PENDING, [f"document_not_registered:{B}"])


def test_a_type_mismatch_rejects_even_with_missing_documents() -> None:
    """A hash registered with another type rejects, whatever else is missing."""
    outcome = standard_check(claim((A, "photo"), (B, "pdf")), {A: "form"}.get)
    assert (outcome.status, outcome.factors) == (ClaimStatus.REJECTED, [f"document_type_mismatch:{A}"])


def test_no_documents_is_pending() -> None:
    """Nothing to check is not a verification: pending with the factor no_documents."""
    outcome = standard_check(claim(), {}.get)
    assert (outcome.status, outcome.factors) == (ClaimStatus.PENDING, ["no_documents"])
    assert RULE_SET_VERSION == "standard-v1"
