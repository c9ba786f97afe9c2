"""Webhook delivery on real storage (SQLite and PostgreSQL) to a real HTTP receiver on loopback: every event
type arrives signed and verifies with the third-party ``standardwebhooks`` package and with our helper;
failures follow the retry schedule, 410 disables the endpoint, rotation signs with both secrets."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
from support.clock import SteppingClock
from support.webhook_receiver import Received, Receiver, webhook_receiver

from adapters.files.signing_key import ensure_signing_key
from adapters.opening import open_ledger
from adapters.outbox import DELIVERED, FAILED, PENDING, DeliveryOrigin, OutboxStore
from adapters.storage import StorageConfig, open_outbox, open_tree_store
from adapters.webhook_targets import TargetPolicy
from adapters.workers.dispatcher import Dispatcher
from adapters.workers.projector import WebhookProjector
from api.client.webhooks import verify_webhook
from ledger_core.claims.submission import validate_submission
from ledger_core.engine.sealing import Sealer, SealPolicy
from ledger_core.ledger import Ledger
from ledger_core.members.member_record import EligibilityRecord
from ledger_core.shared.vocabulary import WEBHOOK_EVENT_TYPES
from ledger_core.webhooks.retry import RetryPolicy
from ledger_core.webhooks.signatures import derive_endpoint_secret

PARTNER = "acme_insurance"
PMID = "12345678"
DEPLOYMENT_SECRET = b"d" * 32
FAST = RetryPolicy(delays=(0.05, 0.1, 0.15, 0.2), jitter=0.0)


@dataclass
class Pipeline:
    ledger: Ledger
    outbox: OutboxStore
    projector: WebhookProjector
    dispatcher: Dispatcher
    config: StorageConfig
    gone: list[tuple[str, str, str]]

    def secret(self, secret_id: str) -> str:
        return derive_endpoint_secret(DEPLOYMENT_SECRET, secret_id)

    def pump(self) -> int:
        """Project everything, then send everything due now (and wait for the outcomes)."""
        self.projector.run_once()
        return asyncio.run(self.dispatcher.run_once())

    def pump_until(self, done: Any, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("pipeline did not reach the expected state")
            self.pump()
            time.sleep(0.02)


@pytest.fixture
def pipeline(tmp_path: Path, database_url: str) -> Iterator[Pipeline]:
    config = StorageConfig(tmp_path, database_url)
    clock = SteppingClock(datetime.now(UTC))  # rotation overlaps are compared with the wall clock
    with open_ledger(config, clock=clock) as ledger:
        outbox = open_outbox(config)
        gone: list[tuple[str, str, str]] = []

        def on_gone(partner: str, endpoint: str, reason: str) -> None:
            gone.append((partner, endpoint, reason))
            ledger.partners.disable_webhook(partner, endpoint, reason)

        dispatcher = Dispatcher(
            outbox,
            lambda secret_id: derive_endpoint_secret(DEPLOYMENT_SECRET, secret_id),
            policy=FAST,
            timeout=2.5,  # a loaded machine may answer a plain 500 in over a second: only the scripted -5 times out
            targets=TargetPolicy(allow_private=True),
            on_gone=on_gone,
        )
        try:
            yield Pipeline(ledger, outbox, WebhookProjector(outbox), dispatcher, config, gone)
        finally:
            outbox.close()


def register(ledger: Ledger, url: str, types: set[str] | frozenset[str], endpoint: str = "ep1") -> str:
    if not _registered(ledger):
        ledger.partners.register(
            partner_id=PARTNER, name="Acme", category="insurance_carrier", tier="sandbox", scopes=["webhooks:manage"]
        )
    ledger.partners.add_webhook(PARTNER, endpoint, url=url, event_types=sorted(types), secret_id=f"sec_{endpoint}")
    return f"sec_{endpoint}"


def _registered(ledger: Ledger) -> bool:
    from ledger_core.engine.aggregate import derive_id
    from ledger_core.partners.partner import Partner

    return ledger.app.find(Partner, derive_id("partner", PARTNER)) is not None


def claim(ledger: Ledger, reference: str, status: str) -> str:
    submission = validate_submission(
        partner_id=PARTNER,
        partner_claim_id=reference,
        claim_type="auto",
        claim_amount="1250.50",
        currency="USD",
        submitted_at="2026-01-15T12:00:00Z",
        documents=[{"type": "photo", "hash": "ab" * 32, "metadata": {}}],
        verification_level="standard",
    )
    result = ledger.claims.submit(submission)
    ledger.claims.record_verification(
        result.claim_id,
        status=status,
        risk_score=80 if status == "flagged" else 10,
        risk_level="high" if status == "flagged" else "low",
        factors=["amount_above_p95"] if status == "flagged" else [],
        explanation="test",
        rule_set_version="rules-test",
        inputs={},
    )
    return str(result.claim_id)


def member_journey(ledger: Ledger) -> None:
    ledger.members.upsert(
        PARTNER,
        EligibilityRecord(
            partner_member_id=PMID,
            email="m@example.org",
            first_name="Alex",
            last_name="Member",
            date_of_birth="1980-05-15",
            state="IA",
            policy_type="Health",
        ),
    )
    ledger.enrollments.enroll(PARTNER, PMID, "2026-01-10")
    ledger.enrollments.order_kit(PARTNER, PMID, "2026-01-11")
    ledger.enrollments.receive_sample(PARTNER, PMID, "2026-01-15", "2026-01-22")
    ledger.enrollments.deliver_result(PARTNER, PMID, "2026-01-22", "MZ")
    ledger.subscriptions.start(
        PARTNER, PMID, start_date="2026-02-01", amount="50.00", currency="USD", frequency="annual"
    )
    ledger.subscriptions.cancel(PARTNER, PMID, cancellation_date="2026-05-15", reason="No longer interested")


def seal(config: StorageConfig) -> None:
    store = open_tree_store(config)
    try:
        Sealer(store, ensure_signing_key(config.data_dir), SteppingClock(), policy=SealPolicy()).seal_all()
    finally:
        store.close()


def verified(received: Received, secret: str) -> dict[str, Any]:
    """Verify with the third-party package and with ours; both must agree on the payload."""
    theirs = standardwebhooks.Webhook(secret).verify(received.body, received.headers)
    ours = verify_webhook(received.headers, received.body, secret)
    assert theirs == ours
    return ours


def types_received(receiver: Receiver) -> list[str]:
    return [json.loads(r.body)["type"] for r in receiver.received]


def test_every_event_type_is_delivered_signed_and_verifies(pipeline: Pipeline) -> None:
    """All nine event types reach a loopback receiver; both signature schemes verify; privacy holds."""
    failing_secret = "sec_failing"
    with webhook_receiver() as receiver, webhook_receiver(lambda _: (500, {})) as failing:
        secret_id = register(pipeline.ledger, receiver.url, WEBHOOK_EVENT_TYPES)
        pipeline.ledger.partners.add_webhook(
            PARTNER, "failing", url=failing.url, event_types=["claim.verified"], secret_id=failing_secret
        )
        verified_claim = claim(pipeline.ledger, "CLM-1", "verified")
        claim(pipeline.ledger, "CLM-2", "flagged")
        member_journey(pipeline.ledger)
        seal(pipeline.config)
        pipeline.pump_until(lambda: set(types_received(receiver)) >= WEBHOOK_EVENT_TYPES)

    secret = pipeline.secret(secret_id)
    payloads: dict[str, dict[str, Any]] = {}
    for received in receiver.received:
        payload = verified(received, secret)
        assert payload["event"] == payload["type"] == received.headers["x-proveniq-event"]
        assert received.headers["webhook-id"] == payload["id"]
        assert set(payload) == {"id", "type", "event", "timestamp", "data", "ledger"}
        payloads.setdefault(payload["type"], payload)
    assert payloads["claim.verified"]["data"]["claim_id"] == verified_claim
    assert payloads["claim.verified"]["data"]["partner_claim_id"] == "CLM-1"
    assert payloads["claim.fraud_detected"]["data"]["partner_claim_id"] == "CLM-2"
    assert payloads["result.delivered"]["data"]["result_type"] is None
    assert "MZ" not in json.dumps(payloads)
    assert payloads["enrollment.completed"]["data"]["partner_member_id"] == PMID
    assert payloads["subscription.started"]["data"]["subscription_amount"] == 50.0
    assert payloads["subscription.cancelled"]["data"]["cancellation_reason"] == "No longer interested"
    assert payloads["audit.alert"]["data"]["endpoint_id"] == "failing"
    position = payloads["claim.verified"]["ledger"]["position"]
    assert (
        payloads["claim.verified"]["ledger"]["leafHash"]
        == pipeline.ledger.app.log_reader.read_rows(position, 1)[0].leaf_hash.hex()
    )
    proofs = [p for p in (json.loads(r.body) for r in receiver.received) if p["type"] == "proof.generated"]
    assert {p["data"]["claim_id"] for p in proofs} >= {verified_claim}


def test_failures_follow_the_retry_schedule_then_give_up(pipeline: Pipeline) -> None:
    """500s are retried after the scheduled waits; after five attempts the delivery fails."""
    with webhook_receiver(lambda _: (500, {})) as receiver:
        register(pipeline.ledger, receiver.url, {"claim.verified"})
        claim(pipeline.ledger, "CLM-1", "verified")
        pipeline.pump_until(lambda: _statuses(pipeline, "ep1") == [FAILED])
    assert len(receiver.received) == FAST.max_attempts
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    with pipeline.outbox.transaction() as tx:
        (delivery,) = tx.list_deliveries(PARTNER, "ep1", limit=10, starting_after=None, status=None)
        attempts = tx.attempts(delivery.delivery_id)
    assert [a.status_code for a in attempts] == [500] * FAST.max_attempts
    gaps = [later.started_at - earlier.started_at for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= delay for gap, delay in zip(gaps, FAST.delays, strict=True))


def test_timeouts_are_retried(pipeline: Pipeline) -> None:
    """A receiver slower than the timeout counts as a failure and gets the next attempt."""
    calls: list[int] = []

    def slow_then_ok(_: Received) -> tuple[int, dict[str, str]]:
        calls.append(1)
        return (-5, {}) if len(calls) == 1 else (200, {})

    with webhook_receiver(slow_then_ok) as receiver:
        register(pipeline.ledger, receiver.url, {"claim.verified"})
        claim(pipeline.ledger, "CLM-1", "verified")
        pipeline.pump_until(lambda: _statuses(pipeline, "ep1") == [DELIVERED])
    with pipeline.outbox.transaction() as tx:
        (delivery,) = tx.list_deliveries(PARTNER, "ep1", limit=10, starting_after=None, status=None)
        attempts = tx.attempts(delivery.delivery_id)
    assert attempts[0].status_code is None
    assert "timeout" in (attempts[0].error or "")
    assert attempts[-1].status_code == 200


def test_retry_after_is_honoured(pipeline: Pipeline) -> None:
    """A 503 with Retry-After schedules the next attempt no earlier than it says."""
    with webhook_receiver(lambda _: (503, {"Retry-After": "30"})) as receiver:
        register(pipeline.ledger, receiver.url, {"claim.verified"})
        claim(pipeline.ledger, "CLM-1", "verified")
        pipeline.pump_until(lambda: len(receiver.received) >= 1)
    with pipeline.outbox.transaction() as tx:
        (delivery,) = tx.list_deliveries(PARTNER, "ep1", limit=10, starting_after=None, status=None)
        attempts = tx.attempts(delivery.delivery_id)
    assert delivery.status == PENDING
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at >= attempts[0].started_at + 30


def test_410_disables_the_endpoint(pipeline: Pipeline) -> None:
    """410 Gone fails the delivery, disables the endpoint in the outbox and in the log, and stops sending."""
    with webhook_receiver(lambda _: (410, {})) as receiver:
        register(pipeline.ledger, receiver.url, {"claim.verified"})
        claim(pipeline.ledger, "CLM-1", "verified")
        pipeline.pump_until(lambda: _statuses(pipeline, "ep1") == [FAILED])
        claim(pipeline.ledger, "CLM-2", "verified")
        pipeline.pump()
        pipeline.pump()
    assert len(receiver.received) == 1
    assert pipeline.gone == [(PARTNER, "ep1", "410 Gone from the endpoint")]
    assert pipeline.ledger.partners.get(PARTNER).webhooks["ep1"].enabled is False
    assert _statuses(pipeline, "ep1") == [PENDING, FAILED]  # the next waits until the endpoint is enabled


def test_rotation_signs_with_both_secrets_during_the_overlap(pipeline: Pipeline) -> None:
    """After a rotation both secrets verify until the overlap ends; then only the new one."""
    with webhook_receiver() as receiver:
        old_id = register(pipeline.ledger, receiver.url, {"claim.verified"})
        pipeline.ledger.partners.rotate_webhook_secret(PARTNER, "ep1", "sec_new", timedelta(hours=24))
        claim(pipeline.ledger, "CLM-1", "verified")
        pipeline.pump_until(lambda: len(receiver.received) == 1)
        pipeline.ledger.partners.rotate_webhook_secret(PARTNER, "ep1", "sec_newer", timedelta(0))
        claim(pipeline.ledger, "CLM-2", "verified")
        pipeline.pump_until(lambda: len(receiver.received) == 2)
    during, after = receiver.received
    assert len(during.headers["webhook-signature"].split()) == 2
    verified(during, pipeline.secret(old_id))
    verified(during, pipeline.secret("sec_new"))
    verified(after, pipeline.secret("sec_newer"))
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(pipeline.secret("sec_new")).verify(after.body, after.headers)


def test_resend_and_replay_carry_the_same_webhook_id(pipeline: Pipeline) -> None:
    """Resending a delivery and replaying from a position send the same message id again."""
    with webhook_receiver() as receiver:
        register(pipeline.ledger, receiver.url, {"claim.verified"})
        claim(pipeline.ledger, "CLM-1", "verified")
        pipeline.pump_until(lambda: len(receiver.received) == 1)
        with pipeline.outbox.transaction() as tx:
            (delivery,) = tx.list_deliveries(PARTNER, "ep1", limit=10, starting_after=None, status=None)
            tx.add_delivery(delivery.message_id, PARTNER, "ep1", time.time(), DeliveryOrigin.RESEND)
            for message_id in tx.replay_messages(PARTNER, ["claim.verified"], since_position=0, since_time=None):
                tx.add_delivery(message_id, PARTNER, "ep1", time.time(), DeliveryOrigin.REPLAY)
        pipeline.pump_until(lambda: len(receiver.received) == 3)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert [r.body for r in receiver.received] == [receiver.received[0].body] * 3


def _statuses(pipeline: Pipeline, endpoint: str) -> list[str]:
    with pipeline.outbox.transaction() as tx:
        return [d.status for d in tx.list_deliveries(PARTNER, endpoint, limit=100, starting_after=None, status=None)]
