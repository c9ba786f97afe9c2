"""The Merkle tree beside the log on PostgreSQL (``merkle_tiles``, ``checkpoints``; the legacy
``merkle_nodes`` until ``ledger migrate``): the one module that writes SQL for those tables on this
backend (implements :class:`ledger_core.engine.ports.TreeStore`).

The tree is stored as C2SP tlog-tiles (``adapters/tree_layout.py``): one row per tile of 256 hashes
(``data`` stored out of line, uncompressed: hashes do not compress), a partial tile rewritten as it
grows, a full one written once; nodes between tile levels are computed from the tile below, through a
read-through cache of expanded tiles. :class:`PostgresCheckpoints` holds the checkpoint reads over any
connection (an outbox transaction uses them too); leaves come from the log module
(:class:`~adapters.postgres.log.PostgresLogReader`).

One integration is one transaction: ``LOCK TABLE checkpoints IN EXCLUSIVE MODE`` (readers never
wait), check the latest checkpoint is still the one the sealer started from, upsert the tiles, insert
the checkpoint, ``pg_notify('ledger_checkpoint', size)``, ``COMMIT``. Leadership among sealers is a
session-level advisory lock held on a dedicated connection: it is released when that connection
closes, so a sealer that dies hands over to the next one. See README.md beside this file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from adapters.ports import Head
from adapters.postgres.connections import Fetch, Pool, open_pool, pooled, translate
from adapters.postgres.log import LOG_HEADS, PostgresLogReader
from adapters.postgres.log import SCHEMA as LOG_SCHEMA
from adapters.postgres.notifications import Channel, PostgresHeadWatch
from adapters.postgres.session_lock import SessionLock
from adapters.tree_layout import (
    DEFAULT_CACHE_TILES,
    TileCache,
    TileKey,
    TileNodes,
    checkpoint_record,
    implied_nodes,
    tile_writes,
)
from ledger_core.engine.merkle import CheckpointRecord, SealConflict
from proofs.tree import NodeId, StoredNode

# Advisory lock of the sealer, two-key form: a fixed class and hashtext(current_schema()), so ledgers in
# different schemas of one database (tests, tenants) elect their sealers independently.
SEALER_LOCK_CLASS = 0x4C454447  # "LEDG"

TREE_SCHEMA = """
CREATE TABLE IF NOT EXISTS merkle_tiles (
    level SMALLINT NOT NULL,
    idx BIGINT NOT NULL,
    width SMALLINT NOT NULL CHECK (width BETWEEN 1 AND 256),
    data BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
DO $$ BEGIN  -- tile data out of line and uncompressed (hashes do not compress); only once: ALTER locks the table
    IF (SELECT attstorage FROM pg_attribute WHERE attrelid = 'merkle_tiles'::regclass AND attname = 'data') <> 'e'
    THEN ALTER TABLE merkle_tiles ALTER COLUMN data SET STORAGE EXTERNAL;
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS checkpoints (
    size BIGINT PRIMARY KEY,
    root_hash BYTEA NOT NULL,
    note TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
"""
CHECKPOINT_HEADS = Channel("ledger_checkpoint", "SELECT COALESCE(MAX(size), 0) FROM checkpoints")
"""``pg_notify`` channel of the sealer's commits, and the query of the signed size."""
WATCHED_HEADS: Mapping[Head, Channel] = {Head.LOG: LOG_HEADS, Head.CHECKPOINT: CHECKPOINT_HEADS}
"""Both heads, as a :class:`PostgresHeadWatch` of the sealer or the webhook projector listens to them."""
_NOTIFY = "SELECT pg_notify('ledger_checkpoint', %s)"
_CHECKPOINT = "SELECT size, root_hash, note, signed_at FROM checkpoints"
_FETCH_TILES = (
    "SELECT t.level, t.idx, t.data FROM unnest(%b::int2[], %b::int8[]) AS q(level, idx)"
    " JOIN merkle_tiles t ON t.level = q.level AND t.idx = q.idx"
)
_UPSERT_TILE = (
    "INSERT INTO merkle_tiles (level, idx, width, data) VALUES (%s, %s, %s, %s)"
    " ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, data = excluded.data"
    " WHERE merkle_tiles.width < 256 AND excluded.width > merkle_tiles.width"
)
_TILE_EDGE = "SELECT data FROM merkle_tiles WHERE level = %s AND idx = %s"
_TILED_SIZE = "SELECT COALESCE(SUM(width), 0) FROM merkle_tiles WHERE level = 0"
_LEGACY_COMPLETED = (
    "SELECT m.level, m.idx, m.hash FROM unnest(%s::int2[], %s::int8[], %s::int8[]) AS q(level, lo, hi)"
    " JOIN merkle_nodes m ON m.level = q.level AND m.idx BETWEEN q.lo AND q.hi"
)


class PostgresCheckpoints:
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
        return checkpoint_record(self._one(f"{_CHECKPOINT} WHERE size = %s", (size,)))

    def first_checkpoint_after(self, position: int) -> CheckpointRecord | None:
        return checkpoint_record(self._one(f"{_CHECKPOINT} WHERE size > %s ORDER BY size LIMIT 1", (position,)))

    def checkpoints(self, after_size: int, limit: int) -> Sequence[CheckpointRecord]:
        sql = f"{_CHECKPOINT} WHERE size > %s ORDER BY size LIMIT %s"
        return [CheckpointRecord(int(s), bytes(r), n, t) for s, r, n, t in self._fetch(sql, (after_size, limit))]

    def has_checkpoints(self) -> bool:
        row = self._one("SELECT to_regclass('checkpoints') IS NOT NULL")
        return bool(row and row[0])


class PostgresTreeStore(PostgresCheckpoints):
    """Tree storage in the ledger's PostgreSQL database (tables created if missing, the log's included)."""

    def __init__(
        self, conninfo: str, *, pool_size: int = 4, create_tables: bool = True, cache_tiles: int = DEFAULT_CACHE_TILES
    ) -> None:
        super().__init__(self._fetch_all)
        self.conninfo = conninfo
        schema = LOG_SCHEMA + TREE_SCHEMA if create_tables else None
        self.pool: Pool = open_pool(conninfo, name="ledger-tree", size=pool_size, schema=schema)
        self._log = PostgresLogReader(self._fetch_all)
        self._nodes = TileNodes(self._read_tiles, TileCache(cache_tiles))
        self._sealer_lock = SessionLock(conninfo, SEALER_LOCK_CLASS)
        self._watches: dict[Head, PostgresHeadWatch] = {}

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        return pooled(self.pool)

    def _fetch_all(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(sql, params).fetchall()

    # -- leadership ------------------------------------------------------------------------------------
    def try_acquire_leadership(self) -> bool:
        """Take the sealer's session advisory lock without waiting; True if this store now holds it."""
        return self._sealer_lock.try_acquire()

    def holds_leadership(self) -> bool:
        """Whether the lock's connection is still alive (if it died, the lock went with it)."""
        return self._sealer_lock.held()

    def release_leadership(self) -> None:
        self._sealer_lock.release()

    def watch(self, log: bool = True) -> PostgresHeadWatch:
        """The checkpoint (and, with ``log``, the log) heads announced by notifications, started on first use
        (a hint, see :class:`~adapters.ports.HeadWatch`). Seal waiters need no log head: they are not woken
        by every log commit."""
        key = Head.LOG if log else Head.CHECKPOINT
        full = self._watches.get(Head.LOG)
        if full is not None:
            return full
        watch = self._watches.get(key)
        if watch is None:
            channels = WATCHED_HEADS if log else {Head.CHECKPOINT: CHECKPOINT_HEADS}
            watch = self._watches[key] = PostgresHeadWatch(self.conninfo, channels)
        return watch

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
        levels = [level for level, _ in keys]
        indexes = [index for _, index in keys]
        with self._connection() as conn:  # binary results: 8 KiB of bytea each, not hex text to decode
            rows = conn.execute(_FETCH_TILES, (levels, indexes), binary=True).fetchall()
        return {(int(level), int(index)): bytes(data) for level, index, data in rows}

    def commit_integration(self, old_size: int, nodes: Sequence[StoredNode], checkpoint: CheckpointRecord) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute("LOCK TABLE checkpoints IN EXCLUSIVE MODE")
                row = conn.execute("SELECT COALESCE(MAX(size), 0) FROM checkpoints").fetchone()
                found = 0 if row is None else int(row[0])
                if found != old_size:
                    raise SealConflict(old_size, found)
                self._write_tiles(conn, old_size, nodes)
                conn.execute(
                    "INSERT INTO checkpoints (size, root_hash, note, signed_at) VALUES (%s, %s, %s, %s)",
                    (checkpoint.size, checkpoint.root_hash, checkpoint.note, checkpoint.signed_at),
                )
                conn.execute(_NOTIFY, (str(checkpoint.size),))
        except psycopg.Error as error:
            raise translate(error) from error

    @staticmethod
    def _write_tiles(conn: psycopg.Connection[Any], old_size: int, nodes: Sequence[StoredNode]) -> None:
        def edge(level: int, index: int) -> bytes | None:
            found = conn.execute(_TILE_EDGE, (level, index)).fetchone()
            return None if found is None else bytes(found[0])

        rows = tile_writes(old_size, nodes, edge)
        with conn.cursor() as cursor:
            cursor.executemany(_UPSERT_TILE, rows)

    # -- migration from one row per node (``ledger migrate``, adapters/tree_migration.py) --------------
    def has_legacy_nodes(self) -> bool:
        """Whether the pre-tiles ``merkle_nodes`` table is still here (in this schema)."""
        row = self._one("SELECT to_regclass('merkle_nodes') IS NOT NULL")
        return bool(row and row[0])

    def legacy_nodes_completed_in(self, begin: int, end: int) -> Mapping[NodeId, bytes]:
        """Legacy node rows (level >= 1) whose last leaf is in ``[begin, end)``."""
        ranges = [
            (level, begin >> level, (end >> level) - 1)
            for level in range(1, max(end, 1).bit_length() + 1)
            if (end >> level) > (begin >> level)
        ]
        if not ranges:
            return {}
        columns = [list(column) for column in zip(*ranges, strict=True)]
        rows = self._fetch_all(_LEGACY_COMPLETED, columns)
        return {NodeId(int(level), int(index)): bytes(digest) for level, index, digest in rows}

    def tiled_size(self) -> int:
        """Leaves covered by the level-0 tiles (the size the tiles were written up to)."""
        row = self._one(_TILED_SIZE)
        return 0 if row is None else int(row[0])

    def store_migrated_tiles(self, old_size: int, nodes: Sequence[StoredNode]) -> None:
        """Write the tiles of leaves ``old_size..`` (one transaction) if the tiles still end at ``old_size``."""
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute("LOCK TABLE merkle_tiles IN EXCLUSIVE MODE")
                row = conn.execute(_TILED_SIZE).fetchone()
                found = 0 if row is None else int(row[0])
                if found != old_size:
                    raise SealConflict(old_size, found)
                self._write_tiles(conn, old_size, nodes)
        except psycopg.Error as error:
            raise translate(error) from error

    def drop_legacy_nodes(self) -> None:
        """Drop ``merkle_nodes`` (after the tiles were checked against every checkpoint)."""
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute("DROP TABLE IF EXISTS merkle_nodes")
        except psycopg.Error as error:
            raise translate(error) from error

    def update_checkpoint_note(self, size: int, expected: str, note: str) -> bool:
        """Replace the note of checkpoint ``size`` if it is still ``expected`` (witness cosignatures appended)."""
        try:
            with self._connection() as conn, conn.transaction():
                cursor = conn.execute(
                    "UPDATE checkpoints SET note = %s WHERE size = %s AND note = %s", (note, size, expected)
                )
                return cursor.rowcount == 1
        except psycopg.Error as error:
            raise translate(error) from error

    def close(self) -> None:
        self.release_leadership()
        for watch in self._watches.values():
            watch.close()
        self.pool.close()
