"""Verifying a claim (seed 000 §3.1, §5.2): gather the inputs, decide, record the decision with its inputs.

Decision by ``verificationLevel`` (pure: :func:`decide` reads only :class:`VerificationInputs`):

* a listed hash registered by the partner with another type            -> ``rejected``
* no documents, or a listed hash not registered by the partner yet      -> ``pending`` (waiting for documents)
* ``standard``: every document registered with its type                -> ``verified`` (no risk assessment)
* ``enhanced``: plus the risk rules (:mod:`ledger_core.claims.risk_rules`)    -> ``flagged`` when the level is high,
  else ``verified``
* ``full``: as ``enhanced``, but a non-high claim stays ``pending`` until an operations reviewer decides
  (:meth:`ClaimVerificationService.review`, event ``claim.review_resolved``)

Every recorded verification names its rule set and carries :class:`VerificationInputs`, so
:mod:`ledger_core.claims.replay` recomputes it from the log alone. A submission and its first
verification are saved together (one save, one group-commit round trip).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from ledger_core.claims.claim import Claim, submitted_payload, verification_fields, visible_to
from ledger_core.claims.errors import DuplicateClaim
from ledger_core.claims.facts import ClaimFacts, ClaimFactsSnapshot, FactsQuery, HashUsage, claim_reference
from ledger_core.claims.risk_rules import (
    CURRENT_RULE_SET,
    RULE_SETS,
    CrossPartnerSignal,
    RiskAssessment,
    RuleParameters,
    assess,
    log_amount_summary,
)
from ledger_core.claims.submission import ClaimSubmission, submission_differences
from ledger_core.claims.verification_inputs import AmountHistory, DocumentEvidence, OtherPartners, VerificationInputs
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.errors import ConcurrencyConflict, InvalidCommand, InvalidTransition
from ledger_core.engine.ports import Clock
from ledger_core.shared.money import format_amount
from ledger_core.shared.service_support import save
from ledger_core.shared.validation import format_timestamp
from ledger_core.shared.vocabulary import ClaimStatus, RiskLevel, VerificationLevel

CHECK_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one verification: status, the risk assessment (enhanced/full), factors, explanation."""

    status: ClaimStatus
    assessment: RiskAssessment | None
    factors: tuple[str, ...]
    explanation: str

    @property
    def risk_score(self) -> int | None:
        return None if self.assessment is None else self.assessment.score

    @property
    def risk_level(self) -> RiskLevel | None:
        return None if self.assessment is None else self.assessment.level


def rule_parameters(rule_set_version: str) -> RuleParameters:
    """The parameters of a published rule set; :class:`InvalidCommand` for one this version does not know."""
    try:
        return RULE_SETS[rule_set_version]
    except KeyError:
        raise InvalidCommand(
            f"unknown rule set {rule_set_version}", field="rule_set_version", value=rule_set_version
        ) from None


def decide(inputs: VerificationInputs, rule_set_version: str) -> Decision:
    """The decision the rule set makes on these inputs (see the module docstring). Pure and deterministic."""
    params = rule_parameters(rule_set_version)
    mismatched = [doc.hash for doc in inputs.documents if doc.registered_type not in (None, doc.type)]
    if mismatched:
        return Decision(
            ClaimStatus.REJECTED,
            None,
            tuple(f"document_type_mismatch:{digest}" for digest in mismatched),
            f"{len(mismatched)} document(s) registered with another type.",
        )
    if not inputs.documents:
        return Decision(ClaimStatus.PENDING, None, ("no_documents",), "The claim lists no documents to verify.")
    missing = [doc.hash for doc in inputs.documents if doc.registered_type is None]
    if missing:
        return Decision(
            ClaimStatus.PENDING,
            None,
            tuple(f"document_not_registered:{digest}" for digest in missing),
            f"{len(missing)} document(s) not registered yet.",
        )
    level = VerificationLevel(inputs.verification_level)
    if level is VerificationLevel.STANDARD:
        return Decision(
            ClaimStatus.VERIFIED, None, (), f"All {len(inputs.documents)} document(s) registered with matching types."
        )
    assessment = assess(inputs, params)
    if assessment.level is RiskLevel.HIGH:
        return Decision(ClaimStatus.FLAGGED, assessment, tuple(assessment.factors), assessment.explanation)
    if level is VerificationLevel.FULL:
        explanation = f"{assessment.explanation} Awaiting manual review."
        return Decision(ClaimStatus.PENDING, assessment, tuple(assessment.factors), explanation)
    return Decision(ClaimStatus.VERIFIED, assessment, tuple(assessment.factors), assessment.explanation)


