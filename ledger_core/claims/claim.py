"""Claims (seed 000 §5): submission, verification results and the claim status machine.

Status machine (anything else raises :class:`InvalidTransition`)::

    submitted -> pending | verified | flagged | rejected     (change_status / record_verification)
    pending   -> pending | verified | flagged | rejected     (change_status / record_verification;
                                                              pending -> pending is a new outcome that still waits)
    flagged   -> verified | rejected                         (resolve_review only: a person decides)
    pending   -> verified | rejected                         (resolve_review, when awaiting review)
    verified, rejected: terminal

A claim is *awaiting review* when its verification level is ``full`` and its latest verification left it
``pending`` with a risk assessment (documents complete, a person must decide; see
``docs/verification.md``).

A claim's id is ``derive_id("claim", partner_id, partner_claim_id)``, so a resubmission lands on the
same aggregate: :func:`~ledger_core.claims.submission.same_submission` tells an identical retry (a no-op)
from a conflicting one (:class:`DuplicateClaim`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from ledger_core.claims.submission import ClaimDocument, ClaimSubmission, validate_submission
from ledger_core.engine.aggregate import LedgerAggregate, derive_id_text
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.shared.money import Currency, format_amount
from ledger_core.shared.validation import (
    check_identifier,
    check_int,
    check_json_object,
    check_string_list,
    check_text,
    parse_choice,
)
from ledger_core.shared.vocabulary import ClaimStatus, ClaimType, DocumentType, RiskLevel, VerificationLevel

MAX_INPUTS_BYTES = 16_384

TRANSITIONS: Mapping[ClaimStatus, frozenset[ClaimStatus]] = {
    ClaimStatus.SUBMITTED: frozenset(
        {ClaimStatus.PENDING, ClaimStatus.VERIFIED, ClaimStatus.FLAGGED, ClaimStatus.REJECTED}
    ),
    ClaimStatus.PENDING: frozenset(
        {ClaimStatus.PENDING, ClaimStatus.VERIFIED, ClaimStatus.FLAGGED, ClaimStatus.REJECTED}
    ),
    ClaimStatus.FLAGGED: frozenset({ClaimStatus.VERIFIED, ClaimStatus.REJECTED}),
    ClaimStatus.VERIFIED: frozenset(),
    ClaimStatus.REJECTED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Verification:
    """One recorded verification outcome (seed 000 §5.2 plus the rule set and inputs that produced it)."""

    verification_id: str
    status: ClaimStatus
    risk_score: int | None
    risk_level: RiskLevel | None
    factors: tuple[str, ...]
    explanation: str
    rule_set_version: str
    inputs: Mapping[str, Any]


class Claim(LedgerAggregate):
    """A partner's claim: what was submitted, its verification outcomes and its status."""

    AGGREGATE_TYPE: ClassVar[str] = "Claim"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Submitted(Created):
        EVENT_TYPE: ClassVar[str] = "claim.submitted"
        partner_claim_id: str
        claim_type: str
        claim_amount: str
        currency: str
        submitted_at: str
        documents: list[dict[str, Any]]
        verification_level: str

    class StatusChanged(Event):
        EVENT_TYPE: ClassVar[str] = "claim.status_changed"
        status: str
        previous_status: str
        reason: str | None

        def apply(self, aggregate: Claim) -> None:
            aggregate.status = ClaimStatus(self.status)

    class VerificationRecorded(Event):
        EVENT_TYPE: ClassVar[str] = "claim.verification_recorded"
        verification_id: str
        status: str
        previous_status: str
        risk_score: int | None
        risk_level: str | None
        factors: list[str]
        explanation: str
        rule_set_version: str
        inputs: dict[str, Any]

        def apply(self, aggregate: Claim) -> None:
            aggregate.status = ClaimStatus(self.status)
            verification = Verification(
                verification_id=self.verification_id,
                status=ClaimStatus(self.status),
                risk_score=self.risk_score,
                risk_level=None if self.risk_level is None else RiskLevel(self.risk_level),
                factors=tuple(self.factors),
                explanation=self.explanation,
                rule_set_version=self.rule_set_version,
                inputs=dict(self.inputs),
            )
            aggregate.verifications = (*aggregate.verifications, verification)

    class ReviewResolved(Event):
        EVENT_TYPE: ClassVar[str] = "claim.review_resolved"
        decision: str
        previous_status: str
        reviewer: str
        notes: str

        def apply(self, aggregate: Claim) -> None:
            aggregate.status = ClaimStatus(self.decision)
            aggregate.reviewed_by = self.reviewer

    def __init__(
        self,
        partner_id: str | None,
        partner_claim_id: str,
        claim_type: str,
        claim_amount: str,
        currency: str,
        submitted_at: str,
        documents: list[dict[str, Any]],
        verification_level: str,
    ) -> None:
        self.partner_id = partner_id
        self.partner_claim_id = partner_claim_id
        self.claim_type = ClaimType(claim_type)
        self.currency = Currency(currency)
        self.claim_amount = Decimal(claim_amount)
        self.submitted_at = submitted_at
        self.documents = tuple(
            ClaimDocument(DocumentType(doc["type"]), doc["hash"], dict(doc["metadata"])) for doc in documents
        )
        self.verification_level = VerificationLevel(verification_level)
        self.status = ClaimStatus.SUBMITTED
        self.verifications: tuple[Verification, ...] = ()
        self.reviewed_by: str | None = None

    # -- commands ------------------------------------------------------------------------------------
    @classmethod
    def submit(
        cls,
        *,
        partner_id: str,
        partner_claim_id: str,
        claim_type: str,
        claim_amount: str | int | Decimal,
        currency: str,
        submitted_at: str,
        documents: Sequence[Mapping[str, Any]],
        verification_level: str,
    ) -> Claim:
        """Validate a ClaimSubmission and start a claim in status ``submitted``."""
        submission = validate_submission(
            partner_id=partner_id,
            partner_claim_id=partner_claim_id,
            claim_type=claim_type,
            claim_amount=claim_amount,
            currency=currency,
            submitted_at=submitted_at,
            documents=documents,
            verification_level=verification_level,
        )
        return cls.from_submission(submission)

    @classmethod
    def from_submission(cls, submission: ClaimSubmission) -> Claim:
        """Start a claim from an already validated :class:`ClaimSubmission`."""
        return cls._create(
            cls.Submitted, id=submission.claim_id, partner_id=submission.partner_id, **submitted_payload(submission)
        )

    def change_status(self, status: str, reason: str | None = None) -> None:
        """Move to ``status`` along the machine (not out of ``flagged``: see :meth:`resolve_review`)."""
        target = self._check_automatic_transition(status)
        if reason is not None:
            check_text(reason, "reason", max_length=500)
        self.trigger_event(self.StatusChanged, status=target.value, previous_status=self.status.value, reason=reason)

    def record_verification(
        self,
        *,
        status: str,
        risk_score: int | None,
        risk_level: str | None,
        factors: Sequence[str],
        explanation: str,
        rule_set_version: str,
        inputs: Mapping[str, Any],
    ) -> str:
        """Record a verification outcome and move to its status; return the new verification id.

        ``risk_score`` (0..100) and ``risk_level`` come together or not at all. ``inputs`` are the
        features the rules saw (JSON, at most 16 KiB); they must not contain personal plaintext.
        """
        fields = verification_fields(
            str(self.id),
            self.version + 1,
            self.status,
            status=status,
            risk_score=risk_score,
            risk_level=risk_level,
            factors=factors,
            explanation=explanation,
            rule_set_version=rule_set_version,
            inputs=inputs,
        )
        self.trigger_event(self.VerificationRecorded, **fields)
        return str(fields["verification_id"])

    def resolve_review(self, *, decision: str, reviewer: str, notes: str) -> None:
        """Close the review of a ``flagged`` claim (or one :attr:`awaiting_review`) as ``verified`` or ``rejected``."""
        target = parse_choice(ClaimStatus, decision, "decision")
        reviewable = self.status is ClaimStatus.FLAGGED or self.awaiting_review
        if not reviewable or target not in TRANSITIONS[ClaimStatus.FLAGGED]:
            raise InvalidTransition("claim", self.status.value, target.value)
        self.trigger_event(
            self.ReviewResolved,
            decision=target.value,
            previous_status=self.status.value,
            reviewer=check_identifier(reviewer, "reviewer"),
            notes=check_text(notes, "notes", max_length=2000, min_length=0, multiline=True),
        )

    def _check_automatic_transition(self, status: str) -> ClaimStatus:
        return automatic_transition(self.status, status)

    # -- queries -------------------------------------------------------------------------------------
    @property
    def is_terminal(self) -> bool:
        return not TRANSITIONS[self.status]

    @property
    def awaiting_review(self) -> bool:
        """``full`` level, ``pending``, and the latest verification assessed the risk: a person decides next."""
        if self.status is not ClaimStatus.PENDING or self.verification_level is not VerificationLevel.FULL:
            return False
        return bool(self.verifications) and self.verifications[-1].risk_score is not None

    @property
    def submission(self) -> ClaimSubmission:
        """What was submitted, as a validated :class:`ClaimSubmission`."""
        return ClaimSubmission(
            partner_id=str(self.partner_id),
            partner_claim_id=self.partner_claim_id,
            claim_type=self.claim_type,
            claim_amount=self.claim_amount,
            currency=self.currency,
            submitted_at=self.submitted_at,
            documents=self.documents,
            verification_level=self.verification_level,
        )

    @property
    def claim_amount_text(self) -> str:
        return format_amount(self.claim_amount, self.currency)


