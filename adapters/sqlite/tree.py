"""The Merkle tree beside the log on SQLite (``merkle_tiles``, ``checkpoints``; the legacy ``merkle_nodes``
until ``ledger migrate``): the one module that writes SQL for those tables on this backend (implements
:class:`ledger_core.engine.ports.TreeStore`).

The tree is stored as C2SP tlog-tiles (``adapters/tree_layout.py``): one row per tile of 256 hashes, a
partial tile rewritten as it grows, a full one written once; nodes between tile levels are computed
from the tile below, through a read-through cache of expanded tiles. :class:`SQLiteCheckpoints` holds
the checkpoint reads over any connection (an outbox transaction uses them too); leaves come from the
log module (:class:`~adapters.sqlite.log.SQLiteLogReader`).

Tiles and checkpoint of one integration are written inside one ``BEGIN IMMEDIATE`` transaction (the
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
from adapters.sqlite.log import SQLiteLogReader
from adapters.tree_layout import (
    DEFAULT_CACHE_TILES,
    TileCache,
    TileKey,
    TileNodes,
    TileRow,
    checkpoint_record,
    implied_nodes,
    tile_writes,
)
from ledger_core.engine.merkle import CheckpointRecord, SealConflict
from proofs.tree import NodeId, StoredNode

TREE_SCHEMA = """
CREATE TABLE IF NOT EXISTS merkle_tiles (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    width INTEGER NOT NULL CHECK (width BETWEEN 1 AND 256),
    data BLOB NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
"""
_CHECKPOINT = "SELECT size, root_hash, note, signed_at FROM checkpoints"
_UPSERT_TILE = (
    "INSERT INTO merkle_tiles (level, idx, width, data) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data"
    " WHERE merkle_tiles.width < 256 AND excluded.width > merkle_tiles.width"
)
_TILE_EDGE = "SELECT data FROM merkle_tiles WHERE level = ? AND idx = ?"
_MAX_TILES_PER_QUERY = 400


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

    def __init__(self, path: str | Path, *, cache_tiles: int = DEFAULT_CACHE_TILES) -> None:
        super().__init__(self._fetch_all)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = ThreadConnections(self.path)
        # The log writers' file lock (adapters/sqlite/connections.py): queueing on it too hands the write
        # lock over directly instead of through SQLite's busy handler.
        self._writer_lock = WriterLock(self.path)
        self._log = SQLiteLogReader(self._fetch_all)
        self._nodes = TileNodes(self._read_tiles, TileCache(cache_tiles))
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
        return self._nodes.fetch_nodes(ids)

    def nodes_completed_in(self, begin: int, end: int) -> Mapping[NodeId, bytes]:
        return self._nodes.nodes_completed_in(begin, end)

    def count_nodes(self) -> int:
        return sum(implied_nodes(int(width)) for (width,) in self._fetch_all("SELECT width FROM merkle_tiles", ()))

    def read_tile(self, level: int, index: int, width: int = 256) -> bytes | None:
        tile = self._nodes.tiles({(level, index): width}).get((level, index))
        return None if tile is None or tile.width < width else tile.rows[0]

    def _read_tiles(self, keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        found: dict[TileKey, bytes] = {}
        for start in range(0, len(keys), _MAX_TILES_PER_QUERY):
            chunk = keys[start : start + _MAX_TILES_PER_QUERY]
            values = ",".join("(?, ?)" for _ in chunk)
            sql = f"SELECT level, idx, data FROM merkle_tiles WHERE (level, idx) IN (VALUES {values})"
            rows = self._fetch_all(sql, [v for key in chunk for v in key])
            found.update(((int(level), int(index)), bytes(data)) for level, index, data in rows)
        return found

    def commit_integration(self, old_size: int, nodes: Sequence[StoredNode], checkpoint: CheckpointRecord) -> None:
        with self._connection() as conn, self._writer_lock.held():
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT COALESCE(MAX(size), 0) FROM checkpoints").fetchone()
                if int(row[0]) != old_size:
                    raise SealConflict(old_size, int(row[0]))
                self._write_tiles(conn, old_size, nodes)
                conn.execute(
                    "INSERT INTO checkpoints (size, root_hash, note, signed_at) VALUES (?, ?, ?, ?)",
                    (checkpoint.size, checkpoint.root_hash, checkpoint.note, checkpoint.signed_at),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _write_tiles(conn: sqlite3.Connection, old_size: int, nodes: Sequence[StoredNode]) -> list[TileRow]:
        def edge(level: int, index: int) -> bytes | None:
            found = conn.execute(_TILE_EDGE, (level, index)).fetchone()
            return None if found is None else bytes(found[0])

        rows = tile_writes(old_size, nodes, edge)
        conn.executemany(_UPSERT_TILE, rows)
        return rows

    # -- migration from one row per node (``ledger migrate``, adapters/tree_migration.py) --------------
    def has_legacy_nodes(self) -> bool:
        """Whether the pre-tiles ``merkle_nodes`` table is still here."""
        return bool(self._fetch_all("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'merkle_nodes'", ()))

    def legacy_nodes_completed_in(self, begin: int, end: int) -> Mapping[NodeId, bytes]:
        """Legacy node rows (level >= 1) whose last leaf is in ``[begin, end)``."""
        clauses = []
        params: list[int] = []
        for level in range(1, max(end, 1).bit_length() + 1):
            if (end >> level) > (begin >> level):
                clauses.append("(level = ? AND idx BETWEEN ? AND ?)")
                params += [level, begin >> level, (end >> level) - 1]
        if not clauses:
            return {}
        rows = self._fetch_all(f"SELECT level, idx, hash FROM merkle_nodes WHERE {' OR '.join(clauses)}", params)
        return {NodeId(int(level), int(index)): bytes(digest) for level, index, digest in rows}

    def tiled_size(self) -> int:
        """Leaves covered by the level-0 tiles (the size the tiles were written up to)."""
        row = self._one("SELECT COALESCE(SUM(width), 0) FROM merkle_tiles WHERE level = 0")
        return 0 if row is None else int(row[0])

    def store_migrated_tiles(self, old_size: int, nodes: Sequence[StoredNode]) -> None:
        """Write the tiles of leaves ``old_size..`` (one transaction) if the tiles still end at ``old_size``."""
        with self._connection() as conn, self._writer_lock.held():
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT COALESCE(SUM(width), 0) FROM merkle_tiles WHERE level = 0").fetchone()
                if int(row[0]) != old_size:
                    raise SealConflict(old_size, int(row[0]))
                self._write_tiles(conn, old_size, nodes)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def drop_legacy_nodes(self) -> None:
        """Drop ``merkle_nodes`` (after the tiles were checked against every checkpoint)."""
        with self._connection() as conn, self._writer_lock.held():
            conn.execute("DROP TABLE IF EXISTS merkle_nodes")

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
