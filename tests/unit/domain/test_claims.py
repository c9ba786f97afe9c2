"""Claims: submission validation, the status machine, verification records, resubmission."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_core.claims.claim import TRANSITIONS, Claim
from ledger_core.claims.submission import same_submission, validate_submission
from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.errors import InvalidCommand, InvalidTransition
from ledger_core.shared.vocabulary import ClaimStatus

from .fakes import replay, state

HASH = "ab" * 32


def fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "partner_id": "acme_insurance",
        "partner_claim_id": "CLM-001",
        "claim_type": "auto",
        "claim_amount": "1234.5",
        "currency": "USD",
        "submitted_at": "2026-01-15T16:30:00+02:00",
        "documents": [{"type": "photo", "hash": HASH, "metadata": {"angle": "front"}}],
        "verification_level": "standard",
    }
    return {**base, **overrides}


def submitted() -> Claim:
    claim = Claim.submit(**fields())
    claim.collect_events()
    return claim


def verification(status: str = "verified", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "status": status,
        "risk_score": 12,
        "risk_level": "low",
        "factors": ["amount_within_norms"],
        "explanation": "No anomalies.",
        "rule_set_version": "rules-2026.01",
        "inputs": {"amount_zscore": "0.4", "documents": 1},
    }
    return {**base, **overrides}


def test_submit_records_normalized_submission() -> None:
    """Submitting starts a claim in 'submitted' with a normalized, JSON-native event."""
    claim = Claim.submit(**fields())
    [event] = claim.collect_events()
    assert isinstance(event, Claim.Submitted)
    assert type(event).EVENT_TYPE == "claim.submitted"
    assert claim.id == derive_id("claim", "acme_insurance", "CLM-001")
    assert claim.status is ClaimStatus.SUBMITTED
    assert claim.claim_amount == Decimal("1234.50")
    assert event.claim_amount == "1234.50"
    assert event.submitted_at == "2026-01-15T14:30:00.000000Z"
    assert event.partner_id == "acme_insurance"
    assert event.documents == [{"type": "photo", "hash": HASH, "metadata": {"angle": "front"}}]
    assert state(replay([event])) == state(claim)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"partner_id": "Acme"}, "partner_id"),
        ({"partner_claim_id": ""}, "partner_claim_id"),
        ({"claim_type": "boat"}, "claim_type"),
        ({"claim_amount": 1234.5}, "claim_amount"),
        ({"claim_amount": "-1"}, "claim_amount"),
        ({"claim_amount": "1.234"}, "claim_amount"),
        ({"currency": "JPY"}, "currency"),
        ({"submitted_at": "2026-01-15"}, "submitted_at"),
        ({"verification_level": "max"}, "verification_level"),
        ({"documents": "nope"}, "documents"),
        ({"documents": [{"type": "photo", "hash": HASH.upper()}]}, "documents[0].hash"),
        ({"documents": [{"type": "video", "hash": HASH}]}, "documents[0].type"),
        ({"documents": [{"type": "pdf", "hash": HASH, "metadata": {"n": 1}}]}, "documents[0].metadata.n"),
        ({"documents": [{"type": "pdf", "hash": HASH, "extra": 1}]}, "documents[0]"),
        ({"documents": [{"type": "pdf", "hash": HASH}, {"type": "form", "hash": HASH}]}, "documents[1].hash"),
        ({"documents": [{"type": "pdf", "hash": f"{i:064x}"} for i in range(101)]}, "documents"),
    ],
)
def test_submission_validation_names_the_field(override: dict[str, Any], field: str) -> None:
    """Each invalid submission field raises InvalidCommand naming it."""
    with pytest.raises(InvalidCommand) as caught:
        Claim.submit(**fields(**override))
    assert caught.value.details["field"] == field


ALL_STATUSES = list(ClaimStatus)


@pytest.mark.parametrize("current", [ClaimStatus.SUBMITTED, ClaimStatus.PENDING])
@pytest.mark.parametrize("target", ALL_STATUSES)
def test_change_status_follows_the_machine(current: ClaimStatus, target: ClaimStatus) -> None:
    """From submitted/pending, allowed targets succeed; others raise InvalidTransition with evidence."""
    claim = submitted()
    if current is ClaimStatus.PENDING:
        claim.change_status("pending")
        claim.collect_events()
    if target in TRANSITIONS[current]:
        claim.change_status(target.value, reason="rules")
        [event] = claim.collect_events()
        assert isinstance(event, Claim.StatusChanged)
        assert (event.status, event.previous_status, event.reason) == (target.value, current.value, "rules")
        assert claim.status is target
    else:
        with pytest.raises(InvalidTransition) as caught:
            claim.change_status(target.value)
        assert caught.value.details == {"entity": "claim", "current": current.value, "attempted": target.value}
        assert claim.collect_events() == []


def flagged() -> Claim:
    claim = submitted()
    claim.change_status("flagged")
    claim.collect_events()
    return claim


def test_flagged_leaves_only_through_review() -> None:
    """A flagged claim cannot be moved by status changes or verifications, only by a review decision."""
    claim = flagged()
    for target in ("verified", "rejected", "pending"):
        with pytest.raises(InvalidTransition):
            claim.change_status(target)
        with pytest.raises(InvalidTransition):
            claim.record_verification(**verification(target))
    with pytest.raises(InvalidTransition):
        claim.resolve_review(decision="pending", reviewer="analyst_7", notes="")
    claim.resolve_review(decision="rejected", reviewer="analyst_7", notes="Staged photos.")
    [event] = claim.collect_events()
    assert isinstance(event, Claim.ReviewResolved)
    assert type(event).EVENT_TYPE == "claim.review_resolved"
    assert (event.decision, event.previous_status, event.reviewer) == ("rejected", "flagged", "analyst_7")
    assert claim.status is ClaimStatus.REJECTED
    assert claim.reviewed_by == "analyst_7"


@pytest.mark.parametrize("terminal", ["verified", "rejected"])
def test_terminal_states_accept_nothing(terminal: str) -> None:
    """Verified and rejected claims refuse every further command."""
    claim = submitted()
    claim.change_status(terminal)
    assert claim.is_terminal
    for target in ALL_STATUSES:
        with pytest.raises(InvalidTransition):
            claim.change_status(target.value)
    with pytest.raises(InvalidTransition):
        claim.resolve_review(decision="verified", reviewer="a", notes="")


def test_review_only_for_flagged() -> None:
    """resolve_review on a non-flagged claim is an invalid transition."""
    with pytest.raises(InvalidTransition) as caught:
        submitted().resolve_review(decision="verified", reviewer="a", notes="")
    assert caught.value.details["current"] == "submitted"


def test_record_verification() -> None:
    """A verification records the risk assessment, rule set and inputs, and moves the status."""
    claim = submitted()
    verification_id = claim.record_verification(**verification("flagged", risk_score=81, risk_level="high"))
    [event] = claim.collect_events()
    assert isinstance(event, Claim.VerificationRecorded)
    assert type(event).EVENT_TYPE == "claim.verification_recorded"
    assert event.verification_id == verification_id == str(derive_id("verification", str(claim.id), "2"))
    assert (event.status, event.previous_status, event.risk_score, event.risk_level) == (
        "flagged",
        "submitted",
        81,
        "high",
    )
    assert event.inputs == {"amount_zscore": "0.4", "documents": 1}
    assert claim.status is ClaimStatus.FLAGGED
    assert claim.verifications[-1].rule_set_version == "rules-2026.01"
    assert state(replay([*Claim.submit(**fields()).collect_events(), event])) == state(claim)


def test_verification_without_risk_assessment() -> None:
    """risk_score and risk_level may both be None."""
    claim = submitted()
    claim.record_verification(**verification("pending", risk_score=None, risk_level=None))
    assert claim.verifications[-1].risk_score is None


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"risk_score": 101}, "risk_score"),
        ({"risk_score": -1}, "risk_score"),
        ({"risk_score": True}, "risk_score"),
        ({"risk_score": 50.0}, "risk_score"),
        ({"risk_level": None}, "risk_level"),
        ({"risk_score": None}, "risk_level"),
        ({"risk_level": "extreme"}, "risk_level"),
        ({"factors": "one"}, "factors"),
        ({"factors": ["x" * 201]}, "factors[0]"),
        ({"explanation": "x" * 2001}, "explanation"),
        ({"rule_set_version": ""}, "rule_set_version"),
        ({"inputs": {"score": 0.5}}, "inputs"),
        ({"inputs": {"blob": "x" * 20_000}}, "inputs"),
        ({"status": "approved"}, "status"),
    ],
)
def test_verification_validation(override: dict[str, Any], field: str) -> None:
    """Invalid verification fields raise InvalidCommand naming the field, recording nothing."""
    claim = submitted()
    with pytest.raises(InvalidCommand) as caught:
        claim.record_verification(**verification(**override))
    assert caught.value.details["field"] == field
    assert claim.collect_events() == []


def test_same_submission_after_normalization() -> None:
    """An equivalent resubmission is the same; any changed field is reported by name."""
    claim = submitted()
    again = validate_submission(**fields(claim_amount="1234.50", submitted_at="2026-01-15T14:30:00Z"))
    assert same_submission(claim, again)
    changed = validate_submission(**fields(claim_amount="99", claim_type="health"))
    assert not same_submission(claim, changed)


commands = st.lists(
    st.tuples(st.sampled_from(["change", "verify", "review"]), st.sampled_from([s.value for s in ClaimStatus])),
    max_size=12,
)


@given(commands)
def test_random_command_sequences_stay_on_the_machine(sequence: list[tuple[str, str]]) -> None:
    """Any command sequence only ever takes allowed transitions; refused commands change nothing."""
    claim = Claim.submit(**fields())
    history = [ClaimStatus.SUBMITTED]
    for command, target in sequence:
        before = claim.status
        try:
            if command == "change":
                claim.change_status(target)
            elif command == "verify":
                claim.record_verification(**verification(target))
            else:
                claim.resolve_review(decision=target, reviewer="r", notes="")
        except InvalidTransition:
            assert claim.status is before
            continue
        assert claim.status in TRANSITIONS[before]
        assert (before is ClaimStatus.FLAGGED) == (command == "review")
        if claim.status is not before:  # pending -> pending (a new outcome that still waits) is the one self-loop
            history.append(claim.status)
    assert len(history) == len(set(history))  # otherwise acyclic: no status is visited twice
    assert state(replay(list(claim.collect_events()))) == state(claim)
