"""``audit.alert`` for a rejected eligibility file travels the webhook path every partner event takes: the
projector maps the log entry into the outbox, the dispatcher signs and delivers it to the partner's endpoint."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from support.feeds import member_row, write_csv_file
from support.webhook_receiver import webhook_receiver

from adapters.feeds.processing import process_eligibility_file
from adapters.opening import open_ledger
from adapters.storage import StorageConfig, open_outbox
from adapters.webhook_targets import TargetPolicy
from adapters.workers.dispatcher import Dispatcher
from adapters.workers.projector import WebhookProjector
from adapters.workers.webhooks import secret_source
from api.security.secrets import load_deployment_secret

PARTNER = "alert_partner"


def test_rejected_file_alert_is_delivered(tmp_path: Path, database_url: str) -> None:
    """A file with a wrong header: one signed audit.alert naming the file, never its rows."""
    config = StorageConfig(tmp_path / "data", database_url)
    with webhook_receiver() as receiver:
        with open_ledger(config) as ledger:
            ledger.partners.register(partner_id=PARTNER, name="Alert", category="tpa", tier="sandbox", scopes=[])
            ledger.partners.add_webhook(PARTNER, "ep", url=receiver.url, event_types=["audit.alert"], secret_id="s_a")
            good = write_csv_file(tmp_path / "in", f"eligibility_{PARTNER}_20260115.csv", [member_row(1)])
            process_eligibility_file(ledger, PARTNER, good, tmp_path / "out")  # loads fine: no alert
            bad = tmp_path / "in" / f"eligibility_{PARTNER}_20260116.csv"
            bad.write_text("partner_member_id,email\npm1,quintessa.1@example.org\n", encoding="utf-8")
            process_eligibility_file(ledger, PARTNER, bad, tmp_path / "out")
        outbox = open_outbox(config)
        try:
            WebhookProjector(outbox).run_once()
            secrets = secret_source(load_deployment_secret(config.data_dir))
            asyncio.run(Dispatcher(outbox, secrets, targets=TargetPolicy(allow_private=True)).run_once())
        finally:
            outbox.close()
        (received,) = receiver.wait_count(1)
    body = json.loads(received.body)
    assert body["type"] == "audit.alert"
    assert body["data"]["alert"] == "eligibility_file_rejected"
    assert body["data"]["file_name"] == f"eligibility_{PARTNER}_20260116.csv"
    assert body["data"]["rejection"] == "header_mismatch"
    assert "quintessa" not in received.body.decode()
    assert received.headers["webhook-signature"].startswith("v1,")
