"""Operations changes raise the partner's webhooks (seed 001 §4.3), and no webhook carries a result or personal
plaintext: every byte each delivery brought is searched."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from support.http_server import LiveServer, servers
from support.webhook_receiver import Received, webhook_receiver

from api.client.webhooks import verify_webhook

SCOPES = ("eligibility:write", "enrollments:read", "webhooks:manage")
EVENTS = [
    "enrollment.completed",
    "sample.received",
    "result.delivered",
    "subscription.started",
    "subscription.cancelled",
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from servers(request, tmp_path_factory, request.param, {"LEDGER_WEBHOOK_RETRY_SCALE": "0.001"})


def test_each_operations_change_raises_its_webhook_without_results_or_plaintext(server: LiveServer) -> None:
    """Kit, sample, result and subscription changes arrive as the seed's five events; result_type is null."""
    partner_id = f"p_{uuid.uuid4().hex[:10]}"
    client = server.client(server.create_partner(partner_id, scopes=SCOPES))
    ops = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    client.upsert_member(
        {
            "partner_member_id": "w-1",
            "email": "philippa.marchbanks@webhooks.example",
            "first_name": "Philippa",
            "last_name": "Marchbanks",
            "date_of_birth": "1966-04-01",
            "state": "IA",
            "policy_type": "Life",
        }
    )
    with webhook_receiver() as receiver:
        endpoint = client.create_webhook_endpoint(receiver.url, EVENTS)
        ops.record_enrollment(partner_id, "w-1", "2026-01-15")
        ops.record_kit_order(partner_id, "w-1", "2026-01-15")
        ops.record_sample(partner_id, "w-1", "2026-01-20", "2026-01-27")
        ops.record_result(partner_id, "w-1", "2026-01-27", "ZZ")
        ops.schedule_counseling(partner_id, "w-1", "2026-01-29T15:00:00Z")
        ops.record_action(partner_id, "w-1", "smoking_cessation")
        ops.start_subscription(partner_id, "w-1", "2026-02-01", "50.00")
        ops.cancel_subscription(partner_id, "w-1", "2026-05-15", "No longer interested")

        def complete(received: list[Received]) -> bool:
            return {json.loads(r.body)["type"] for r in received} >= set(EVENTS)

        received = receiver.wait_for(complete)
    events = {event["type"]: event for event in (verify_webhook(r.headers, r.body, endpoint.secret) for r in received)}
    assert set(events) == set(EVENTS)
    assert {event["data"]["partner_member_id"] for event in events.values()} == {"w-1"}
    result = events["result.delivered"]["data"]
    assert result["result_type"] is None
    assert result["result_delivery_date"] == "2026-01-27"
    assert events["sample.received"]["data"]["estimated_result_date"] == "2026-01-27"
    assert events["subscription.cancelled"]["data"]["cancellation_date"] == "2026-05-15"

    everything = b"\n".join(r.body + json.dumps(r.headers).encode() for r in received)
    for needle in (b"Philippa", b"Marchbanks", b"1966-04-01", b"webhooks.example", b'"ZZ"', b'"smoking_cessation"'):
        assert needle not in everything, needle
