"""``ledger migrate`` on SQLite and PostgreSQL: node rows to tiles, checked, idempotent, resumable after SIGKILL.

The legacy layout is what the node-row code left (issue 13 item 2): a ``merkle_nodes`` row per perfect
node of level >= 1, the checkpoints, and no tiles. It is made here from a ledger sealed by today's code
(200 checkpoints of 5 entries), by writing every node row and removing the tiles. The pre-house fixture
(tests/e2e/test_pre_house_ledger.py) is a ledger really written by the old code and migrated the same way.
"""

from __future__ import annotations

import base64
import json
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from support.clock import SteppingClock
from support.databases import execute
from support.ledgers import TOY_MASTER_KEY, open_toy_ledger
from support.toy import Account

from adapters.files.signing_key import ensure_signing_key
from adapters.storage import StorageConfig, open_tree_store
from adapters.tree_migration import MigratableTreeStore, migrate_to_tiles
from ledger_core.engine.merkle import NodeMismatch
from ledger_core.engine.sealing import Sealer, SealPolicy
from ledger_core.engine.tree_verification import verify_tree_and_checkpoints

ENTRIES, PER_CHECKPOINT = 1000, 5
LEGACY_SCHEMA = {
    "sqlite": "CREATE TABLE merkle_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
    " PRIMARY KEY (level, idx)) WITHOUT ROWID",
    "postgresql": "CREATE TABLE merkle_nodes (level SMALLINT NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL,"
    " PRIMARY KEY (level, idx))",
}


@contextmanager
def connection(url: str) -> Iterator[sqlite3.Connection | psycopg.Connection[tuple[object, ...]]]:
    if url.startswith("sqlite:///"):
        lite = sqlite3.connect("/" + url.removeprefix("sqlite:///"), isolation_level=None, timeout=60)
        try:
            yield lite
        finally:
            lite.close()
    else:
        with psycopg.connect(url, autocommit=True) as pg:
            yield pg


def build_legacy(url: str, data_dir: Path) -> None:
    """A sealed ledger, then its tree rewritten as the node-row code stored it."""
    signer = ensure_signing_key(data_dir)
    ledger, _ = open_toy_ledger(url)
    with ledger:
        ledger.app.save(*[Account.open("acme", f"m{i}") for i in range(ENTRIES)])
    store = open_tree_store(StorageConfig(data_dir, url))
    try:
        Sealer(store, signer, SteppingClock(), policy=SealPolicy(max_batch_entries=PER_CHECKPOINT)).seal_all()
        every = store.nodes_completed_in(0, ENTRIES)
    finally:
        store.close()
    rows = [(level, index, digest) for (level, index), digest in every.items() if level > 0]
    kind = "sqlite" if url.startswith("sqlite") else "postgresql"
    with connection(url) as conn:
        conn.execute(LEGACY_SCHEMA[kind])
        placeholders = "?, ?, ?" if kind == "sqlite" else "%s, %s, %s"
        cursor = conn.cursor()
        cursor.executemany(f"INSERT INTO merkle_nodes (level, idx, hash) VALUES ({placeholders})", rows)
        conn.execute("DELETE FROM merkle_tiles")
    assert len(rows) == ENTRIES - ENTRIES.bit_count()


def migrate_command(url: str, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "api", "migrate", "--data-dir", str(data_dir), "--database-url", url]


def cli_env() -> dict[str, str]:
    import os

    return os.environ | {"LEDGER_MASTER_KEY": base64.b64encode(TOY_MASTER_KEY).decode()}


def run_migrate(url: str, data_dir: Path) -> dict[str, object]:
    done = subprocess.run(migrate_command(url, data_dir), capture_output=True, text=True, env=cli_env(), check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def open_store(url: str, data_dir: Path) -> MigratableTreeStore:
    store = open_tree_store(StorageConfig(data_dir, url))
    assert isinstance(store, MigratableTreeStore)
    return store


def test_migration_converts_checks_and_is_idempotent(database_url: str, tmp_path: Path) -> None:
    """Every checkpoint's tiles are written and checked; the rows are dropped; a second run does nothing."""
    build_legacy(database_url, tmp_path)
    first = run_migrate(database_url, tmp_path)
    assert first == {"tiles": "migrated", "resumedFrom": 0, "size": ENTRIES, "checkpoints": ENTRIES // PER_CHECKPOINT}
    second = run_migrate(database_url, tmp_path)
    assert second == {"tiles": "already", "resumedFrom": ENTRIES, "size": ENTRIES, "checkpoints": 0}
    store = open_store(database_url, tmp_path)
    try:
        assert not store.has_legacy_nodes()
        summary = verify_tree_and_checkpoints(store, [ensure_signing_key(tmp_path).verifier()])
    finally:
        store.close()
    assert (summary.integrated_size, summary.checkpoints) == (ENTRIES, ENTRIES // PER_CHECKPOINT)


def test_a_tampered_node_row_stops_the_migration(database_url: str, tmp_path: Path) -> None:
    """A node row that differs from the leaves is reported; nothing of its checkpoint is written."""
    build_legacy(database_url, tmp_path)
    execute(database_url, "UPDATE merkle_nodes SET hash = ? WHERE level = 2 AND idx = 30", [b"\x09" * 32])
    store = open_store(database_url, tmp_path)
    try:
        with pytest.raises(NodeMismatch) as caught:
            migrate_to_tiles(store)
        assert (caught.value.level, caught.value.index) == (2, 30)
        assert store.tiled_size() == 120  # checkpoints up to 120 migrated; 125 holds the node and was refused
        assert store.has_legacy_nodes()
    finally:
        store.close()


def test_migration_resumes_after_sigkill(database_url: str, tmp_path: Path) -> None:
    """Stopped at once after its first checkpoint (maybe inside a transaction) and killed, the next run finishes."""
    build_legacy(database_url, tmp_path)
    process = subprocess.Popen(
        migrate_command(database_url, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    assert process.stderr is not None
    try:
        for line in process.stderr:
            if line.startswith("migrated "):
                process.send_signal(signal.SIGSTOP)  # frozen wherever it is: 199 checkpoints still to go
                break
        process.kill()
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
        if process.stdout is not None:
            process.stdout.close()
    store = open_store(database_url, tmp_path)
    try:
        killed_at = store.tiled_size()
        assert store.has_legacy_nodes()
        assert 0 < killed_at < ENTRIES
        assert killed_at % PER_CHECKPOINT == 0  # a checkpoint's tiles are all written or none
    finally:
        store.close()
    resumed = run_migrate(database_url, tmp_path)
    assert resumed["resumedFrom"] == killed_at
    assert resumed["checkpoints"] == (ENTRIES - killed_at) // PER_CHECKPOINT
    store = open_store(database_url, tmp_path)
    try:
        summary = verify_tree_and_checkpoints(store, [ensure_signing_key(tmp_path).verifier()])
    finally:
        store.close()
    assert summary.integrated_size == ENTRIES
