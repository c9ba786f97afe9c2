"""Log entries -> partner webhook events: which entries map to which event, the payload shape, privacy."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from ledger_core.engine.envelope import Envelope
from ledger_core.webhooks.events import delivery_failed_alert, partner_events, proof_generated

CLAIM = "3f1c2a9e-5b7d-4e8a-9c1f-2d6b8e4a7c10"  # fixed: parameter ids must be the same in every test process
ENROLLMENT = "8a2e4c6b-1d3f-4b5a-8e7c-9f0a1b2c3d4e"
LEAF = bytes(range(32))


def envelope(
    kind: str, payload: dict[str, Any], position: int, aggregate: str = CLAIM, partner: str | None = "p1"
) -> Envelope:
    return Envelope(
        position=position,
        prev=None,
        event_id=str(uuid.uuid4()),
        type=kind,
        aggregate_type="X",
        aggregate_id=aggregate,
        aggregate_version=position,
        aggregate_prev_position=None,
        partner_id=partner,
        recorded_at="2026-01-15T14:30:00.000000Z",
        payload=payload,
    )


HISTORY = [
    envelope("claim.submitted", {"partner_claim_id": "CLM-9"}, 0),
    envelope("enrollment.enrolled", {"partner_member_id": "12345678", "enrollment_date": "2026-01-10"}, 1, ENROLLMENT),
    envelope("enrollment.counseling_scheduled", {"counseling_at": "2026-01-29T15:00:00Z"}, 2, ENROLLMENT),
]


def history(aggregate_id: str, before: int) -> Sequence[Envelope]:
    return [e for e in HISTORY if e.aggregate_id == aggregate_id and e.position < before]


VERIFICATION = {
    "verification_id": "v1",
    "previous_status": "submitted",
    "risk_score": 80,
    "risk_level": "high",
    "factors": ["amount_above_p95"],
    "explanation": "x",
    "rule_set_version": "r",
    "inputs": {"secret": "kept out"},
}


@pytest.mark.parametrize(
    ("kind", "payload", "aggregate", "expected"),
    [
        ("claim.verification_recorded", {**VERIFICATION, "status": "verified"}, CLAIM, "claim.verified"),
        ("claim.verification_recorded", {**VERIFICATION, "status": "flagged"}, CLAIM, "claim.fraud_detected"),
        ("claim.verification_recorded", {**VERIFICATION, "status": "pending"}, CLAIM, None),
        ("claim.review_resolved", {"decision": "verified", "previous_status": "flagged"}, CLAIM, "claim.verified"),
        ("claim.review_resolved", {"decision": "rejected", "previous_status": "flagged"}, CLAIM, None),
        ("claim.submitted", {"partner_claim_id": "CLM-9"}, CLAIM, None),
        ("enrollment.kit_ordered", {"kit_order_date": "2026-01-11"}, ENROLLMENT, "enrollment.completed"),
        (
            "enrollment.sample_received",
            {"sample_received_date": "2026-01-20", "estimated_result_date": "2026-01-27"},
            ENROLLMENT,
            "sample.received",
        ),
        (
            "enrollment.result_delivered",
            {"result_delivery_date": "2026-01-27", "result_type": {"sealed": {"ct": "..."}}},
            ENROLLMENT,
            "result.delivered",
        ),
        ("enrollment.nps_recorded", {"score": 9, "kind": "overall"}, ENROLLMENT, None),
    ],
)
def test_mapping(kind: str, payload: dict[str, Any], aggregate: str, expected: str | None) -> None:
    """Each log type maps to its webhook (or to nothing) by type and status, never by other fields."""
    events = partner_events(envelope(kind, payload, 10, aggregate), LEAF, history)
    assert [e.type for e in events] == ([] if expected is None else [expected])


def test_payload_shape_and_privacy() -> None:
    """id/type/event/timestamp/data/ledger; result_type is null; the verification inputs stay out."""
    (result,) = partner_events(
        envelope(
            "enrollment.result_delivered",
            {"result_delivery_date": "2026-01-27", "result_type": {"sealed": {}}},
            10,
            ENROLLMENT,
        ),
        LEAF,
        history,
    )
    body = orjson.loads(result.body())
    assert set(body) == {"id", "type", "event", "timestamp", "data", "ledger"}
    assert body["type"] == body["event"] == "result.delivered"
    assert body["ledger"] == {"position": 10, "leafHash": LEAF.hex()}
    assert body["data"]["result_type"] is None
    assert body["data"]["partner_member_id"] == "12345678"
    assert body["data"]["counseling_scheduled"] is True
    (claim,) = partner_events(
        envelope("claim.verification_recorded", {**VERIFICATION, "status": "flagged"}, 10), LEAF, history
    )
    assert claim.data["partner_claim_id"] == "CLM-9"
    assert "inputs" not in claim.data


def test_message_ids_are_stable() -> None:
    """The same entry always yields the same message id (every retry and replay carries it)."""
    entry = envelope("claim.verification_recorded", {**VERIFICATION, "status": "verified"}, 10)
    first, second = partner_events(entry, LEAF, history), partner_events(entry, LEAF, history)
    assert first[0].message_id == second[0].message_id == "msg_" + uuid.UUID(entry.event_id).hex


def test_entries_of_no_partner_map_to_nothing() -> None:
    """Operations entries without a partner never become webhooks."""
    entry = envelope("claim.verification_recorded", {**VERIFICATION, "status": "verified"}, 10, partner=None)
    assert partner_events(entry, LEAF, history) == []


def test_proof_generated_and_alert() -> None:
    """A sealed verification yields proof.generated; a given-up delivery yields audit.alert pointing at it."""
    entry = envelope("claim.verification_recorded", {**VERIFICATION, "status": "verified"}, 10)
    proof = proof_generated(entry, LEAF, checkpoint_size=11, root_hash="ab" * 32, sealed_at="2026-01-15T14:30:01Z")
    assert proof is not None
    assert proof.type == "proof.generated"
    assert proof.data["checkpoint"] == {"size": 11, "rootHash": "ab" * 32}
    assert (
        proof_generated(envelope("claim.submitted", {}, 3), LEAF, checkpoint_size=4, root_hash="", sealed_at="") is None
    )
    alert = delivery_failed_alert(
        partner_id="p1",
        delivery_id=7,
        endpoint_id="ep",
        failed=proof.payload(),
        attempts=5,
        last_status=500,
        last_error="HTTP 500",
        at="2026-01-15T15:00:00Z",
    )
    assert alert.type == "audit.alert"
    assert alert.position == 10
    assert alert.data["message_id"] == proof.message_id
