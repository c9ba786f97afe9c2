"""``ledger webhooks``: run the projector and dispatcher as a process, read delivery logs, resend, replay.

* ``run``: the projector and/or the dispatcher in the foreground until SIGTERM/SIGINT (PostgreSQL
  deployments run one or more of these with ``LEDGER_EMBEDDED_WEBHOOKS=0`` on the API servers; any
  number of dispatchers are safe together, ``FOR UPDATE SKIP LOCKED``).
* ``endpoints PARTNER``, ``deliveries PARTNER ENDPOINT``, ``delivery PARTNER ENDPOINT ID`` (with
  attempts), ``resend PARTNER ENDPOINT ID``, ``replay PARTNER ENDPOINT --since-position N | --since T``,
  ``status`` (deliveries per status). Output is JSON. ``register(app)`` adds the group.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.key_sources import require_keys_apart
from adapters.opening import open_ledger
from adapters.storage import DEFAULT_DATA_DIR, open_outbox
from adapters.webhook_management import WebhookManager
from adapters.workers.webhooks import build_worker
from api.cli.options import DatabaseUrl, DataDir, existing
from api.security.secrets import load_deployment_secret
from ledger_core.ledger import Ledger
from ledger_core.shared.validation import parse_timestamp
from ledger_core.webhooks.retry import RetryPolicy

webhooks_app = typer.Typer(no_args_is_help=True, help="Webhook delivery: run it, inspect it, recover it.")


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


@contextmanager
def _manager(data_dir: Path, database_url: str | None) -> Iterator[WebhookManager]:
    config = existing(data_dir, database_url)
    with open_ledger(config) as ledger:
        outbox = open_outbox(config)
        try:
            yield WebhookManager(ledger.partners, outbox, load_deployment_secret(data_dir), allow_private=True)
        finally:
            outbox.close()


def _report(event: dict[str, Any]) -> None:
    typer.echo(json.dumps(event, default=str), err=True)


@webhooks_app.command("run")
def run(
    project: Annotated[bool, typer.Option("--project/--no-project", help="Run the projector.")] = True,
    dispatch: Annotated[bool, typer.Option("--dispatch/--no-dispatch", help="Run the dispatcher.")] = True,
    retry_scale: Annotated[
        float, typer.Option(envvar="LEDGER_WEBHOOK_RETRY_SCALE", help="Multiplies the retry schedule.")
    ] = 1.0,
    timeout: Annotated[float, typer.Option(envvar="LEDGER_WEBHOOK_TIMEOUT_SECONDS", help="Per attempt, s.")] = 30.0,
    max_in_flight: Annotated[int, typer.Option(envvar="LEDGER_WEBHOOK_MAX_IN_FLIGHT")] = 256,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="Log entries per projector transaction.")] = 256,
    http_client: Annotated[
        str, typer.Option(envvar="LEDGER_WEBHOOK_HTTP_CLIENT", help="aiohttp (default) or httpx.")
    ] = "aiohttp",
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private/--no-allow-private",
            envvar="LEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS",
            help="Send to http and private/loopback addresses.",
        ),
    ] = False,
    ca_file: Annotated[
        str | None,
        typer.Option(envvar="LEDGER_WEBHOOK_CA_FILE", help="PEM trust anchors for targets instead of the system's."),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the webhook projector and/or dispatcher until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    config = existing(data_dir, database_url)
    require_keys_apart(config, None, signs=False)  # PostgreSQL: the master key is named, not the data dir's
    ledger: Ledger = open_ledger(config)
    outbox = open_outbox(config)

    def on_gone(partner_id: str, endpoint_id: str, reason: str) -> None:
        ledger.partners.disable_webhook(partner_id, endpoint_id, reason)

    def close() -> None:
        outbox.close()
        ledger.close()

    worker = build_worker(
        outbox,
        load_deployment_secret(data_dir),
        project=project,
        dispatch=dispatch,
        policy=RetryPolicy().scaled(retry_scale),
        timeout=timeout,
        max_in_flight=max_in_flight,
        allow_private=allow_private,
        on_gone=on_gone,
        report=_report,
        batch=batch,
        http_client=http_client,
        ca_file=ca_file,
    )
    worker.on_stopped = close
    _report({"event": "started", "project": project, "dispatch": dispatch})
    worker.run_until_signalled()


@webhooks_app.command("endpoints")
def endpoints(partner_id: str, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """List a partner's endpoints (never their secrets)."""
    with _manager(data_dir, database_url) as manager:
        _echo([asdict(endpoint) for endpoint in manager.endpoints(partner_id)])


@webhooks_app.command("deliveries")
def deliveries(
    partner_id: str,
    endpoint_id: str,
    status: Annotated[str | None, typer.Option(help="pending, delivered, failed or cancelled.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """An endpoint's deliveries, newest first."""
    with _manager(data_dir, database_url) as manager:
        rows, more = manager.deliveries(partner_id, endpoint_id, limit=limit, starting_after=None, status=status)
        _echo({"data": [asdict(row) for row in rows], "has_more": more})


@webhooks_app.command("delivery")
def delivery(
    partner_id: str,
    endpoint_id: str,
    delivery_id: int,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """One delivery and its attempts (status code, latency, error)."""
    with _manager(data_dir, database_url) as manager:
        record, attempts = manager.delivery(partner_id, endpoint_id, delivery_id)
        _echo({"delivery": asdict(record), "attempts": [asdict(a) for a in attempts]})


@webhooks_app.command("resend")
def resend(
    partner_id: str,
    endpoint_id: str,
    delivery_id: int,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Send one delivery's message again (same webhook-id), due now."""
    with _manager(data_dir, database_url) as manager:
        _echo(asdict(manager.resend(partner_id, endpoint_id, delivery_id)))


@webhooks_app.command("replay")
def replay(
    partner_id: str,
    endpoint_id: str,
    since_position: Annotated[int | None, typer.Option("--since-position", min=0)] = None,
    since: Annotated[str | None, typer.Option("--since", help="RFC 3339 time.")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Deliver again everything the endpoint subscribes to, from a log position or a time."""
    since_time = None if since is None else parse_timestamp(since, "since").timestamp()
    with _manager(data_dir, database_url) as manager:
        count = manager.replay(partner_id, endpoint_id, since_position=since_position, since_time=since_time)
        _echo({"endpoint_id": endpoint_id, "enqueued": count})


@webhooks_app.command("status")
def status(data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Deliveries per status, across all partners."""
    outbox = open_outbox(existing(data_dir, database_url))
    try:
        _echo(outbox.counts())
    finally:
        outbox.close()


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app, name="webhooks")


if __name__ == "__main__":
    webhooks_app()
