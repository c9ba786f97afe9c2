"""The ClaimSubmission of seed 000 §5.1, validated and normalized (amount quantized, time in UTC).

Normalization makes resubmissions comparable: ``"100"`` and ``"100.00"`` are the same amount and
``...T10:00:00+02:00`` and ``...T08:00:00Z`` the same time. Document order is significant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger_core.engine.aggregate import derive_id, derive_id_text
from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.money import Currency, parse_amount, parse_currency
from ledger_core.shared.validation import (
    check_identifier,
    check_metadata,
    check_partner_slug,
    check_sha256_hex,
    normalize_timestamp,
    parse_choice,
)
from ledger_core.shared.vocabulary import ClaimType, DocumentType, VerificationLevel

if TYPE_CHECKING:
    from ledger_core.claims.claim import Claim

MAX_DOCUMENTS = 100


@dataclass(frozen=True, slots=True)
class ClaimDocument:
    """A document referenced by a claim: its type, SHA-256 and string metadata."""

    type: DocumentType
    hash: str
    metadata: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type.value, "hash": self.hash, "metadata": dict(self.metadata)}


@dataclass(frozen=True, slots=True)
class ClaimSubmission:
    """A validated, normalized ClaimSubmission (amount quantized, time in UTC)."""

    partner_id: str
    partner_claim_id: str
    claim_type: ClaimType
    claim_amount: Decimal
    currency: Currency
    submitted_at: str
    documents: tuple[ClaimDocument, ...]
    verification_level: VerificationLevel

    @property
    def claim_id(self) -> UUID:
        return derive_id("claim", self.partner_id, self.partner_claim_id)

    @property
    def claim_id_text(self) -> str:
        """``str(self.claim_id)`` without building the ``UUID`` (the bulk import derives one per line)."""
        return derive_id_text("claim", self.partner_id, self.partner_claim_id)


def validate_submission(
    *,
    partner_id: str,
    partner_claim_id: str,
    claim_type: str,
    claim_amount: str | int | Decimal,
    currency: str,
    submitted_at: str,
    documents: Sequence[Mapping[str, Any]],
    verification_level: str,
) -> ClaimSubmission:
    """Validate the fields of a ClaimSubmission; raise :class:`InvalidCommand` naming the first bad field."""
    parsed_currency = parse_currency(currency, "currency")
    return ClaimSubmission(
        partner_id=check_partner_slug(partner_id),
        partner_claim_id=check_identifier(partner_claim_id, "partner_claim_id"),
        claim_type=parse_choice(ClaimType, claim_type, "claim_type"),
        claim_amount=parse_amount(claim_amount, parsed_currency, field="claim_amount"),
        currency=parsed_currency,
        submitted_at=normalize_timestamp(submitted_at, "submitted_at"),
        documents=_validate_documents(documents),
        verification_level=parse_choice(VerificationLevel, verification_level, "verification_level"),
    )


def _validate_documents(documents: Any) -> tuple[ClaimDocument, ...]:
    if isinstance(documents, (str, bytes, Mapping)) or not isinstance(documents, Sequence):
        raise InvalidCommand("documents must be a list", field="documents")
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidCommand(f"at most {MAX_DOCUMENTS} documents", field="documents", size=len(documents))
    result: list[ClaimDocument] = []
    seen: set[str] = set()
    for index, document in enumerate(documents):
        field = f"documents[{index}]"
        if not isinstance(document, Mapping) or not {"type", "hash"} <= set(document) <= {"type", "hash", "metadata"}:
            raise InvalidCommand(f"{field} must have type, hash and optional metadata", field=field)
        digest = check_sha256_hex(document["hash"], f"{field}.hash")
        if digest in seen:
            raise InvalidCommand(f"{field} repeats hash {digest}", field=f"{field}.hash", value=digest)
        seen.add(digest)
        result.append(
            ClaimDocument(
                type=parse_choice(DocumentType, document["type"], f"{field}.type"),
                hash=digest,
                metadata=check_metadata(document.get("metadata", {}), f"{field}.metadata"),
            )
        )
    return tuple(result)


def submission_differences(existing: Claim, submission: ClaimSubmission) -> list[str]:
    """Names of the submission fields in which ``submission`` differs from what ``existing`` recorded."""
    pairs: dict[str, tuple[object, object]] = {
        "partner_id": (existing.partner_id, submission.partner_id),
        "partner_claim_id": (existing.partner_claim_id, submission.partner_claim_id),
        "claim_type": (existing.claim_type, submission.claim_type),
        "claim_amount": (existing.claim_amount, submission.claim_amount),
        "currency": (existing.currency, submission.currency),
        "submitted_at": (existing.submitted_at, submission.submitted_at),
        "documents": (existing.documents, submission.documents),
        "verification_level": (existing.verification_level, submission.verification_level),
    }
    return [name for name, (old, new) in pairs.items() if old != new]


def same_submission(existing: Claim, submission: ClaimSubmission) -> bool:
    """True iff ``submission`` is an identical resubmission of ``existing`` (after normalization)."""
    return not submission_differences(existing, submission)
