"""Webhooks end to end on both backends: an endpoint registered over HTTP with the SDK, a claim submitted,
the embedded projector and dispatcher deliver to a real loopback receiver, both signature schemes verify;
delivery logs, resend, replay, rotation and 410 through the API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import standardwebhooks
from support.http_server import LiveServer, claim_body, servers
from support.webhook_receiver import Received, Receiver, webhook_receiver

from api.client.ledger_client import LedgerApiError, LedgerClient
from api.client.webhooks import verify_webhook
from api.security.credentials import DEFAULT_SCOPES
from ledger_core.shared.vocabulary import WEBHOOK_EVENT_TYPES

CLAIM_EVENTS = {"claim.verified", "claim.fraud_detected"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per backend, with the retry schedule a thousand times faster."""
    yield from servers(request, tmp_path_factory, request.param, {"LEDGER_WEBHOOK_RETRY_SCALE": "0.001"})


def partner(server: LiveServer, scopes: tuple[str, ...] = (*DEFAULT_SCOPES, "webhooks:manage")) -> LedgerClient:
    return server.client(server.create_partner(f"p_{uuid.uuid4().hex[:10]}", scopes=scopes))


def submit(client: LedgerClient, reference: str) -> str:
    document = client.upload_document(b"photo " + uuid.uuid4().bytes, document_type="photo", media_type="image/jpeg")
    docs = [{"type": "photo", "hash": document.hash, "metadata": {}}]
    return str(client.submit_claim(claim_body(reference, docs)).claim_id)


def payloads(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


def has_claim_event(received: list[Received]) -> bool:
    return any(json.loads(r.body)["type"] in CLAIM_EVENTS for r in received)


def recorded(client: LedgerClient, endpoint: str) -> list[Any]:
    """The endpoint's deliveries once none is pending (the receipt is recorded just after the response)."""
    while True:
        page = client.list_webhook_deliveries(endpoint).data
        if page and all(d.status != "pending" for d in page):
            return page
        time.sleep(0.05)


def test_claim_webhook_arrives_signed_both_ways(server: LiveServer) -> None:
    """A claim's verification and its proof reach the receiver; standardwebhooks and our helper both verify."""
    client = partner(server)
    with webhook_receiver() as receiver:
        created = client.create_webhook_endpoint(receiver.url, sorted(WEBHOOK_EVENT_TYPES))
        assert created.secret.startswith("whsec_")
        claim_id = submit(client, "CLM-1")
        got = receiver.wait_for(
            lambda rs: has_claim_event(rs) and any(json.loads(r.body)["type"] == "proof.generated" for r in rs)
        )
    for received in got:
        theirs = standardwebhooks.Webhook(created.secret).verify(received.body, received.headers)
        assert theirs == verify_webhook(received.headers, received.body, created.secret)
        seed_only = {k: v for k, v in received.headers.items() if k.startswith("x-proveniq")}
        assert verify_webhook(seed_only, received.body, created.secret) == theirs
        assert received.headers["x-proveniq-event"] == theirs["type"] == theirs["event"]
        assert theirs["data"]["claim_id"] == claim_id
    listed = client.list_webhook_endpoints().data
    assert [e.endpoint_id for e in listed] == [created.endpoint.endpoint_id]
    assert "secret" not in json.dumps([e.url for e in listed])


def test_delivery_logs_resend_and_replay(server: LiveServer) -> None:
    """Deliveries are listed with their attempts; resend and replay send the same webhook-id again."""
    client = partner(server)
    with webhook_receiver() as receiver:
        endpoint = client.create_webhook_endpoint(receiver.url, sorted(CLAIM_EVENTS)).endpoint.endpoint_id
        submit(client, "CLM-1")
        receiver.wait_for(has_claim_event)
        (delivery,) = recorded(client, endpoint)
        assert delivery.status == "delivered"
        assert delivery.last_status_code == 200
        detail = client.get_webhook_delivery(endpoint, delivery.delivery_id)
        assert [a.status_code for a in detail.attempts] == [200]
        assert detail.attempts[0].latency_ms >= 0
        resent = client.resend_webhook_delivery(endpoint, delivery.delivery_id)
        assert resent.message_id == delivery.message_id
        assert resent.origin == "resend"
        replayed = client.replay_webhooks(endpoint, since_position=0)
        assert replayed.enqueued == 1
        got = receiver.wait_count(3)
    assert {r.headers["webhook-id"] for r in got} == {delivery.message_id}
    with pytest.raises(LedgerApiError) as missing:
        client.get_webhook_delivery(endpoint, 10**9)
    assert missing.value.code == "WEBHOOK_DELIVERY_NOT_FOUND"


def test_410_disables_the_endpoint(server: LiveServer) -> None:
    """An endpoint answering 410 is disabled, visibly in the API."""
    client = partner(server)
    with webhook_receiver(lambda _: (410, {})) as receiver:
        endpoint = client.create_webhook_endpoint(receiver.url, sorted(CLAIM_EVENTS)).endpoint.endpoint_id
        submit(client, "CLM-1")
        receiver.wait_count(1)
    view = client.get_webhook_endpoint(endpoint)
    while view.enabled:  # the log records the disabling right after the delivery is recorded
        view = client.get_webhook_endpoint(endpoint)
    assert view.disabled_reason is not None
    assert "410" in view.disabled_reason


def test_rotation_overlap_signs_with_both_secrets(server: LiveServer) -> None:
    """After rotating, deliveries verify with the old and the new secret during the overlap."""
    client = partner(server)
    with webhook_receiver() as receiver:
        created = client.create_webhook_endpoint(receiver.url, sorted(CLAIM_EVENTS))
        rotated = client.rotate_webhook_secret(created.endpoint.endpoint_id, overlap_seconds=3600)
        assert rotated.secret != created.secret
        assert rotated.endpoint.previous_secret_expires_at is not None
        submit(client, "CLM-1")
        (received,) = receiver.wait_for(has_claim_event)
    for secret in (created.secret, rotated.secret):
        standardwebhooks.Webhook(secret).verify(received.body, received.headers)
        verify_webhook(received.headers, received.body, secret)


def test_endpoint_management_needs_the_scope_and_validates(server: LiveServer) -> None:
    """Without webhooks:manage the API answers 403; bad event types are 400; update and delete work."""
    outsider = partner(server, scopes=DEFAULT_SCOPES)
    with pytest.raises(LedgerApiError) as forbidden:
        outsider.list_webhook_endpoints()
    assert forbidden.value.status == 403
    client = partner(server)
    with pytest.raises(LedgerApiError) as invalid:
        client.create_webhook_endpoint("https://example.com/hooks", ["claim.nonsense"])
    assert invalid.value.status == 400
    endpoint = client.create_webhook_endpoint("https://example.com/hooks", ["claim.verified"]).endpoint.endpoint_id
    updated = client.update_webhook_endpoint(endpoint, event_types=["audit.alert", "claim.verified"], enabled=False)
    assert updated.event_types == ["audit.alert", "claim.verified"]
    assert updated.enabled is False
    client.delete_webhook_endpoint(endpoint)
    with pytest.raises(LedgerApiError) as gone:
        client.get_webhook_endpoint(endpoint)
    assert gone.value.code == "WEBHOOK_ENDPOINT_NOT_FOUND"