def facts_query(claim: ClaimSubmission, params: RuleParameters) -> FactsQuery:
    """What to ask the :class:`ClaimFacts` port about ``claim``."""
    return FactsQuery(
        claim_id=claim.claim_id_text,
        partner_id=str(claim.partner_id),
        claim_type=claim.claim_type.value,
        currency=claim.currency.value,
        hashes=tuple(document.hash for document in claim.documents),
        reference=claim_reference([document.to_json() for document in claim.documents]),
        submitted_at=claim.submitted_at,
        history_size=params.amount_history_size,
        velocity_window_seconds=params.velocity_window_days * 86_400,
    )


def gather_inputs(
    claim: ClaimSubmission,
    facts: ClaimFactsSnapshot,
    *,
    received_at: str,
    evaluated_at: str,
    cross_partner: CrossPartnerSignal,
) -> VerificationInputs:
    """The :class:`VerificationInputs` of ``claim`` given the cross-claim facts and the clock readings,
    shaped by the rule set's ``cross_partner`` signal (see :class:`CrossPartnerSignal`)."""
    documents = []
    for document in claim.documents:
        registration = facts.registrations.get(document.hash)
        usage = facts.usage.get(document.hash) or HashUsage()
        registered_metadata: Mapping[str, str] = {} if registration is None else registration.metadata
        evidence = DocumentEvidence(
            hash=document.hash,
            type=document.type.value,
            registered_type=None if registration is None else registration.document_type,
            other_claims=usage.other_claims,
            other_partner_claims=usage.other_partner_claims,
            metadata_conflicts=metadata_conflicts(claim, document.metadata, registered_metadata),
        )
        if cross_partner is CrossPartnerSignal.POSSESSION:
            evidence = _possession_evidence(evidence, usage, holds_document=registration is not None)
        documents.append(evidence)
    median, mad = log_amount_summary(facts.amounts)
    reference = claim_reference([document.to_json() for document in claim.documents])
    return VerificationInputs(
        verification_level=claim.verification_level.value,
        claim_type=claim.claim_type.value,
        claim_amount=format_amount(claim.claim_amount, claim.currency),
        currency=claim.currency.value,
        submitted_at=claim.submitted_at,
        received_at=received_at,
        evaluated_at=evaluated_at,
        as_of_position=facts.as_of,
        documents=tuple(documents),
        amount_history=AmountHistory(len(facts.amounts), median, mad),
        reference_key=None if reference is None else reference[0],
        reference_claims=facts.reference_claims,
    )


def _possession_evidence(evidence: DocumentEvidence, usage: HashUsage, *, holds_document: bool) -> DocumentEvidence:
    """``rules-v2`` evidence: own other claims by count; other partners only as some/none, and only for a
    document the partner registered (uploaded): a hash alone tells nothing about other partners."""
    if not holds_document:
        others = OtherPartners.WITHHELD
    else:
        others = OtherPartners.SOME if usage.other_partner_claims > 0 else OtherPartners.NONE
    return replace(
        evidence,
        other_claims=0,
        other_partner_claims=0,
        own_other_claims=usage.other_claims - usage.other_partner_claims,
        other_partners=others,
    )


