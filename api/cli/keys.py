"""``ledger keys rotate``: a new checkpoint signing key, the old one's vkey kept for older checkpoints.

The new key has the same name (the log's origin never changes) and replaces the key file atomically;
the old verifier key is appended to ``<key file>.previous`` first. ``GET /api/v1/audit/public-key``
lists the current key then the previous ones, ``ledger verify`` checks every checkpoint with any of
them, and ``ledger audit verify --vkey OLD`` (or both keys) still verifies documents whose checkpoints
were signed before the rotation. Restart the sealer and servers afterwards: a running sealer signs
with the key it loaded at start. See docs/deployment.md, "Keys apart from data".
"""

from __future__ import annotations

import json

import typer

from adapters.files.signing_key import previous_vkeys, rotate_signing_key, signing_key_path
from adapters.storage import DEFAULT_DATA_DIR
from api.cli.options import DatabaseUrl, DataDir
from api.cli.proofs import SigningKey

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


def register(app: typer.Typer) -> None:
    """Add ``keys`` to the ``ledger`` application."""
    app.add_typer(keys_app, name="keys")
