"""The claims context's use cases: what embedders (``ledger.claims``, ``ledger.documents``), the HTTP API and
the CLI all call, so the same command records the same events whichever way it comes in.

* A submission is verified as it is recorded: the claim and its first verification are one save
  (:class:`~ledger_core.claims.verification.ClaimVerificationService`); an identical resubmission records
  nothing, a different one is :class:`~ledger_core.claims.errors.DuplicateClaim`.
* Registering a document re-verifies the partner's claims waiting on it (also on a repeated registration:
  re-verifying records only changed outcomes, so a retry completes what a failed attempt left undone).
* Reads name the partner: another partner's claim is :class:`NotFound`, exactly like a missing one.

Pure: the log through :class:`LedgerApplication`, cross-claim facts through the
:class:`~ledger_core.claims.facts.ClaimFacts` port, time through the :class:`Clock` port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger_core.claims.claim import Claim, visible_to
from ledger_core.claims.documents import Document, DocumentResult, DocumentService
from ledger_core.claims.facts import ClaimFacts
from ledger_core.claims.replay import ReplayCheck, replay_log
from ledger_core.claims.risk_rules import CURRENT_RULE_SET
from ledger_core.claims.submission import ClaimSubmission
from ledger_core.claims.verification import ClaimVerificationService, VerifiedClaim
from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.ports import Clock
from ledger_core.shared.service_support import save
from ledger_core.shared.vocabulary import ClaimStatus


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """A claim after a command or a read: the claim (read-only: never mutate it), the log positions the
    command wrote (none when it recorded nothing), the position of the claim's newest event, and whether
    the command created the claim."""

    claim: Claim
    positions: tuple[int, ...]
    head: int
    created: bool = False

    @property
    def claim_id(self) -> UUID:
        return self.claim.id

    @property
    def status(self) -> ClaimStatus:
        return self.claim.status


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """A verification recorded as decided elsewhere (:meth:`Claims.record_verification`)."""

    claim_id: UUID
    verification_id: str
    status: ClaimStatus
    positions: tuple[int, ...]


class Claims:
    """Submit, verify, review, explain and read claims."""

    def __init__(
        self, app: LedgerApplication, facts: ClaimFacts, clock: Clock, rule_set_version: str = CURRENT_RULE_SET
    ) -> None:
        self.app = app
        self.verification = ClaimVerificationService(app, facts, clock, rule_set_version)

    # -- commands ------------------------------------------------------------------------------------
    def submit(self, submission: ClaimSubmission) -> ClaimOutcome:
        """Record the claim and its first verification in one save; an identical resubmission is a no-op.

        Raises :class:`DuplicateClaim` when the partner reuses ``partner_claim_id`` with another payload.
        """
        return self._outcome(self.verification.submit(submission))

    def verify(self, claim_id: UUID, partner_id: str | None = None) -> ClaimOutcome:
        """Re-verify a submitted or pending claim: a new outcome is recorded, the same outcome records nothing,
        and a decided claim is returned unchanged (see :meth:`ClaimVerificationService.verify`)."""
        return self._outcome(self.verification.verify(claim_id, partner_id))

    def review(
        self, claim_id: UUID, partner_id: str | None = None, *, decision: str, reviewer: str, notes: str
    ) -> ClaimOutcome:
        """An operations reviewer decides (``verified`` or ``rejected``) a flagged claim or a ``full`` claim
        awaiting review; :class:`InvalidTransition` for any other claim."""
        result = self.verification.review(claim_id, partner_id, decision=decision, reviewer=reviewer, notes=notes)
        return self._outcome(result)

    # -- reads ---------------------------------------------------------------------------------------
    def get(self, claim_id: UUID, partner_id: str | None = None) -> Claim:
        """The claim (a private copy), or :class:`NotFound` (also when it is another partner's)."""
        return visible_to(self.app.load(Claim, claim_id, "claim"), partner_id)

    def view(self, claim_id: UUID, partner_id: str | None = None) -> Claim:
        """Like :meth:`get`, read-only (see :meth:`LedgerApplication.view`): never mutate the result."""
        return visible_to(self.app.view(Claim, claim_id, "claim"), partner_id)

    def get_by_reference(self, partner_id: str, partner_claim_id: str) -> Claim:
        """The claim the partner submitted as ``partner_claim_id``."""
        return self.app.load(Claim, derive_id("claim", partner_id, partner_claim_id), "claim", partner_claim_id)

    def current(self, claim_id: UUID, partner_id: str | None = None) -> ClaimOutcome:
        """The claim (read-only) and the position of its newest event."""
        claim = self.view(claim_id, partner_id)
        return ClaimOutcome(claim, (), self.app.latest_position(claim.id, "claim"))

    def events(self, claim_id: UUID, partner_id: str | None = None) -> list[StoredRow]:
        """The claim's log entries, oldest first."""
        self.view(claim_id, partner_id)
        return list(self.app.log_reader.read_aggregate_rows(str(claim_id)))

    def explain(self, claim_id: UUID, partner_id: str | None = None) -> list[ReplayCheck]:
        """Recompute every recorded verification of the claim from the log (entries up to its newest event)."""
        claim = self.view(claim_id, partner_id)
        head = self.app.latest_position(claim.id, "claim")
        return replay_log(self.app.entries(0, head + 1), str(claim.id))

    # -- decisions taken outside the ledger's rules (imports, migrations, tests) -----------------------
    def change_status(self, claim_id: UUID, status: str, reason: str | None = None) -> ClaimOutcome:
        """Move the claim along its status machine (``claim.status_changed``) without a verification."""
        claim = self.get(claim_id)
        claim.change_status(status, reason)
        return self._saved(claim)

    def record_verification(
        self,
        claim_id: UUID,
        *,
        status: str,
        risk_score: int | None,
        risk_level: str | None,
        factors: Sequence[str],
        explanation: str,
        rule_set_version: str,
        inputs: Mapping[str, Any],
    ) -> VerificationResult:
        """Record a verification decided elsewhere (``claim.verification_recorded``), as given."""
        claim = self.get(claim_id)
        verification_id = claim.record_verification(
            status=status,
            risk_score=risk_score,
            risk_level=risk_level,
            factors=factors,
            explanation=explanation,
            rule_set_version=rule_set_version,
            inputs=inputs,
        )
        return VerificationResult(claim.id, verification_id, claim.status, save(self.app, claim))

    def _saved(self, claim: Claim) -> ClaimOutcome:
        positions = save(self.app, claim)
        return ClaimOutcome(claim, positions, positions[-1])

    def _outcome(self, result: VerifiedClaim) -> ClaimOutcome:
        head = result.positions[-1] if result.positions else self.app.latest_position(result.claim.id, "claim")
        return ClaimOutcome(result.claim, result.positions, head, result.created)


class Documents:
    """Register documents by hash and read registrations; a registration re-verifies the claims waiting on it."""

    def __init__(self, app: LedgerApplication, verification: ClaimVerificationService) -> None:
        self.registry = DocumentService(app)
        self.verification = verification

    def register(
        self,
        *,
        partner_id: str,
        sha256: str,
        document_type: str,
        media_type: str,
        size_bytes: int,
        metadata: Mapping[str, str],
    ) -> DocumentResult:
        """Register a document hash (identical re-registration: ``created=False``, no positions), then
        re-verify the partner's claims listing it. Raises :class:`DocumentConflict` for other attributes."""
        result = self.registry.register(
            partner_id=partner_id,
            sha256=sha256,
            document_type=document_type,
            media_type=media_type,
            size_bytes=size_bytes,
            metadata=metadata,
        )
        self.verification.document_registered(partner_id, result.sha256)
        return result

    def get(self, partner_id: str, sha256: str) -> Document:
        """The partner's document with this hash, or :class:`NotFound`."""
        return self.registry.get(partner_id, sha256)