def submitted_payload(submission: ClaimSubmission) -> dict[str, Any]:
    """The payload of the ``claim.submitted`` that starts a claim from ``submission`` (:meth:`Claim.from_submission`
    records exactly these fields; the bulk import builds its drafts from them)."""
    return {
        "partner_claim_id": submission.partner_claim_id,
        "claim_type": submission.claim_type.value,
        "claim_amount": format_amount(submission.claim_amount, submission.currency),
        "currency": submission.currency.value,
        "submitted_at": submission.submitted_at,
        "documents": [document.to_json() for document in submission.documents],
        "verification_level": submission.verification_level.value,
    }


def verification_fields(
    claim_id: str,
    version: int,
    current: ClaimStatus,
    *,
    status: str,
    risk_score: int | None,
    risk_level: str | None,
    factors: Sequence[str],
    explanation: str,
    rule_set_version: str,
    inputs: Mapping[str, Any],
) -> dict[str, Any]:
    """The checked payload of the ``claim.verification_recorded`` that claim ``claim_id`` in status ``current``
    records as its event ``version`` (see :meth:`Claim.record_verification`, which records exactly this payload;
    the bulk import builds its drafts from it). Raises what :meth:`Claim.record_verification` raises."""
    target = automatic_transition(current, status)
    if (risk_score is None) != (risk_level is None):
        raise InvalidCommand(
            "risk_score and risk_level must be given together", field="risk_level", value=str(risk_level)
        )
    return {
        "verification_id": derive_id_text("verification", claim_id, str(version)),
        "status": target.value,
        "previous_status": current.value,
        "risk_score": None if risk_score is None else check_int(risk_score, "risk_score", minimum=0, maximum=100),
        "risk_level": None if risk_level is None else parse_choice(RiskLevel, risk_level, "risk_level").value,
        "factors": check_string_list(factors, "factors", max_items=50, max_length=200),
        "explanation": check_text(explanation, "explanation", max_length=2000, min_length=0, multiline=True),
        "rule_set_version": check_identifier(rule_set_version, "rule_set_version", max_length=64),
        "inputs": check_json_object(inputs, "inputs", max_bytes=MAX_INPUTS_BYTES),
    }


def automatic_transition(current: ClaimStatus, status: str) -> ClaimStatus:
    """The status ``status`` names, when the machine moves there from ``current`` without a person (not out
    of ``flagged``); else :class:`InvalidTransition`."""
    target = parse_choice(ClaimStatus, status, "status")
    if current is ClaimStatus.FLAGGED or target not in TRANSITIONS[current]:
        raise InvalidTransition("claim", current.value, target.value)
    return target


def visible_to(claim: Claim, partner_id: str | None) -> Claim:
    """``claim`` if ``partner_id`` may see it (None: an operator, who sees every claim); another partner's
    claim is :class:`NotFound`, exactly like a missing one."""
    if partner_id is not None and claim.partner_id != partner_id:
        raise NotFound("claim", str(claim.id))
    return claim
