"""Opening the webhook outbox for a server process, and the embedded projector + dispatcher threads.

The embedded default (``settings.webhooks.embedded``, SQLite or PostgreSQL) runs both loops in the server
process, like the embedded sealer; a 410 from an endpoint is recorded in the log as ``partner.webhook_disabled``
through the ledger this process holds. Deployments that run ``ledger webhooks run`` processes turn
``settings.webhooks.embedded`` off; the server then only reads the outbox (delivery logs, resend, replay).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from adapters.outbox import OutboxStore
from adapters.storage import open_outbox
from adapters.workers.webhooks import build_worker
from api.settings import Settings
from ledger_core.ledger import Ledger
from ledger_core.webhooks.retry import RetryPolicy

logger = logging.getLogger("api.webhooks")


def _report(event: dict[str, Any]) -> None:
    level = logging.WARNING if event.get("event") in {"error", "failed", "gone", "refused"} else logging.INFO
    logger.log(level, "webhooks %s", event.get("event"), extra={"webhooks": event})


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy().scaled(settings.webhooks.retry_scale)


def open_webhooks(
    settings: Settings, ledger: Ledger, deployment_secret: bytes, closers: list[Callable[[], Any]]
) -> OutboxStore:
    """The outbox (closed by ``closers``), with the embedded worker started when the settings ask for it."""
    outbox = open_outbox(settings.storage.config)
    closers.append(outbox.close)
    allow_private, why = settings.webhook_target_rule
    logger.info(
        "webhook targets: %s (%s)",
        "http and private/loopback addresses ALLOWED" if allow_private else "https to public addresses only",
        why,
    )
    if settings.webhooks.embedded:

        def on_gone(partner_id: str, endpoint_id: str, reason: str) -> None:
            ledger.partners.disable_webhook(partner_id, endpoint_id, reason)

        worker = build_worker(
            outbox,
            deployment_secret,
            policy=retry_policy(settings),
            timeout=settings.webhooks.timeout_seconds,
            max_in_flight=settings.webhooks.max_in_flight,
            allow_private=settings.webhooks_may_target_private,
            on_gone=on_gone,
            report=_report,
            http_client=settings.webhooks.http_client,
            ca_file=settings.webhooks.ca_file,
        )
        worker.start()
        closers.append(worker.stop)
    return outbox