def metadata_conflicts(
    claim: ClaimSubmission, listed: Mapping[str, str], registered: Mapping[str, str]
) -> tuple[str, ...]:
    """Metadata keys (never values) on which a document contradicts its registration or the claim's fields."""
    conflicts = {key for key in listed.keys() & registered.keys() if listed[key] != registered[key]}
    expected = {
        "claimType": claim.claim_type.value,
        "currency": claim.currency.value,
        "partnerClaimId": claim.partner_claim_id,
    }
    for metadata in (listed, registered):
        for key, value in expected.items():
            if key in metadata and metadata[key] != value:
                conflicts.add(key)
        if "claimAmount" in metadata and not _same_amount(metadata["claimAmount"], claim.claim_amount):
            conflicts.add("claimAmount")
    return tuple(sorted(conflicts))


def _same_amount(text: str, amount: Decimal) -> bool:
    try:
        return Decimal(text) == amount
    except InvalidOperation:
        return False


@dataclass(frozen=True, slots=True)
class NewClaimDrafts:
    """A new claim's two entries as drafts (:meth:`ClaimVerificationService.new_claim_drafts`)."""

    submitted_payload: dict[str, Any]
    """The ``claim.submitted`` payload (what the claim facts read of it)."""
    submitted: EventDraft
    verified: EventDraft


@dataclass(frozen=True, slots=True)
class VerifiedClaim:
    """A claim after a command, the log positions the command wrote (may be none), and whether it was created."""

    claim: Claim
    positions: tuple[int, ...]
    created: bool = False


