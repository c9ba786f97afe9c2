"""The Merkle tree beside the log on SQLite (``merkle_nodes``, ``checkpoints``): the one module that writes
SQL for those tables on this backend (implements :class:`ledger_core.engine.ports.TreeStore`).

:class:`SQLiteCheckpoints` holds the checkpoint reads over any connection (an outbox transaction uses
them too); leaves come from the log module (:class:`~adapters.sqlite.log.SQLiteLogReader`, and its
:func:`~adapters.sqlite.log.leaves_select` inside the single proof query).

Nodes and checkpoint of one integration are written inside one ``BEGIN IMMEDIATE`` transaction (the
database write lock, shared with the log's writers and other processes), taken after the log writers'
file lock, and only if the latest checkpoint is still the one the sealer started from. WAL with
``synchronous=FULL``: on return from ``COMMIT`` the checkpoint is on disk. See README.md beside this file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from adapters.sqlite.connections import Fetch, ThreadConnections, WriterLock
from adapters.sqlite.log import SCHEMA as LOG_SCHEMA
from adapters.sqlite.log import SQLiteLogReader, leaves_select
from adapters.tree_layout import checkpoint_record, chunks, completed_ranges, split_ids
from ledger_core.engine.merkle import CheckpointRecord, SealConflict
from proofs.tree import NodeId, StoredNode

TREE_SCHEMA = """
CREATE TABLE IF NOT EXISTS merkle_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
"""
_CHECKPOINT = "SELECT size, root_hash, note, signed_at FROM checkpoints"


class SQLiteCheckpoints:
    """The reads of ``checkpoints`` (:class:`~adapters.ports.CheckpointReads`), run through ``fetch``."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch

    def _one(self, sql: str, params: Sequence[object] = ()) -> Any:
        rows = self._fetch(sql, params)
        return rows[0] if rows else None

    def integrated_size(self) -> int:
        row = self._one("SELECT MAX(size) FROM checkpoints")
        return 0 if row is None or row[0] is None else int(row[0])

    def latest_checkpoint(self) -> CheckpointRecord | None:
        return checkpoint_record(self._one(f"{_CHECKPOINT} ORDER BY size DESC LIMIT 1"))

    def checkpoint_at(self, size: int) -> CheckpointRecord | None:
        return checkpoint_record(self._one(f"{_CHECKPOINT} WHERE size = ?", (size,)))

    def first_checkpoint_after(self, position: int) -> CheckpointRecord | None:
        return checkpoint_record(self._one(f"{_CHECKPOINT} WHERE size > ? ORDER BY size LIMIT 1", (position,)))

    def checkpoints(self, after_size: int, limit: int) -> Sequence[CheckpointRecord]:
        sql = f"{_CHECKPOINT} WHERE size > ? ORDER BY size LIMIT ?"
        return [CheckpointRecord(int(s), bytes(r), n, t) for s, r, n, t in self._fetch(sql, (after_size, limit))]

    def has_checkpoints(self) -> bool:
        return self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'") is not None


class SQLiteTreeStore(SQLiteCheckpoints):
    """Tree storage in the ledger's SQLite file (tables created if missing, the log's included)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(self._fetch_all)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = ThreadConnections(self.path)
        # The log writers' file lock (adapters/sqlite/connections.py): queueing on it too hands the write
        # lock over directly instead of through SQLite's busy handler.
        self._writer_lock = WriterLock(self.path)
        self._log = SQLiteLogReader(self._fetch_all)
        with self._connection() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(LOG_SCHEMA + TREE_SCHEMA)

    def _connection(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._connections.connection()

    def _fetch_all(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(sql, params).fetchall()

    # -- leadership: SQLite's write lock serialises commits; compare-and-set keeps a loser harmless ----
    def try_acquire_leadership(self) -> bool:
        """Always True: every SQLite sealer may try; ``commit_integration`` lets exactly one win each round."""
        return True

    def holds_leadership(self) -> bool:
        return True

    def release_leadership(self) -> None:
        """Nothing to release."""

    # -- TreeStore (leaves through the log module) -----------------------------------------------------
    def log_size(self) -> int:
        return self._log.log_size()

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        return self._log.leaf_hashes(start, stop)

    def fetch_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        found: dict[NodeId, bytes] = {}
        for chunk in chunks(ids):
            leaves, upper = split_ids(chunk)
            parts: list[str] = []
            params: list[int] = []
            if leaves:
                parts.append(leaves_select(len(leaves)))
                params.extend(leaves)
            if upper:
                clauses = " OR ".join(f"(level = ? AND idx IN ({','.join('?' * len(idx))}))" for idx in upper.values())
                parts.append(f"SELECT level, idx, hash FROM merkle_nodes WHERE {clauses}")
                for level, indexes in upper.items():
                    params.append(level)
                    params.extend(indexes)
            with self._connection() as conn:
                rows = conn.execute(" UNION ALL ".join(parts), params).fetchall()
            found.update((NodeId(level, index), bytes(digest)) for level, index, digest in rows)
        return found

    def nodes_completed_in(self, begin: int, end: int) -> Mapping[NodeId, bytes]:
        ranges = completed_ranges(begin, end)
        if not ranges:
            return {}
        clauses = " OR ".join("(level = ? AND idx BETWEEN ? AND ?)" for _ in ranges)
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT level, idx, hash FROM merkle_nodes WHERE {clauses}", [v for r in ranges for v in r]
            ).fetchall()
        return {NodeId(level, index): bytes(digest) for level, index, digest in rows}

    def count_nodes(self) -> int:
        row = self._one("SELECT COUNT(*) FROM merkle_nodes")
        return 0 if row is None else int(row[0])

    def commit_integration(self, old_size: int, nodes: Sequence[StoredNode], checkpoint: CheckpointRecord) -> None:
        with self._connection() as conn, self._writer_lock.held():
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT COALESCE(MAX(size), 0) FROM checkpoints").fetchone()
                if int(row[0]) != old_size:
                    raise SealConflict(old_size, int(row[0]))
                conn.executemany(
                    "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)",
                    [(n.level, n.index, n.hash) for n in nodes if n.level > 0],
                )
                conn.execute(
                    "INSERT INTO checkpoints (size, root_hash, note, signed_at) VALUES (?, ?, ?, ?)",
                    (checkpoint.size, checkpoint.root_hash, checkpoint.note, checkpoint.signed_at),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def update_checkpoint_note(self, size: int, expected: str, note: str) -> bool:
        """Replace the note of checkpoint ``size`` if it is still ``expected`` (witness cosignatures appended)."""
        with self._connection() as conn, self._writer_lock.held():
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(
                    "UPDATE checkpoints SET note = ? WHERE size = ? AND note = ?", (note, size, expected)
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return cursor.rowcount == 1

    def watch(self, log: bool = True) -> None:
        """SQLite announces nothing: followers poll."""
        return

    def close(self) -> None:
        self._writer_lock.close()
        self._connections.close()
