"""``ledger webhooks``: endpoints, delivery logs, resend, replay and status from the command line, on both
backends, against deliveries a real dispatcher made to a loopback receiver."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from support.webhook_receiver import webhook_receiver
from typer.testing import CliRunner

from adapters.opening import open_ledger
from adapters.storage import StorageConfig, open_outbox
from adapters.webhook_targets import TargetPolicy
from adapters.workers.dispatcher import Dispatcher
from adapters.workers.projector import WebhookProjector
from adapters.workers.webhooks import secret_source
from api.cli.main import app
from api.security.secrets import load_deployment_secret
from ledger_core.claims.submission import validate_submission

PARTNER = "cli_partner"


def deliver_one(config: StorageConfig, url: str) -> None:
    """A partner with one endpoint, one verified claim, projected and delivered."""
    with open_ledger(config) as ledger:
        ledger.partners.register(partner_id=PARTNER, name="Cli", category="tpa", tier="sandbox", scopes=[])
        ledger.partners.add_webhook(PARTNER, "ep", url=url, event_types=["claim.verified"], secret_id="s_cli")
        submission = validate_submission(
            partner_id=PARTNER,
            partner_claim_id="CLM-1",
            claim_type="auto",
            claim_amount="10.00",
            currency="USD",
            submitted_at="2026-01-15T12:00:00Z",
            documents=[{"type": "photo", "hash": "cd" * 32, "metadata": {}}],
            verification_level="standard",
        )
        claim = ledger.claims.submit(submission)
        ledger.claims.record_verification(
            claim.claim_id,
            status="verified",
            risk_score=1,
            risk_level="low",
            factors=[],
            explanation="ok",
            rule_set_version="t",
            inputs={},
        )
    outbox = open_outbox(config)
    try:
        WebhookProjector(outbox).run_once()
        secrets = secret_source(load_deployment_secret(config.data_dir))
        asyncio.run(Dispatcher(outbox, secrets, targets=TargetPolicy(allow_private=True)).run_once())
    finally:
        outbox.close()


def run(config: StorageConfig, *args: str) -> Any:
    options = ["--data-dir", str(config.data_dir)]
    if config.database_url is not None:
        options += ["--database-url", config.database_url]
    result = CliRunner().invoke(app, ["webhooks", *args, *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_delivery_logs_and_recovery_from_the_cli(tmp_path: Path, database_url: str) -> None:
    """deliveries/delivery show the attempt; resend and replay enqueue the same message; status counts."""
    config = StorageConfig(tmp_path / "data", database_url)
    with webhook_receiver() as receiver:
        deliver_one(config, receiver.url)
        receiver.wait_count(1)
    (endpoint,) = run(config, "endpoints", PARTNER)
    assert endpoint["endpoint_id"] == "ep"
    assert secret_source(load_deployment_secret(config.data_dir))("s_cli") not in json.dumps(endpoint)
    page = run(config, "deliveries", PARTNER, "ep")
    (delivery,) = page["data"]
    assert delivery["status"] == "delivered"
    detail = run(config, "delivery", PARTNER, "ep", str(delivery["delivery_id"]))
    assert [a["status_code"] for a in detail["attempts"]] == [200]
    resent = run(config, "resend", PARTNER, "ep", str(delivery["delivery_id"]))
    assert resent["message_id"] == delivery["message_id"]
    assert run(config, "replay", PARTNER, "ep", "--since-position", "0") == {"endpoint_id": "ep", "enqueued": 1}
    assert run(config, "replay", PARTNER, "ep", "--since", "2000-01-01T00:00:00Z")["enqueued"] == 1
    assert run(config, "status") == {"delivered": 1, "pending": 3}
