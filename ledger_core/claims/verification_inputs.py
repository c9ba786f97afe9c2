"""What a verification saw, recorded in its ``claim.verification_recorded`` event (``inputs``).

Everything a rule reads is here, so an auditor recomputes the decision from the log alone: the claim's
own fields, the clock readings the ledger used, the log position the cross-claim facts were taken at
(``asOfPosition``: every fact comes from entries before it), and per document its registration and how
often its hash appears in *other* claims. Another partner is never revealed: never their claim ids,
partner ids or amounts. Amount history is recorded as its robust summary.

Document evidence has two shapes, by the rule set that recorded it (:class:`DocumentEvidence`):
``rules-v1`` recorded ``otherClaims`` / ``otherPartnerClaims`` (exact counts, from the hash alone);
``rules-v2`` records ``ownOtherClaims`` (the partner's own other claims) and ``otherPartners``
(:class:`OtherPartners`: ``some``/``none`` for a document the partner registered, else ``withheld``).
Recorded v1 inputs are read and re-serialised byte for byte as they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ledger_core.engine.errors import InvalidCommand


class OtherPartners(StrEnum):
    """``rules-v2``: whether other partners' claims list a document, as far as the partner may know."""

    NONE = "none"
    SOME = "some"
    WITHHELD = "withheld"
    """The partner has not registered (uploaded) the document: nothing about other partners is told."""


@dataclass(frozen=True, slots=True)
class DocumentEvidence:
    """One listed document: its registration by the claim's partner and its use in other claims.

    ``rules-v1`` evidence has ``other_claims`` (all other claims) and ``other_partner_claims``;
    ``rules-v2`` evidence has ``own_other_claims`` and ``other_partners`` instead (the v1 fields are 0).
    """

    hash: str
    type: str
    registered_type: str | None
    other_claims: int
    other_partner_claims: int
    metadata_conflicts: tuple[str, ...]
    own_other_claims: int | None = None
    other_partners: OtherPartners | None = None

    def to_json(self) -> dict[str, Any]:
        if self.other_partners is not None:
            return {
                "hash": self.hash,
                "type": self.type,
                "registeredType": self.registered_type,
                "ownOtherClaims": self.own_other_claims,
                "otherPartners": self.other_partners.value,
                "metadataConflicts": list(self.metadata_conflicts),
            }
        return {
            "hash": self.hash,
            "type": self.type,
            "registeredType": self.registered_type,
            "otherClaims": self.other_claims,
            "otherPartnerClaims": self.other_partner_claims,
            "metadataConflicts": list(self.metadata_conflicts),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DocumentEvidence:
        if "otherPartners" in data:
            return cls(
                hash=str(data["hash"]),
                type=str(data["type"]),
                registered_type=None if data["registeredType"] is None else str(data["registeredType"]),
                other_claims=0,
                other_partner_claims=0,
                metadata_conflicts=tuple(str(key) for key in data["metadataConflicts"]),
                own_other_claims=int(data["ownOtherClaims"]),
                other_partners=OtherPartners(data["otherPartners"]),
            )
        return cls(
            hash=str(data["hash"]),
            type=str(data["type"]),
            registered_type=None if data["registeredType"] is None else str(data["registeredType"]),
            other_claims=int(data["otherClaims"]),
            other_partner_claims=int(data["otherPartnerClaims"]),
            metadata_conflicts=tuple(str(key) for key in data["metadataConflicts"]),
        )


@dataclass(frozen=True, slots=True)
class AmountHistory:
    """The partner's recent amounts for the claim's type and currency, summarised robustly (ln-amounts)."""

    count: int
    median: str | None
    mad: str | None

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "lnMedian": self.median, "lnMad": self.mad}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AmountHistory:
        return cls(int(data["count"]), data["lnMedian"], data["lnMad"])


@dataclass(frozen=True, slots=True)
class VerificationInputs:
    """Every input of one verification (the JSON of the event's ``inputs``, camelCase keys)."""

    verification_level: str
    claim_type: str
    claim_amount: str
    currency: str
    submitted_at: str
    received_at: str
    evaluated_at: str
    as_of_position: int
    documents: tuple[DocumentEvidence, ...]
    amount_history: AmountHistory
    reference_key: str | None
    reference_claims: int

    def to_json(self) -> dict[str, Any]:
        return {
            "verificationLevel": self.verification_level,
            "claimType": self.claim_type,
            "amount": self.claim_amount,
            "currency": self.currency,
            "submittedAt": self.submitted_at,
            "receivedAt": self.received_at,
            "evaluatedAt": self.evaluated_at,
            "asOfPosition": self.as_of_position,
            "documents": [doc.to_json() for doc in self.documents],
            "amountHistory": self.amount_history.to_json(),
            "reference": {"key": self.reference_key, "otherClaimsInWindow": self.reference_claims},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VerificationInputs:
        """Parse recorded inputs; :class:`InvalidCommand` if a field is missing or malformed."""
        try:
            return cls(
                verification_level=str(data["verificationLevel"]),
                claim_type=str(data["claimType"]),
                claim_amount=str(data["amount"]),
                currency=str(data["currency"]),
                submitted_at=str(data["submittedAt"]),
                received_at=str(data["receivedAt"]),
                evaluated_at=str(data["evaluatedAt"]),
                as_of_position=int(data["asOfPosition"]),
                documents=tuple(DocumentEvidence.from_json(doc) for doc in data["documents"]),
                amount_history=AmountHistory.from_json(data["amountHistory"]),
                reference_key=data["reference"]["key"],
                reference_claims=int(data["reference"]["otherClaimsInWindow"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidCommand(f"recorded inputs are malformed: {error!r}", field="inputs") from None
