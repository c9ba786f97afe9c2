"""``ledger feeds keys|pgp|configure|remote|gcs|worker|run|status`` and ``ledger sftp serve|host-key``: the
transport half of the batch feeds (docs/feeds.md). ``register(feeds_app, app)`` adds them."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from adapters.feed_exchange import GcsBucket, RemoteServer, RetryPolicy
from adapters.feeds.host_key import ensure_host_key
from adapters.feeds.openpgp import certificate_of, fingerprint_of, generate_secret_key
from adapters.key_sources import require_keys_apart
from adapters.storage import DEFAULT_DATA_DIR
from adapters.workers.feed_metrics import FeedMetrics
from api.cli.options import DatabaseUrl, DataDir, existing
from api.feeds_runtime import feed_files, feed_worker, leadership, run_transport
from api.feeds_status import feed_status_rows
from api.settings import Settings
from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.feeds.formats import FeedKind
from ledger_core.members.feeds.schedule import FeedSchedule

keys_app = typer.Typer(no_args_is_help=True, help="SSH public keys partners log in to our SFTP server with.")
pgp_app = typer.Typer(no_args_is_help=True, help="OpenPGP keys: ours (decrypt, sign) and partners' (encrypt, verify).")
remote_app = typer.Typer(no_args_is_help=True, help="Partner-hosted SFTP servers (client mode, pinned host key).")
sftp_app = typer.Typer(no_args_is_help=True, help="Our SFTP server for partners.")
gcs_app = typer.Typer(
    no_args_is_help=True, help="A Google Cloud Storage bucket per partner (pull inbound, push outbound)."
)
out = Console()
err = Console(stderr=True)

Partner = Annotated[str, typer.Argument(help="Partner id (its SFTP user name and folder name).")]
FeedOption = Annotated[FeedKind | None, typer.Option("--feed", help="Only this feed.")]


def _settings(data_dir: Path, database_url: str | None) -> Settings:
    """The server's settings for an existing ledger (only ``ledger init`` creates one: exit 2 otherwise)."""
    existing(data_dir, database_url)
    settings = Settings.from_env()
    return replace(settings, storage=replace(settings.storage, data_dir=data_dir, database_url=database_url))


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


