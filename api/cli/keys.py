"""``ledger keys rotate``: a new checkpoint signing key, the old one's vkey kept for older checkpoints;
``ledger keys create``: new key files where a secret store picks them up (keys apart from data).

The new key has the same name (the log's origin never changes) and replaces the key file atomically;
the old verifier key is appended to ``<key file>.previous`` first. ``GET /api/v1/audit/public-key``
lists the current key then the previous ones, ``ledger verify`` checks every checkpoint with any of
them, and ``ledger audit verify --vkey OLD`` (or both keys) still verifies documents whose checkpoints
were signed before the rotation. Restart the sealer and servers afterwards: a running sealer signs
with the key it loaded at start. See docs/deployment.md, "Keys apart from data".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from adapters.files.master_key import create_master_key_file
from adapters.files.signing_key import create_signing_key, previous_vkeys, rotate_signing_key, signing_key_path
from adapters.storage import DEFAULT_DATA_DIR
from api.cli.errors import CliFailure
from api.cli.options import DatabaseUrl, DataDir
from api.cli.proofs import Origin, SigningKey

keys_app = typer.Typer(no_args_is_help=True, help="The checkpoint signing key.")


@keys_app.command("rotate")
def rotate(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
    signing_key: SigningKey = None,
) -> None:
    """Replace the checkpoint signing key by a new one (same origin); print the new and previous vkeys."""
    path, _ = signing_key_path(data_dir, signing_key)
    signer, old = rotate_signing_key(path)
    typer.echo(
        json.dumps({"vkey": signer.verifier().vkey, "replaced": old, "previous": previous_vkeys(path)}, indent=2)
    )
    typer.echo("restart the sealer and the servers: they sign with the key they loaded at start", err=True)


@keys_app.command("create")
def create(
    signing_key: Annotated[
        Path | None, typer.Option("--signing-key", help="Create the checkpoint signing key here (mode 0600).")
    ] = None,
    master_key: Annotated[
        Path | None, typer.Option("--master-key", help="Create a master key here (base64, mode 0600).")
    ] = None,
    origin: Origin = None,
) -> None:
    """Create new key files outside the data directory (a PostgreSQL deployment names its keys: then give
    them to the processes as LEDGER_SIGNING_KEY_FILE / LEDGER_MASTER_KEY_FILE or a secret). Never overwrites."""
    if signing_key is None and master_key is None:
        raise CliFailure("USAGE_ERROR", "name at least one of --signing-key PATH and --master-key PATH")
    created: dict[str, str] = {}
    for path in (signing_key, master_key):
        if path is not None and path.exists():
            raise CliFailure("KEY_EXISTS", f"{path} exists: a key file is never overwritten")
    if signing_key is not None:
        signer = create_signing_key(signing_key, origin)
        created |= {"signingKey": str(signing_key), "origin": signer.name, "vkey": signer.verifier().vkey}
    if master_key is not None:
        create_master_key_file(master_key)
        created["masterKey"] = str(master_key)
    typer.echo(json.dumps(created, indent=2))


def register(app: typer.Typer) -> None:
    """Add ``keys`` to the ``ledger`` application."""
    app.add_typer(keys_app, name="keys")
