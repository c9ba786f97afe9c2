"""``ledger writer``: the one process that commits and seals the ledger's entries (docs/deployment.md).

API servers started with ``LEDGER_WRITER_SOCKET`` (and ``--no-embedded-sealer``) hand their saves to it.
Run two or more on the host of the socket: one leads (PostgreSQL advisory lock; ``flock`` on SQLite),
the others stand by and take over within ``--poll-seconds`` of its death.
"""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType
from typing import Annotated, Any

import typer

from adapters.key_sources import require_keys_apart
from adapters.opening import check_not_rolled_back_at_start
from adapters.storage import DEFAULT_DATA_DIR
from adapters.workers.witnesses import parse_witnesses
from adapters.writer.process import WriterProcess
from api.cli.errors import run
from api.cli.options import DatabaseUrl, DataDir, existing
from api.cli.proofs import SigningKey
from ledger_core.engine.sealing import SealPolicy

WriterSocket = Annotated[
    str, typer.Option("--socket", envvar="LEDGER_WRITER_SOCKET", help="Unix socket the API servers send saves to.")
]


def writer(
    socket_path: WriterSocket,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    signing_key: SigningKey = None,
    batch_entries: Annotated[int, typer.Option(envvar="LEDGER_SEAL_BATCH_ENTRIES", min=1, help="Seal every N.")] = 1000,
    interval_ms: Annotated[int, typer.Option(envvar="LEDGER_SEAL_INTERVAL_MS", min=0, help="or T ms.")] = 50,
    poll_seconds: Annotated[float, typer.Option(min=0.01, help="A standby's seconds between tries.")] = 0.2,
    witnesses: Annotated[
        str, typer.Option("--witnesses", envvar="LEDGER_WITNESSES", help="Witnesses: 'URL VKEY' pairs separated by ;")
    ] = "",
) -> None:
    """Stand by, then (elected) commit the API servers' saves and seal them, until SIGTERM/SIGINT.

    Prints one JSON line per event (waiting, leader, sealed, leadership-lost, stopped).
    """
    config = existing(data_dir, database_url)
    require_keys_apart(config, signing_key, signs=True, unwraps=False)  # it seals; it never unwraps member data
    check_not_rolled_back_at_start(config, signing_key)

    def report(event: dict[str, Any]) -> None:
        typer.echo(json.dumps(event, sort_keys=True, default=str))
        sys.stdout.flush()

    process = WriterProcess(
        config,
        socket_path,
        SealPolicy(batch_entries=batch_entries, interval_ms=interval_ms),
        signing_key=signing_key,
        report=report,
        poll_seconds=poll_seconds,
        witnesses=parse_witnesses(witnesses),
    )

    def handle(signum: int, frame: FrameType | None) -> None:
        process.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)
    process.run()


def register(app: typer.Typer) -> None:
    """Add ``ledger writer`` to the ``ledger`` application."""
    app.command("writer")(writer)


def _group() -> None:
    """Proveniq Ledger writer."""


def main() -> None:
    """Standalone entry point (``python -m api.cli.writer``): errors as in api/cli/errors.py."""
    app = typer.Typer(no_args_is_help=True, add_completion=False, help="Proveniq Ledger writer.")
    app.callback()(_group)  # keep `writer` a subcommand (typer runs a lone command without its name)
    register(app)
    run(app)


if __name__ == "__main__":
    main()
