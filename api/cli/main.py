"""The ``ledger`` command line. Every command takes ``--data-dir`` and ``--database-url``.

Exit codes (:class:`api.cli.errors.ExitCode`): 0 success, 1 verification failed (``verify``, proofs),
2 usage or input errors, 3 infrastructure unavailable, 4 a bug; every failure is one line on stderr.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.feeds.host_key import ensure_host_key
from adapters.opening import open_ledger
from adapters.storage import DEFAULT_DATA_DIR, StorageConfig
from api.cli import batch as cli_batch
from api.cli import claims as cli_claims
from api.cli import feeds as cli_feeds
from api.cli import feeds_transport as cli_feeds_transport
from api.cli import keys as cli_keys
from api.cli import members as cli_members
from api.cli import migrate as cli_migrate
from api.cli import partners as cli_partners
from api.cli import serve as cli_serve
from api.cli import sso as cli_sso
from api.cli import sso_monitoring as cli_sso_monitoring
from api.cli import webhooks as cli_webhooks
from api.cli import witness as cli_witness
from api.cli import writer as cli_writer
from api.cli.errors import CliFailure, ExitCode, run
from api.cli.options import DatabaseUrl, DataDir, existing
from api.cli.proofs import Origin, SigningKey, check_tree, init_tree, register
from api.cli.verifying import Vkeys
from ledger_core.engine.envelope import Envelope
from ledger_core.engine.errors import IntegrityViolation
from ledger_core.ledger import Ledger

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Proveniq Ledger: a tamper-evident event log.")
log_app = typer.Typer(no_args_is_help=True, help="Read the log.")
app.add_typer(log_app, name="log")
register(app)  # sealer, seal, export, checkpoint, proof, audit: api/cli/proofs.py
cli_serve.register(app)  # serve: api/cli/serve.py
cli_partners.register(app)  # partners create|rotate-key|revoke-key|show: api/cli/partners.py
cli_members.register(app)  # members erase|eligibility, outcomes show|rebuild: api/cli/members.py
cli_claims.register(app)  # claims review|explain: api/cli/claims.py
cli_webhooks.register(app)  # webhooks run|endpoints|deliveries|delivery|resend|replay|status: api/cli/webhooks.py
cli_feeds.register(app)  # feeds load|export: api/cli/feeds.py
cli_feeds_transport.register(cli_feeds.feeds_app, app)  # feeds keys|pgp|remote|configure|worker|run|status, sftp
cli_sso.register(app)  # sso configure-saml|configure-oidc|show|remove|deactivate|reactivate: api/cli/sso.py
cli_sso_monitoring.register(cli_sso.sso_app)  # sso status|sync: api/cli/sso_monitoring.py
cli_witness.register(app)  # witness init|vkey|serve: api/cli/witness.py
cli_keys.register(app)  # keys rotate: api/cli/keys.py
cli_batch.register(app)  # batch run|status: api/cli/batch.py
cli_migrate.register(app)  # migrate (node rows to tlog-tiles): api/cli/migrate.py
cli_writer.register(app)  # writer (one writer per ledger, with standbys): api/cli/writer.py

err = Console(stderr=True)


def _open(data_dir: Path, database_url: str | None) -> Ledger:
    return open_ledger(existing(data_dir, database_url))


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


def envelope_json(envelope: Envelope) -> dict[str, Any]:
    """An envelope as the JSON object its entry bytes encode."""
    return {
        "position": envelope.position,
        "prev": envelope.prev,
        "eventId": envelope.event_id,
        "type": envelope.type,
        "aggregate": {
            "type": envelope.aggregate_type,
            "id": envelope.aggregate_id,
            "version": envelope.aggregate_version,
            "prevPosition": envelope.aggregate_prev_position,
        },
        "partnerId": envelope.partner_id,
        "recordedAt": envelope.recorded_at,
        "payload": envelope.payload,
    }


@app.command()
def init(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    signing_key: SigningKey = None,
    origin: Origin = None,
) -> None:
    """Create the data directory, the database schema, the checkpoint signing key and the SFTP host key
    (idempotent).

    The only command that creates a ledger (``serve`` does too, on its first start); every other one
    refuses a data directory or database that holds none.
    """
    if data_dir.exists() and not data_dir.is_dir():
        raise CliFailure("USAGE_ERROR", f"--data-dir {data_dir} exists and is not a directory")
    data_dir.mkdir(parents=True, exist_ok=True)
    host_key = ensure_host_key(data_dir)
    with open_ledger(StorageConfig(data_dir, database_url)) as ledger:
        config = StorageConfig(data_dir, database_url)
        _print_json(
            {
                "dataDir": str(data_dir.resolve()),
                "backend": config.backend,
                "database": str(config.sqlite_path()) if config.backend == "sqlite" else "postgresql",
                "size": ledger.size(),
                **init_tree(data_dir, database_url, signing_key, origin),
                "sftpHostKey": host_key.export_public_key().decode().strip(),
            }
        )


@app.command()
def verify(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    vkey: Vkeys = None,
    signing_key: SigningKey = None,
) -> None:
    """Re-read every entry: hash chain, back-links, then the Merkle tree and every signed checkpoint.

    Checkpoint signatures are checked against --vkey (pinned keys) or else the signing key if present.
    """
    with _open(data_dir, database_url) as ledger:
        total = ledger.size()
        with Progress(
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=total < 50_000,
        ) as progress:
            task = progress.add_task("verify", total=total)
            try:
                summary = ledger.verify(lambda done, _total: progress.update(task, completed=done))
                tree = check_tree(data_dir, database_url, vkey, signing_key)
            except IntegrityViolation as broken:
                progress.stop()
                _print_json({"intact": False, "error": broken.code, **broken.details})
                raise CliFailure(broken.code, f"NOT INTACT: {broken}", ExitCode.VERIFICATION_FAILED) from None
    _print_json(
        {
            "intact": True,
            "size": summary.size,
            "headLeafHash": None if summary.head_leaf_hash is None else summary.head_leaf_hash.hex(),
            "aggregates": summary.aggregates,
            "tree": tree,
        }
    )


@log_app.command("tail")
def log_tail(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many of the last entries.")] = 10,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new entries.")] = False,
) -> None:
    """Print the last entries as JSON lines (one envelope per line)."""
    with _open(data_dir, database_url) as ledger:
        position = max(ledger.size() - lines, 0)
        while True:
            for envelope in ledger.entries(position):
                typer.echo(json.dumps(envelope_json(envelope), sort_keys=True))
                position = envelope.position + 1
            if not follow:
                return
            time.sleep(0.5)


@app.command()
def stats(data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Counts of entries by event type and aggregate type."""
    with _open(data_dir, database_url) as ledger:
        result = ledger.stats()
    _print_json(
        {
            "size": result.size,
            "headLeafHash": result.head_leaf_hash,
            "partners": result.partners,
            "eventsByType": result.by_type,
            "aggregatesByType": result.by_aggregate_type,
        }
    )


@app.command()
def demo(data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Run a short end-to-end flow on real storage (partner, documents, claims, member) and verify it."""
    from api.cli.demo import run_demo

    with _open(data_dir, database_url) as ledger:
        _print_json(run_demo(ledger))


def main() -> None:
    """Console-script entry point: every failure one line on stderr with its exit code (api/cli/errors.py)."""
    run(app)
