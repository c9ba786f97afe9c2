"""Crash safety of webhook delivery, with real processes (``python -m api.cli.webhooks run``) on both backends:
SIGKILL the dispatcher mid-delivery or the projector mid-batch, restart, and every event is delivered at
least once, none is lost, duplicates carry the same webhook-id and body, and enqueueing was exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import standardwebhooks
from support.webhook_receiver import Received, webhook_receiver

from adapters.opening import open_ledger
from adapters.storage import StorageConfig, open_outbox
from adapters.workers.projector import LOG_TRACKING
from api.security.secrets import load_deployment_secret
from ledger_core.claims.submission import validate_submission
from ledger_core.ledger import Ledger
from ledger_core.webhooks.signatures import derive_endpoint_secret

PARTNER = "crash_partner"
CLAIMS = 120


def write_claims(ledger: Ledger, count: int) -> None:
    for number in range(count):
        submission = validate_submission(
            partner_id=PARTNER,
            partner_claim_id=f"CLM-{number}",
            claim_type="auto",
            claim_amount="100.00",
            currency="USD",
            submitted_at="2026-01-15T12:00:00Z",
            documents=[{"type": "photo", "hash": f"{number:064x}", "metadata": {}}],
            verification_level="standard",
        )
        claim = ledger.claims.submit(submission)
        ledger.claims.record_verification(
            claim.claim_id,
            status="verified",
            risk_score=5,
            risk_level="low",
            factors=[],
            explanation="ok",
            rule_set_version="test",
            inputs={},
        )


def setup_ledger(config: StorageConfig, url: str) -> str:
    with open_ledger(config) as ledger:
        ledger.partners.register(
            partner_id=PARTNER, name="Crash", category="insurance_carrier", tier="sandbox", scopes=["webhooks:manage"]
        )
        ledger.partners.add_webhook(PARTNER, "ep", url=url, event_types=["claim.verified"], secret_id="sec_crash")
        write_claims(ledger, CLAIMS)
    return derive_endpoint_secret(load_deployment_secret(config.data_dir), "sec_crash")


@contextmanager
def worker(config: StorageConfig, *args: str) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["LEDGER_DATA_DIR"] = str(config.data_dir)
    env["LEDGER_WEBHOOK_RETRY_SCALE"] = "0.01"  # a retry, should one be needed, after 0.6 s instead of 1 min
    if config.database_url is not None:
        env["LEDGER_DATABASE_URL"] = config.database_url
        env["LEDGER_MASTER_KEY_FILE"] = str(config.data_dir / "master.key")  # PostgreSQL: the key is named
    command = [sys.executable, "-m", "api.cli.webhooks", "run", "--allow-private", "--timeout", "1", *args]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def expected_ids(config: StorageConfig) -> set[str]:
    outbox = open_outbox(config)
    try:
        with outbox.transaction() as tx:
            return {row[0] for row in tx.execute("SELECT message_id FROM webhook_messages")}
    finally:
        outbox.close()


def check_at_least_once(received: list[Received], expected: set[str], secret: str) -> None:
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for item in received:
        standardwebhooks.Webhook(secret).verify(item.body, item.headers)
        bodies[item.headers["webhook-id"]].add(item.body)
        assert json.loads(item.body)["id"] == item.headers["webhook-id"]
    assert set(bodies) == expected
    assert all(len(variants) == 1 for variants in bodies.values())


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> StorageConfig:
    return StorageConfig(tmp_path / "data", database_url)


def slow(_: Received) -> tuple[int, dict[str, str]]:
    time.sleep(0.05)
    return 200, {}


def test_dispatcher_killed_mid_delivery_loses_nothing(config: StorageConfig) -> None:
    """SIGKILL while deliveries are in flight; after a restart every message arrived, repeats identical."""
    with webhook_receiver(slow) as receiver:
        secret = setup_ledger(config, receiver.url)
        with worker(config, "--max-in-flight", "8") as first:
            receiver.wait_count(10)
            first.send_signal(signal.SIGKILL)
            first.wait()
        killed_at = len(receiver.received)
        assert killed_at < CLAIMS  # it really was interrupted
        expected = expected_ids(config)
        assert len(expected) == CLAIMS
        with worker(config):
            got = receiver.wait_for(lambda rs: {r.headers["webhook-id"] for r in rs} >= expected, timeout=120)
    check_at_least_once(got, expected, secret)


def test_projector_killed_mid_batch_enqueues_exactly_once(config: StorageConfig) -> None:
    """SIGKILL the projector between batches or inside one; after a restart each message is enqueued once."""
    with webhook_receiver() as receiver:
        secret = setup_ledger(config, receiver.url)
        outbox = open_outbox(config)
        try:
            with worker(config, "--no-dispatch", "--batch", "7") as first:
                while True:
                    with outbox.transaction() as tx:
                        position = tx.lock_tracking(LOG_TRACKING)
                    if position > 0:
                        break
                    time.sleep(0.005)
                first.send_signal(signal.SIGKILL)
                first.wait()
            with worker(config, "--batch", "7"):
                got = receiver.wait_count(CLAIMS, timeout=120)
            with outbox.transaction() as tx:
                per_message = tx.execute(
                    "SELECT message_id, COUNT(*) FROM webhook_deliveries WHERE origin = 'event' GROUP BY message_id"
                )
        finally:
            outbox.close()
    assert len(per_message) == CLAIMS
    assert {count for _, count in per_message} == {1}
    check_at_least_once(got, {message for message, _ in per_message}, secret)


def test_two_dispatcher_processes_never_send_the_same_delivery(config: StorageConfig) -> None:
    """Two dispatchers on one outbox split the work: each delivery is leased by one, sent once."""
    with webhook_receiver(slow) as receiver:
        secret = setup_ledger(config, receiver.url)
        with worker(config, "--no-dispatch"), worker(config, "--no-project"), worker(config, "--no-project"):
            got = receiver.wait_count(CLAIMS, timeout=120)
            time.sleep(0.5)  # give a wrongly repeated delivery the chance to show up
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == CLAIMS
    check_at_least_once(got, set(ids), secret)
