"""Replaying the log reproduces every recorded decision; verification is deterministic given the log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger_core.claims.documents import DocumentService
from ledger_core.claims.errors import DocumentConflict, DuplicateClaim
from ledger_core.claims.replay import replay_log
from ledger_core.claims.submission import validate_submission
from ledger_core.claims.verification import ClaimVerificationService
from ledger_core.engine.envelope import decode_entry, encode_entry

from .fakes import IndexFacts, MemoryLog, SteppingClock, claim_fields

PARTNERS = ("acme_insurance", "rival_mutual")


@dataclass(frozen=True)
class Register:
    partner: int
    label: int
    kind: str


@dataclass(frozen=True)
class Submit:
    partner: int
    reference: int
    labels: tuple[int, ...]
    amount: Decimal
    level: str
    policy: int | None
    days_ago: int


@dataclass(frozen=True)
class Verify:
    claim: int


Command = Register | Submit | Verify


def sha(label: int) -> str:
    return hashlib.sha256(f"doc {label}".encode()).hexdigest()


kinds = st.sampled_from(["photo", "pdf"])
commands = st.one_of(
    st.builds(Register, st.integers(0, 1), st.integers(0, 6), kinds),
    st.builds(
        Submit,
        st.integers(0, 1),
        st.integers(0, 8),
        st.lists(st.integers(0, 6), max_size=3, unique=True).map(tuple),
        st.decimals(min_value=Decimal("50"), max_value=Decimal("90000"), places=2),
        st.sampled_from(["standard", "enhanced", "full"]),
        st.one_of(st.none(), st.integers(0, 2)),
        st.sampled_from([0, 3, 400, -2]),
    ),
    st.builds(Verify, st.integers(0, 8)),
)


def run(script: list[Command]) -> MemoryLog:
    """Apply the commands to a fresh in-memory ledger with a deterministic clock."""
    clock = SteppingClock()
    log = MemoryLog(clock)
    service = ClaimVerificationService(log, IndexFacts(log), clock)  # type: ignore[arg-type]
    documents = DocumentService(log)  # type: ignore[arg-type]
    claims: list[Any] = []
    for command in script:
        if isinstance(command, Register):
            media = "image/png" if command.kind == "photo" else "application/pdf"
            try:
                documents.register(
                    partner_id=PARTNERS[command.partner],
                    sha256=sha(command.label),
                    document_type=command.kind,
                    media_type=media,
                    size_bytes=1,
                    metadata={},
                )
            except DocumentConflict:  # a conflicting re-registration is refused, as in production
                continue
            for claim_id in [c for c in claims if c is not None]:
                service.verify(claim_id, None)
        elif isinstance(command, Submit):
            metadata = {} if command.policy is None else {"policyReference": f"POL-{command.policy}"}
            moment = clock.now.toordinal() - command.days_ago
            day = clock.now.fromordinal(moment).strftime("%Y-%m-%d")
            fields = claim_fields(
                partner_id=PARTNERS[command.partner],
                partner_claim_id=f"C-{command.reference}",
                claim_amount=str(command.amount),
                verification_level=command.level,
                submitted_at=f"{day}T09:00:00Z",
                documents=[{"type": "photo", "hash": sha(label), "metadata": metadata} for label in command.labels],
            )
            try:
                claims.append(service.submit(validate_submission(**fields)).claim.id)
            except DuplicateClaim:
                claims.append(None)
        elif claims and claims[command.claim % len(claims)] is not None:
            service.verify(claims[command.claim % len(claims)], None)
    return log


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, min_size=1, max_size=25))
def test_replaying_the_log_reproduces_every_recorded_decision(script: list[Command]) -> None:
    """For every verification in the log: decide(recorded inputs) == recorded, and inputs rebuilt == recorded."""
    log = run(script)
    checks = replay_log(log.envelopes())
    recorded = sum(1 for envelope in log.envelopes() if envelope.type == "claim.verification_recorded")
    assert len(checks) == recorded
    for check in checks:
        assert check.matches, json.dumps(check.to_json(), indent=1)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, min_size=1, max_size=20))
def test_verification_is_deterministic_given_the_log(script: list[Command]) -> None:
    """The same commands on the same clock write byte-identical logs (no hidden state, no randomness)."""
    assert run(script).log == run(script).log


def test_a_tampered_score_or_input_is_caught() -> None:
    """Editing a recorded decision or one of its inputs makes the replay disagree."""
    script: list[Command] = [Register(0, 1, "photo"), Register(1, 1, "photo")]
    script += [
        Submit(1, 0, (1,), Decimal("100"), "enhanced", None, 0),
        Submit(0, 0, (1,), Decimal("100"), "enhanced", None, 0),
    ]
    log = run(script)
    [*_, last] = [e for e in log.envelopes() if e.type == "claim.verification_recorded"]
    assert last.payload["status"] == "flagged"

    def tampered(change: Any) -> list[Any]:
        envelopes = log.envelopes()
        payload = json.loads(json.dumps(envelopes[last.position].payload))
        change(payload)
        envelopes[last.position] = replace_payload(envelopes[last.position], payload)
        return replay_log(envelopes)

    def lower_score(payload: dict[str, Any]) -> None:
        payload["risk_score"] = 10

    def hide_reuse(payload: dict[str, Any]) -> None:
        payload["inputs"]["documents"][0]["ownOtherClaims"] = 0
        payload["inputs"]["documents"][0]["otherPartners"] = "none"

    assert all(check.matches for check in replay_log(log.envelopes()))
    score_check = tampered(lower_score)[-1]
    assert not score_check.decision_matches
    assert score_check.inputs_match
    input_check = tampered(hide_reuse)[-1]
    assert not input_check.inputs_match
    assert not input_check.decision_matches


def replace_payload(envelope: Any, payload: dict[str, Any]) -> Any:
    from ledger_core.engine.envelope import EventDraft

    draft = EventDraft(
        event_id=envelope.event_id,
        type=envelope.type,
        aggregate_type=envelope.aggregate_type,
        aggregate_id=envelope.aggregate_id,
        aggregate_version=envelope.aggregate_version,
        partner_id=envelope.partner_id,
        payload=payload,
    )
    entry = encode_entry(
        draft,
        position=envelope.position,
        prev=envelope.prev,
        aggregate_prev_position=envelope.aggregate_prev_position,
        recorded_at=envelope.recorded_at,
    )
    return decode_entry(entry)


def test_older_rule_sets_are_reported_not_replayable() -> None:
    """A standard-v1 verification (before the rules engine) is reported as such, never as a match."""
    log = run([Submit(0, 0, (), Decimal("10"), "standard", None, 0)])
    envelopes = log.envelopes()
    position = next(e.position for e in envelopes if e.type == "claim.verification_recorded")
    payload = {**envelopes[position].payload, "rule_set_version": "standard-v1", "inputs": {"documents": []}}
    envelopes[position] = replace_payload(envelopes[position], payload)
    [check] = replay_log(envelopes)
    assert not check.matches
    assert check.problem == "rule set standard-v1 is not replayable"
