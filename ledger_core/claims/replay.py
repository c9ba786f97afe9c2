"""Recomputing recorded verifications from the log alone (``ledger claims explain``; auditors).

For every ``claim.verification_recorded`` entry two things are checked:

1. **The decision**: :func:`~ledger_core.claims.verification.decide` over the recorded ``inputs`` under the
   recorded rule set gives the recorded status, score, level, factors and explanation.
2. **The inputs**: the same inputs are rebuilt from the log: the claim's own ``claim.submitted`` entry,
   and the cross-claim facts from a :class:`~ledger_core.claims.facts.ClaimFactsIndex` fed with the
   entries before the recorded ``asOfPosition`` (which must precede the verification itself). The clock
   readings (``receivedAt``, ``evaluatedAt``) are taken as recorded: they are the only inputs the log
   cannot re-derive, and the entry's own ``recordedAt`` bounds them.

Only the rule sets this version knows (:data:`~ledger_core.claims.risk_rules.RULE_SETS`) are recomputed; an
older set (``standard-v1``, before the rules engine) is reported as not replayable, never as a match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ledger_core.claims.facts import CLAIM_SUBMITTED, FACT_EVENT_TYPES, ClaimFactsIndex
from ledger_core.claims.risk_rules import RULE_SETS
from ledger_core.claims.submission import ClaimSubmission, validate_submission
from ledger_core.claims.verification import Decision, decide, facts_query, gather_inputs, rule_parameters
from ledger_core.claims.verification_inputs import VerificationInputs
from ledger_core.engine.envelope import Envelope
from ledger_core.engine.errors import InvalidCommand

VERIFICATION_RECORDED = "claim.verification_recorded"


@dataclass(frozen=True, slots=True)
class ReplayCheck:
    """One recorded verification beside its recomputation."""

    claim_id: str
    verification_id: str
    position: int
    rule_set_version: str
    recorded: dict[str, Any]
    recomputed: dict[str, Any] | None
    recorded_inputs: dict[str, Any]
    rebuilt_inputs: dict[str, Any] | None
    problem: str | None = None

    @property
    def decision_matches(self) -> bool:
        return self.recomputed is not None and self.recomputed == self.recorded

    @property
    def inputs_match(self) -> bool:
        return self.rebuilt_inputs is not None and self.rebuilt_inputs == self.recorded_inputs

    @property
    def matches(self) -> bool:
        return self.problem is None and self.decision_matches and self.inputs_match

    def to_json(self) -> dict[str, Any]:
        return {
            "claimId": self.claim_id,
            "verificationId": self.verification_id,
            "position": self.position,
            "ruleSetVersion": self.rule_set_version,
            "recorded": self.recorded,
            "recomputed": self.recomputed,
            "decisionMatches": self.decision_matches,
            "inputsMatch": self.inputs_match,
            "recordedInputs": self.recorded_inputs,
            "rebuiltInputs": self.rebuilt_inputs,
            "problem": self.problem,
            "matches": self.matches,
        }


def replay_log(entries: Iterable[Envelope], claim_id: str | None = None) -> list[ReplayCheck]:
    """Check every recorded verification in ``entries`` (the log from position 0, in order), or one claim's."""
    index = ClaimFactsIndex()
    submissions: dict[str, ClaimSubmission] = {}
    recorded: list[Envelope] = []
    for envelope in entries:
        if envelope.type in FACT_EVENT_TYPES:
            index.feed(envelope.position, envelope.type, envelope.aggregate_id, envelope.partner_id, envelope.payload)
        else:
            index.skip_to(envelope.position + 1)
        if claim_id is not None and envelope.aggregate_id != claim_id:
            continue
        if envelope.type == CLAIM_SUBMITTED and envelope.partner_id is not None:
            submissions[envelope.aggregate_id] = _submission(envelope)
        elif envelope.type == VERIFICATION_RECORDED:
            recorded.append(envelope)
    return [_check(index, submissions[entry.aggregate_id], entry) for entry in recorded]


def _submission(envelope: Envelope) -> ClaimSubmission:
    payload = envelope.payload
    return validate_submission(
        partner_id=str(envelope.partner_id),
        partner_claim_id=payload["partner_claim_id"],
        claim_type=payload["claim_type"],
        claim_amount=payload["claim_amount"],
        currency=payload["currency"],
        submitted_at=payload["submitted_at"],
        documents=payload["documents"],
        verification_level=payload["verification_level"],
    )


def _recorded_decision(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": payload["status"],
        "riskScore": payload["risk_score"],
        "riskLevel": payload["risk_level"],
        "factors": list(payload["factors"]),
        "explanation": payload["explanation"],
    }


def _decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "status": decision.status.value,
        "riskScore": decision.risk_score,
        "riskLevel": None if decision.risk_level is None else decision.risk_level.value,
        "factors": list(decision.factors),
        "explanation": decision.explanation,
    }


def _check(index: ClaimFactsIndex, submission: ClaimSubmission, entry: Envelope) -> ReplayCheck:
    payload = entry.payload
    version = str(payload["rule_set_version"])
    base: dict[str, Any] = {
        "claim_id": entry.aggregate_id,
        "verification_id": str(payload["verification_id"]),
        "position": entry.position,
        "rule_set_version": version,
        "recorded": _recorded_decision(payload),
        "recorded_inputs": dict(payload["inputs"]),
    }
    if version not in RULE_SETS:
        return ReplayCheck(
            **base, recomputed=None, rebuilt_inputs=None, problem=f"rule set {version} is not replayable"
        )
    try:
        inputs = VerificationInputs.from_json(payload["inputs"])
    except InvalidCommand as error:
        return ReplayCheck(**base, recomputed=None, rebuilt_inputs=None, problem=str(error))
    recomputed = _decision_json(decide(inputs, version))
    if inputs.as_of_position > entry.position:
        problem = f"asOfPosition {inputs.as_of_position} is after the verification at {entry.position}"
        return ReplayCheck(**base, recomputed=recomputed, rebuilt_inputs=None, problem=problem)
    params = rule_parameters(version)
    snapshot = index.snapshot(facts_query(submission, params), as_of=inputs.as_of_position)
    rebuilt = gather_inputs(
        submission,
        snapshot,
        received_at=inputs.received_at,
        evaluated_at=inputs.evaluated_at,
        cross_partner=params.cross_partner,
    ).to_json()
    return ReplayCheck(**base, recomputed=recomputed, rebuilt_inputs=rebuilt)