class ClaimVerificationService:
    """Submit, verify, re-verify and review claims against a :class:`LedgerApplication` and a :class:`ClaimFacts`."""

    def __init__(
        self, app: LedgerApplication, facts: ClaimFacts, clock: Clock, rule_set_version: str = CURRENT_RULE_SET
    ) -> None:
        self.app = app
        self.facts = facts
        self.clock = clock
        self.rule_set_version = rule_set_version
        self.params = rule_parameters(rule_set_version)

    def submit(self, submission: ClaimSubmission) -> VerifiedClaim:
        """Record the claim and its first verification in ONE save; an identical resubmission is a no-op.

        Raises :class:`DuplicateClaim` when ``partnerClaimId`` is reused with another payload.
        """
        claim = Claim.from_submission(submission)  # optimistic: a resubmission is rare, a read per claim is not
        now = format_timestamp(self.clock())
        self._record(claim, received_at=now, evaluated_at=now)
        try:
            return VerifiedClaim(claim, save(self.app, claim), created=True)
        except ConcurrencyConflict:  # the claim exists (resubmitted, or a concurrent submission won): compare
            existing = self.app.load(Claim, submission.claim_id, "claim")
        differences = submission_differences(existing, submission)
        if differences:
            raise DuplicateClaim(str(existing.id), submission.partner_id, submission.partner_claim_id, differences)
        if existing.status is ClaimStatus.SUBMITTED:  # recorded without a verification (library use)
            return self.verify(existing.id, submission.partner_id)
        return VerifiedClaim(existing, ())

    def verify(self, claim_id: UUID, partner_id: str | None = None) -> VerifiedClaim:
        """Re-verify a ``submitted`` or ``pending`` claim; record the outcome only when it differs from the latest.

        A decided claim (verified, rejected, flagged, or awaiting review) is returned unchanged: decisions
        are final and a flagged claim waits for a person. A concurrent write is retried.
        """
        for attempt in range(CHECK_ATTEMPTS):
            claim = self._get(claim_id, partner_id)
            if claim.status not in (ClaimStatus.SUBMITTED, ClaimStatus.PENDING) or claim.awaiting_review:
                return VerifiedClaim(claim, ())
            now = format_timestamp(self.clock())
            if not self._record(claim, received_at=_received_at(claim) or now, evaluated_at=now):
                return VerifiedClaim(claim, ())
            try:
                return VerifiedClaim(claim, save(self.app, claim))
            except (ConcurrencyConflict, InvalidTransition):
                if attempt == CHECK_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # the loop returns or raises

    def review(
        self, claim_id: UUID, partner_id: str | None = None, *, decision: str, reviewer: str, notes: str
    ) -> VerifiedClaim:
        """An operations reviewer decides a flagged claim or one awaiting review (``claim.review_resolved``);
        with ``partner_id``, a claim of another partner is :class:`NotFound`."""
        claim = self._get(claim_id, partner_id)
        claim.resolve_review(decision=decision, reviewer=reviewer, notes=notes)
        return VerifiedClaim(claim, save(self.app, claim))

    def document_registered(self, partner_id: str, sha256: str) -> list[VerifiedClaim]:
        """Re-verify the partner's claims waiting on ``sha256``; return the ones whose outcome changed."""
        changed = []
        for claim_id in self.facts.claims_listing(partner_id, sha256):
            result = self.verify(UUID(claim_id), partner_id)
            if result.positions:
                changed.append(result)
        return changed

    def evaluate(self, claim: Claim, *, received_at: str, evaluated_at: str) -> tuple[VerificationInputs, Decision]:
        """Gather the claim's inputs now and decide (records nothing)."""
        submission = claim.submission
        snapshot = self.facts.snapshot(facts_query(submission, self.params))
        inputs = gather_inputs(
            submission,
            snapshot,
            received_at=received_at,
            evaluated_at=evaluated_at,
            cross_partner=self.params.cross_partner,
        )
        return inputs, decide(inputs, self.rule_set_version)

    def new_claim_drafts(
        self, submission: ClaimSubmission, facts: ClaimFactsSnapshot, claim_id: str | None = None
    ) -> NewClaimDrafts:
        """The entries :meth:`submit` records for a new claim (``claim.submitted`` and its first
        ``claim.verification_recorded``, the same payloads and checks: :func:`submitted_payload`,
        :func:`verification_fields`), decided on ``facts`` and built as drafts without the aggregate: the bulk
        import computes a chunk's facts at once and saves drafts. Nothing is saved. ``claim_id``: the
        submission's claim id as text when the caller has it (``submission.claim_id`` derives it again)."""
        now = format_timestamp(self.clock())
        inputs = gather_inputs(
            submission, facts, received_at=now, evaluated_at=now, cross_partner=self.params.cross_partner
        )
        decision = decide(inputs, self.rule_set_version)
        claim_id = submission.claim_id_text if claim_id is None else claim_id
        partner_id = submission.partner_id
        submitted = submitted_payload(submission)
        verified = verification_fields(claim_id, 2, ClaimStatus.SUBMITTED, **self._decision_fields(inputs, decision))
        return NewClaimDrafts(
            submitted,
            self.app.creation_draft(Claim.Submitted, claim_id, partner_id, submitted),
            self.app.event_draft(Claim.VerificationRecorded, claim_id, 2, partner_id, verified),
        )

    def _record(self, claim: Claim, *, received_at: str, evaluated_at: str) -> bool:
        """Evaluate and record on the aggregate when the outcome is new; False when it repeats the latest."""
        inputs, decision = self.evaluate(claim, received_at=received_at, evaluated_at=evaluated_at)
        latest = claim.verifications[-1] if claim.verifications else None
        if latest is not None and (latest.status, latest.factors, latest.risk_score) == (
            decision.status,
            decision.factors,
            decision.risk_score,
        ):
            return False
        self._apply(claim, inputs, decision)
        return True

    def _apply(self, claim: Claim, inputs: VerificationInputs, decision: Decision) -> None:
        claim.record_verification(**self._decision_fields(inputs, decision))

    def _decision_fields(self, inputs: VerificationInputs, decision: Decision) -> dict[str, Any]:
        """What :meth:`Claim.record_verification` is given for ``decision`` on ``inputs``."""
        return {
            "status": decision.status.value,
            "risk_score": decision.risk_score,
            "risk_level": None if decision.risk_level is None else decision.risk_level.value,
            "factors": decision.factors,
            "explanation": decision.explanation,
            "rule_set_version": self.rule_set_version,
            "inputs": inputs.to_json(),
        }

    def _get(self, claim_id: UUID, partner_id: str | None) -> Claim:
        return visible_to(self.app.load(Claim, claim_id, "claim"), partner_id)


def _received_at(claim: Claim) -> str | None:
    """When the ledger received the claim, as its first verification recorded it (None if none did)."""
    for verification in claim.verifications:
        value = verification.inputs.get("receivedAt")
        if isinstance(value, str):
            return value
    return None
