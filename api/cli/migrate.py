"""``ledger migrate``: the storage migrations of an existing ledger (today: Merkle node rows to tlog-tiles).

Idempotent and resumable (adapters/tree_migration.py): safe to run twice or after a kill. Stop the
server and sealers first. Prints one JSON object; progress lines (``migrated <size>/<total>``) go to
stderr as each checkpoint's tiles are committed.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from adapters.storage import DEFAULT_DATA_DIR, open_tree_store
from adapters.tree_migration import MigratableTreeStore, migrate_to_tiles
from api.cli.options import DatabaseUrl, DataDir, existing


def migrate(data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None) -> None:
    """Convert the Merkle tree's node rows into C2SP tlog-tiles, checking every checkpoint's root, then drop
    the rows (idempotent, resumable)."""
    store = open_tree_store(existing(data_dir, database_url))
    try:
        report = migrate_to_tiles(_migratable(store, data_dir), progress=_progress)
    finally:
        store.close()
    result = {
        "tiles": "migrated" if report.needed else "already",
        "resumedFrom": report.resumed_from,
        "size": report.migrated_size,
        "checkpoints": report.checkpoints,
    }
    typer.echo(json.dumps(result, indent=2, sort_keys=True))


def _migratable(store: object, data_dir: Path) -> MigratableTreeStore:
    if not isinstance(store, MigratableTreeStore):  # both backends' tree stores are
        raise TypeError(f"the tree store of {data_dir} cannot migrate")
    return store


def _progress(done: int, total: int) -> None:
    typer.echo(f"migrated {done}/{total}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``migrate`` to the ``ledger`` application."""
    app.command("migrate")(migrate)
