"""``ledger witness init|vkey|serve``: run an independent C2SP tlog-witness for one or more logs.

A witness has its own Ed25519 cosignature/v1 key (``witness init --name NAME --key FILE`` creates it
and prints its verifier key, to be given to the log and to auditors) and its own state directory (the
latest checkpoint it cosigned, per log). ``witness serve --log VKEY`` (repeatable: each trusted log
key, by its origin) answers ``POST /add-checkpoint``; it cosigns a checkpoint only if it is signed by
the log and consistent with the last one it cosigned, and refuses a rollback (422, or 409 naming its
size) and a split view (409) as c2sp.org/tlog-witness says. See docs/proofs.md, "Witnesses".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from adapters.files.witness_key import create_witness_key, load_witness_key
from adapters.files.witness_state import WitnessState
from api.cli.errors import CliFailure
from api.cli.verifying import verifiers
from proofs.note import NoteVerifier

witness_app = typer.Typer(no_args_is_help=True, help="An independent witness that cosigns checkpoints.")

KeyFile = Annotated[Path, typer.Option("--key", envvar="LEDGER_WITNESS_KEY_FILE", help="The witness key file.")]


@witness_app.command("init")
def init(
    name: Annotated[str, typer.Option("--name", help="The witness name, e.g. witness.example.com/w1.")],
    key: KeyFile,
) -> None:
    """Create the witness key file (mode 0600, never overwritten) and print its verifier key."""
    try:
        cosigner = create_witness_key(key, name)
    except FileExistsError:
        raise CliFailure("KEY_EXISTS", f"{key} already exists: a witness key is never overwritten") from None
    typer.echo(cosigner.verifier().vkey)


@witness_app.command("vkey")
def vkey(key: KeyFile) -> None:
    """Print the witness's verifier key (cosignature/v1, type 0x04)."""
    typer.echo(load_witness_key(key).verifier().vkey)


def known_logs(values: list[str]) -> dict[str, list[NoteVerifier]]:
    """``--log`` verifier keys grouped by origin (the key name is the log's origin)."""
    logs: dict[str, list[NoteVerifier]] = {}
    for verifier in verifiers(values):
        logs.setdefault(verifier.name, []).append(verifier)
    return logs


@witness_app.command("serve")
def serve(
    key: KeyFile,
    state_dir: Annotated[
        Path, typer.Option("--state-dir", envvar="LEDGER_WITNESS_STATE_DIR", help="Where the witness keeps its state.")
    ],
    log: Annotated[list[str], typer.Option("--log", help="A trusted log verifier key (string or file); repeatable.")],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 7380,
) -> None:
    """Serve POST /add-checkpoint until SIGINT/SIGTERM; prints {"event": "listening", "url", "vkey"} first."""
    import uvicorn

    from api.server import bind
    from api.witness.app import WitnessConfig, create_witness_app

    cosigner = load_witness_key(key)
    config = WitnessConfig(cosigner, known_logs(log), WitnessState(state_dir))
    sock = bind(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    typer.echo(
        json.dumps({"event": "listening", "url": url, "vkey": cosigner.verifier().vkey, "logs": sorted(config.logs)})
    )
    uvicorn.run(create_witness_app(config), fd=sock.fileno(), log_config=None, access_log=False, server_header=False)


def register(app: typer.Typer) -> None:
    """Add ``witness`` to the ``ledger`` application."""
    app.add_typer(witness_app, name="witness")