# -- SSH keys ----------------------------------------------------------------------------------------
@keys_app.command("add")
def keys_add(
    partner: Partner,
    ssh_key: Annotated[Path, typer.Option("--ssh-key", exists=True, dir_okay=False, help="OpenSSH public key file.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Let PARTNER log in with the public key in FILE (appended to its authorized keys)."""
    import asyncssh

    files = feed_files(_settings(data_dir, database_url))
    try:
        key = asyncssh.import_public_key(ssh_key.read_text())
    except (asyncssh.KeyImportError, ValueError) as error:
        raise InvalidCommand(f"{ssh_key} is not an SSH public key: {error}", field="ssh_key") from error
    files.keys.add_ssh_key(partner, key.export_public_key().decode().strip())
    files.folders.ensure(partner)
    _echo({"partner": partner, "fingerprint": key.get_fingerprint(), "inbound": f"/inbound/{partner}/"})


# -- OpenPGP -----------------------------------------------------------------------------------------
@pgp_app.command("generate")
def pgp_generate(
    user_id: Annotated[
        str, typer.Option(help="User ID of our key.")
    ] = "Fair Underwriting feeds <feeds@fairunderwriting.example>",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Create our OpenPGP key (kept wrapped under the master key); print its fingerprint."""
    files = feed_files(_settings(data_dir, database_url))
    if files.keys.our_secret_key() is not None and not force:
        raise InvalidCommand("an OpenPGP key exists already (use --force to replace it)", field="force")
    secret = generate_secret_key(user_id)
    files.keys.set_our_secret_key(secret)
    _echo({"fingerprint": fingerprint_of(secret)})


@pgp_app.command("import-ours")
def pgp_import_ours(
    secret_key: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Armored or binary secret key.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Use an existing OpenPGP secret key as ours."""
    files = feed_files(_settings(data_dir, database_url))
    secret = secret_key.read_bytes()
    certificate_of(secret)  # refuses anything that is not a secret key
    files.keys.set_our_secret_key(secret)
    _echo({"fingerprint": fingerprint_of(secret)})


@pgp_app.command("export")
def pgp_export(data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Print our public certificate (what partners encrypt eligibility files to)."""
    secret = feed_files(_settings(data_dir, database_url)).keys.our_secret_key()
    if secret is None:
        raise InvalidCommand("no OpenPGP key yet: run `ledger feeds pgp generate`", field="pgp")
    typer.echo(certificate_of(secret).decode(), nl=False)


@pgp_app.command("import")
def pgp_import(
    partner: Partner,
    certificate: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The partner's certificate.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Import PARTNER's certificate: outbound files are then encrypted to it, and signatures checked with it."""
    files = feed_files(_settings(data_dir, database_url))
    cert = certificate.read_bytes()
    fingerprint = fingerprint_of(cert)
    files.keys.set_partner_cert(partner, cert)
    _echo({"partner": partner, "fingerprint": fingerprint})


@pgp_app.command("require-signature")
def pgp_require_signature(
    partner: Partner,
    required: Annotated[
        bool, typer.Option("--on/--off", help="Refuse inbound files not signed by the partner.")
    ] = True,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Require (or stop requiring) PARTNER's signature on its inbound files."""
    keys = feed_files(_settings(data_dir, database_url)).keys
    if required and keys.partner_cert(partner) is None:
        raise InvalidCommand("import the partner's certificate first (ledger feeds pgp import)", field="partner")
    keys.save(replace(keys.config_or_new(partner), require_signature=required))
    _echo({"partner": partner, "requireSignature": required})


# -- partner settings --------------------------------------------------------------------------------
def configure(
    partner: Partner,
    it_email: Annotated[str | None, typer.Option("--it-email", help="Partner IT address (rejection emails).")] = None,
    schedule: Annotated[
        list[str] | None, typer.Option("--schedule", help="KIND=HH:MM or KIND='day D HH:MM' (UTC), repeatable.")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Set PARTNER's IT address and schedule overrides."""
    keys = feed_files(_settings(data_dir, database_url)).keys
    config = keys.config_or_new(partner)
    schedules = dict(config.schedules)
    for item in schedule or []:
        kind, _, spec = item.partition("=")
        try:
            FeedKind(kind)
            FeedSchedule.parse(spec)
        except ValueError as error:
            raise InvalidCommand(str(error), field="schedule") from error
        schedules[kind] = spec
    config = replace(config, it_email=it_email or config.it_email, schedules=schedules)
    keys.save(config)
    _echo(config.to_json())


@remote_app.command("set")
def remote_set(
    partner: Partner,
    host: Annotated[str, typer.Option(help="The partner's SFTP host.")],
    host_key: Annotated[str, typer.Option("--host-key", help="Pinned host key: 'ssh-ed25519 AAAA...' or a file.")],
    user: Annotated[str, typer.Option(help="Our user name on their server.")],
    port: Annotated[int, typer.Option(min=1, max=65535)] = 22,
    key: Annotated[Path | None, typer.Option("--key", exists=True, dir_okay=False, help="Our SSH private key.")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read a password from stdin.")] = False,
    inbound_dir: Annotated[str, typer.Option(help="Remote folder we pull eligibility files from.")] = "/outbound",
    outbound_dir: Annotated[str, typer.Option(help="Remote folder we push our files to.")] = "/inbound",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Use PARTNER's own SFTP server: pull eligibility files from it, push enrollment and outcome files to it."""
    import asyncssh

    keys = feed_files(_settings(data_dir, database_url)).keys
    pinned = Path(host_key).read_text().strip() if Path(host_key).is_file() else host_key.strip()
    try:
        pinned_key = asyncssh.import_public_key(pinned)
    except (asyncssh.KeyImportError, ValueError) as error:
        raise InvalidCommand(f"--host-key is not an SSH public key: {error}", field="host_key") from error
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if key is None and password is None:
        raise InvalidCommand("give --key or --password-stdin", field="key")
    if key is not None:
        keys.set_client_key(partner, key.read_bytes())
    remote = RemoteServer(host, port, user, pinned_key.export_public_key().decode().strip(), inbound_dir, outbound_dir)
    keys.set_remote(keys.config_or_new(partner), remote, password)
    _echo({"partner": partner, "host": host, "port": port, "hostKey": pinned_key.get_fingerprint()})


# -- Google Cloud Storage ----------------------------------------------------------------------------
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
"""GCS bucket names: 3-222 lowercase letters, digits, dots, dashes, underscores; a letter or digit at each end
(cloud.google.com/storage/docs/buckets#naming)."""


def _gcs_urls(bucket: GcsBucket, partner: str) -> dict[str, str]:
    return {f: f"gs://{bucket.bucket}/{bucket.prefix(partner, f)}" for f in ("inbound", "outbound", "processed")}


@gcs_app.command("set")
def gcs_set(
    partner: Partner,
    bucket: Annotated[str, typer.Option("--bucket", help="Bucket name (gs:// optional).")],
    project: Annotated[str | None, typer.Option(help="Billing project (default: the credentials').")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Exchange PARTNER's files through BUCKET: the worker pulls gs://BUCKET/PARTNER/inbound/ and pushes to
    gs://BUCKET/PARTNER/outbound/ (replaces a partner-hosted SFTP server). Credentials are Google's, from the
    environment (ADC, GOOGLE_APPLICATION_CREDENTIALS); none is stored."""
    name = bucket.removeprefix("gs://").rstrip("/")
    if not _BUCKET.match(name) or ".." in name:
        raise InvalidCommand(f"{bucket!r} is not a GCS bucket name", field="bucket")
    keys = feed_files(_settings(data_dir, database_url)).keys
    chosen = GcsBucket(name, project)
    keys.set_gcs(keys.config_or_new(partner), chosen)
    _echo({"partner": partner, **_gcs_urls(chosen, partner)})


@gcs_app.command("clear")
def gcs_clear(partner: Partner, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Stop exchanging PARTNER's files through a bucket."""
    keys = feed_files(_settings(data_dir, database_url)).keys
    keys.set_gcs(keys.config_or_new(partner), None)
    _echo({"partner": partner, "gcs": None})


@gcs_app.command("check")
def gcs_check(partner: Partner, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Reach PARTNER's bucket with the environment's credentials and count the objects waiting in its inbound
    (nothing is pulled); a failure names its reason (no_credentials, forbidden, no_such_bucket, unreachable)."""
    from adapters.feeds.gcs_client import GcsTransfer  # google-cloud-storage: imported when used

    config = feed_files(_settings(data_dir, database_url)).keys.config_or_new(partner)
    if config.gcs is None:
        raise InvalidCommand(f"partner {partner} has no bucket: run `ledger feeds gcs set`", field="partner")
    waiting = asyncio.run(GcsTransfer(partner, config.gcs, RetryPolicy(attempts=2, first_delay=1)).waiting())
    _echo({"partner": partner, **_gcs_urls(config.gcs, partner), "inboundObjects": waiting})


# -- worker ------------------------------------------------------------------------------------------
def worker(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus metrics on this port.")] = None,
) -> None:
    """Run the feeds worker until SIGINT/SIGTERM (on PostgreSQL one leader per schema; others stand by)."""
    settings = _settings(data_dir, database_url)
    require_keys_apart(settings.storage.config, None, signs=False)  # PostgreSQL: the master key is named
    metrics = FeedMetrics()
    port = metrics_port if metrics_port is not None else settings.feeds.metrics_port
    if port is not None:
        from prometheus_client import start_http_server

        start_http_server(port, registry=metrics.registry)
    asyncio.run(_until_signalled(settings, serve_sftp=False, metrics=metrics))


async def _until_signalled(settings: Settings, *, serve_sftp: bool, metrics: FeedMetrics | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    def listening(port: int) -> None:
        typer.echo(json.dumps({"sftp": f"{settings.feeds.sftp_host}:{port}"}), err=True)

    await run_transport(
        settings, stop, serve_sftp=serve_sftp, run_worker=not serve_sftp, metrics=metrics, ready=listening
    )


def run(
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner.")] = None,
    feed: FeedOption = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """One pass now, whatever the schedule: pull, process inbound files (eligibility and claims files, with a
    progress bar per claims file), write and publish feeds."""
    settings = _settings(data_dir, database_url)
    is_leader, release = leadership(settings)
    try:
        if not is_leader():
            raise InvalidCommand("another feeds worker holds the lead; try again when it is idle", field="worker")
        with (
            Progress(
                TextColumn("{task.description}: {task.completed} lines"), TimeElapsedColumn(), console=err
            ) as bars,
            feed_worker(settings, FeedMetrics(), progress=_line_bars(bars)) as feed_worker_,
        ):
            results = asyncio.run(feed_worker_.run_once(partner, feed, force=True))
    finally:
        release()
    _echo([result.to_json() for result in results])


def _line_bars(bars: Progress) -> Callable[[str, int], None]:
    """``progress(file, lines)``: one bar per claims file (lines done; a stream's total is not known)."""
    tasks: dict[str, TaskID] = {}

    def progress(name: str, lines: int) -> None:
        if name not in tasks:
            tasks[name] = bars.add_task(name, total=None)
        bars.update(tasks[name], completed=lines)

    return progress


def status(
    partner: Annotated[str | None, typer.Option("--partner", help="Only this partner.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Per partner and feed: last file, rows accepted/rejected, last and next run, late."""
    settings = _settings(data_dir, database_url)
    rows = [row.to_json() for row in feed_status_rows(settings, [partner] if partner else None, datetime.now(UTC))]
    if as_json:
        _echo(rows)
        return
    table = Table("partner", "feed", "last file", "accepted", "rejected", "last run", "next run", "late")
    for row in rows:
        table.add_row(
            *(str(row[k] if row[k] is not None else "-") for k in ("partner", "feed", "lastFile", "accepted")),
            str(row["rejected"]),
            str(row["lastRun"] or "-"),
            str(row["nextRun"]),
            "LATE" if row["late"] else "",
        )
    out.print(table)


# -- our SFTP server ---------------------------------------------------------------------------------
@sftp_app.command("serve")
def sftp_serve(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = None,
) -> None:
    """Run our SFTP server until SIGINT/SIGTERM (``ledger feeds worker`` processes what arrives)."""
    settings = _settings(data_dir, database_url)
    feeds = replace(
        settings.feeds,
        sftp_host=host if host is not None else settings.feeds.sftp_host,
        sftp_port=port if port is not None else settings.feeds.sftp_port,
    )
    asyncio.run(_until_signalled(replace(settings, feeds=feeds), serve_sftp=True))


@sftp_app.command("host-key")
def sftp_host_key(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Print our SFTP host key (public, OpenSSH form) for partners to pin; created if missing."""
    key = ensure_host_key(data_dir)
    typer.echo(key.export_public_key().decode().strip())


def register(feeds_app: typer.Typer, app: typer.Typer) -> None:
    """Add the transport commands to ``ledger feeds`` and ``ledger sftp`` to ``app``."""
    feeds_app.add_typer(keys_app, name="keys")
    feeds_app.add_typer(pgp_app, name="pgp")
    feeds_app.add_typer(remote_app, name="remote")
    feeds_app.add_typer(gcs_app, name="gcs")
    feeds_app.command("configure")(configure)
    feeds_app.command("worker")(worker)
    feeds_app.command("run")(run)
    feeds_app.command("status")(status)
    app.add_typer(sftp_app, name="sftp")
