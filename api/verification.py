"""Claim verification for the API: the ``ledger_core`` verification service over the log-derived claim facts.

The rules and the decision are pure domain logic (:mod:`ledger_core.claims.verification`,
:mod:`ledger_core.claims.risk_rules`); this module only composes them with the adapter that answers the
cross-claim questions (:class:`adapters.claim_facts.LogDerivedClaimFacts`) and the server's clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.memory.claim_facts import LogDerivedClaimFacts
from ledger_core.claims.facts import ClaimFacts
from ledger_core.claims.verification import ClaimVerificationService
from ledger_core.engine.ports import Clock
from ledger_core.ledger import Ledger


def _utc_now() -> datetime:
    return datetime.now(UTC)


def claim_verification(
    ledger: Ledger, *, facts: ClaimFacts | None = None, clock: Clock = _utc_now
) -> ClaimVerificationService:
    """The verification service of ``ledger`` (facts derived from its log unless ``facts`` is given)."""
    return ClaimVerificationService(ledger.app, facts or LogDerivedClaimFacts(ledger.app.log_reader), clock)
