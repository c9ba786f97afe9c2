"""The standard-level verification of a claim (rule set ``standard-v1``), until the fraud-rules engine lands.

The check looks only at the documents the claim lists: each must be registered by the *same partner*
(``POST /api/v1/documents``) with the same document type.

* any listed hash registered with another type      -> ``rejected`` (factor ``document_type_mismatch``)
* else any listed hash not registered by the partner -> ``pending``  (factor ``document_not_registered``)
* else, at least one document and all of them match -> ``verified``
* a claim listing no documents                      -> ``pending``  (factor ``no_documents``)

No risk score is produced (``riskAssessment`` is absent): scoring belongs to the rules engine, which will
record its results under its own rule-set version. The outcome, its factors and the inputs the check
saw (hashes and types, never personal data) are recorded with ``ClaimService.record_verification``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger_core.claims import Claim
from ledger_core.vocabulary import ClaimStatus

RULE_SET_VERSION = "standard-v1"

DocumentTypeLookup = Callable[[str], str | None]
"""``lookup(sha256)``: the document type the partner registered that hash with, or None."""


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    status: ClaimStatus
    factors: list[str]
    explanation: str
    inputs: dict[str, Any]


def standard_check(claim: Claim, registered_type: DocumentTypeLookup) -> CheckOutcome:
    """Run ``standard-v1`` over the claim's listed documents."""
    seen: list[dict[str, Any]] = []
    missing: list[str] = []
    mismatched: list[str] = []
    for document in claim.documents:
        found = registered_type(document.hash)
        seen.append({"hash": document.hash, "type": document.type.value, "registeredType": found})
        if found is None:
            missing.append(document.hash)
        elif found != document.type.value:
            mismatched.append(document.hash)
    inputs = {"documents": seen}
    if mismatched:
        factors = [f"document_type_mismatch:{digest}" for digest in mismatched]
        return CheckOutcome(
            ClaimStatus.REJECTED, factors, f"{len(mismatched)} document(s) registered with another type", inputs
        )
    if not claim.documents:
        return CheckOutcome(ClaimStatus.PENDING, ["no_documents"], "the claim lists no documents to verify", inputs)
    if missing:
        factors = [f"document_not_registered:{digest}" for digest in missing]
        return CheckOutcome(ClaimStatus.PENDING, factors, f"{len(missing)} document(s) not registered yet", inputs)
    return CheckOutcome(
        ClaimStatus.VERIFIED, [], f"all {len(claim.documents)} document(s) registered with matching types", inputs
    )
