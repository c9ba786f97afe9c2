"""A flagged claim raises the webhook (seed 000 §3.3 ``claim.fraud_detected``), and a review ``claim.verified``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.http_server import LiveServer, claim_body, servers
from support.webhook_receiver import Received, webhook_receiver

from api.client.ledger_client import LedgerClient
from api.client.webhooks import verify_webhook
from api.security.credentials import DEFAULT_SCOPES


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per backend, webhook retries a thousand times faster."""
    yield from servers(request, tmp_path_factory, request.param, {"LEDGER_WEBHOOK_RETRY_SCALE": "0.001"})


def partner(server: LiveServer, *scopes: str) -> tuple[str, LedgerClient]:
    partner_id = f"p_{uuid.uuid4().hex[:10]}"
    return partner_id, server.client(server.create_partner(partner_id, scopes=(*DEFAULT_SCOPES, *scopes)))


def photo(client: LedgerClient, content: bytes) -> dict[str, Any]:
    document = client.upload_document(content, document_type="photo", media_type="image/jpeg")
    return {"type": "photo", "hash": document.hash, "metadata": {}}


def events_of(received: list[Received], secret: str) -> list[dict[str, Any]]:
    return [verify_webhook(r.headers, r.body, secret) for r in received]


def test_flagged_claim_raises_fraud_detected_and_the_review_raises_verified(server: LiveServer) -> None:
    """Document reuse flags an enhanced claim: claim.fraud_detected with the risk; the reviewer's verdict follows."""
    _, honest = partner(server)
    partner_id, reusing = partner(server, "webhooks:manage")
    operator = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    content = b"the same dented door " + uuid.uuid4().bytes
    honest.submit_claim({**claim_body("H-1", [photo(honest, content)]), "verificationLevel": "enhanced"})
    with webhook_receiver() as receiver:
        endpoint = reusing.create_webhook_endpoint(receiver.url, ["claim.fraud_detected", "claim.verified"])
        flagged = reusing.submit_claim(
            {**claim_body("F-1", [photo(reusing, content)]), "verificationLevel": "enhanced"}
        )
        assert flagged.status == "flagged"
        got = receiver.wait_for(lambda rs: any(json.loads(r.body)["type"] == "claim.fraud_detected" for r in rs))
        [fraud] = [e for e in events_of(got, endpoint.secret) if e["type"] == "claim.fraud_detected"]
        assert fraud["data"]["claim_id"] == flagged.claim_id
        assert fraud["data"]["status"] == "flagged"
        assert fraud["data"]["risk_level"] == "high"
        assert fraud["data"]["factors"] == ["document_reused"]

        operator.review_claim(partner_id, flagged.claim_id, decision="verified", notes="same car, second incident")
        got = receiver.wait_for(lambda rs: any(json.loads(r.body)["type"] == "claim.verified" for r in rs))
        [verified] = [e for e in events_of(got, endpoint.secret) if e["type"] == "claim.verified"]
        assert verified["data"]["claim_id"] == flagged.claim_id
        assert verified["data"]["status"] == "verified"
        assert verified["data"]["review"] is True
