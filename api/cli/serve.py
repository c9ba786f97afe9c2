"""``ledger serve``: the HTTP API on uvicorn (``register(app)`` adds it to the ``ledger`` command line).

Options override the ``LEDGER_*`` environment (see :class:`api.settings.Settings`). ``--sandbox``
creates a sandbox partner named ``sandbox`` the first time (printing its credentials once, as JSON on
stdout, before the server starts); ``make serve`` uses it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from adapters.key_sources import require_keys_apart
from adapters.opening import check_master_key_at_start, check_not_rolled_back_at_start, open_ledger
from adapters.storage import check_reachable
from api.security.credentials import CredentialService
from api.security.secrets import load_deployment_secret
from api.settings import Settings
from ledger_core.engine.errors import NotFound
from ledger_core.shared.vocabulary import SCOPES

SANDBOX_PARTNER = "sandbox"


def ensure_sandbox_partner(settings: Settings) -> dict[str, object] | None:
    """Create the ``sandbox`` partner if missing; its credentials (shown once), or None if it existed.

    The sandbox holds every partner scope (claims, documents, audit, eligibility, enrollments, outcomes,
    reminders, webhooks), so a developer can try the whole partner API; never the operations scope."""
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    with open_ledger(settings.storage.config) as ledger:
        try:
            ledger.partners.get(SANDBOX_PARTNER)
            return None
        except NotFound:
            pass
        service = CredentialService(ledger, load_deployment_secret(settings.storage.data_dir))
        credentials = service.create_partner(
            SANDBOX_PARTNER, "Sandbox partner", tier="sandbox", category="claims_software", scopes=sorted(SCOPES)
        )
    return {
        **credentials.to_json(),
        "note": "shown once: store these now, the ledger keeps only hashes;"
        f" lost them? `ledger partners rotate-secret {SANDBOX_PARTNER}` issues new ones",
    }


def serve(
    data_dir: Annotated[Path | None, typer.Option("--data-dir", envvar="LEDGER_DATA_DIR")] = None,
    database_url: Annotated[str | None, typer.Option("--database-url", envvar="LEDGER_DATABASE_URL")] = None,
    redis_url: Annotated[str | None, typer.Option("--redis-url", envvar="LEDGER_REDIS_URL")] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes (>1 needs --redis-url).")] = 1,
    embedded_sealer: Annotated[
        bool, typer.Option("--embedded-sealer/--no-embedded-sealer", help="Seal in-process (else: ledger sealer).")
    ] = True,
    sandbox: Annotated[bool, typer.Option("--sandbox", help="Create a sandbox partner on first start.")] = False,
) -> None:
    """Run the HTTP API (claims, documents, audit, OAuth) until SIGINT/SIGTERM."""
    from api.server import serve as run_server  # the web stack loads only for this command

    settings = Settings.from_env()
    settings = replace(
        settings,
        storage=replace(
            settings.storage,
            data_dir=data_dir or settings.storage.data_dir,
            database_url=database_url or settings.storage.database_url,
            redis_url=redis_url or settings.storage.redis_url,
        ),
        sealing=replace(settings.sealing, embedded=embedded_sealer and settings.sealing.embedded),
    )
    check_reachable(settings.storage.config)  # PostgreSQL down: one line and exit 3, not a startup traceback
    # PostgreSQL: the keys come from a secret store, never by default from the data directory (exit 2)
    require_keys_apart(settings.storage.config, settings.security.signing_key, signs=settings.sealing.embedded)
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    check_master_key_at_start(settings.storage.config)  # the wrong master key: MASTER_KEY_MISMATCH, exit 2
    # a database older than the checkpoint last published (kept beside the signing key): refuse, exit 5
    check_not_rolled_back_at_start(settings.storage.config, settings.security.signing_key)
    if sandbox:
        created = ensure_sandbox_partner(settings)
        if created is not None:
            typer.echo(json.dumps(created, indent=2))
        else:
            where = f"--data-dir {settings.storage.data_dir}"
            typer.echo(
                f"sandbox partner {SANDBOX_PARTNER!r} exists (its credentials were printed at first start);"
                f" lost them? run `ledger partners rotate-secret {SANDBOX_PARTNER} {where}` for new ones",
                err=True,
            )
    stop_feeds = None
    if settings.feeds.sftp_enabled:  # the SFTP server and the feeds worker beside the HTTP workers
        from api.feeds_runtime import start_transport_thread

        transport = start_transport_thread(settings)
        typer.echo(json.dumps({"sftp": f"{settings.feeds.sftp_host}:{transport.port}"}), err=True)
        stop_feeds = transport.stop
    try:
        run_server(settings, host=host, port=port, workers=workers)
    finally:
        if stop_feeds is not None:
            stop_feeds()


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``ledger`` application."""
    app.command("serve")(serve)


def main() -> None:
    """Standalone entry point (``python -m api.cli.serve serve|partners ...``): errors as in api/cli/errors.py."""
    from api.cli.errors import run
    from api.cli.partners import register as register_partners

    app = typer.Typer(no_args_is_help=True, add_completion=False, help="Proveniq Ledger HTTP server.")
    register(app)
    register_partners(app)
    run(app)


if __name__ == "__main__":
    main()
