"""The Merkle tree beside the log on PostgreSQL (implements :class:`ledger_core.engine.ports.TreeStore`).

One integration is one transaction: ``LOCK TABLE checkpoints IN EXCLUSIVE MODE`` (readers never
wait), check the latest checkpoint is still the one the sealer started from, ``COPY`` the nodes, insert
the checkpoint, ``pg_notify('ledger_checkpoint', size)``, ``COMMIT``. Leadership among sealers is a
session-level advisory lock held on a dedicated connection: it is released when that connection
closes, so a sealer that dies hands over to the next one. See README.md beside this file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from adapters.merkle._common import CheckpointReads, chunks, completed_ranges, split_ids
from adapters.postgres.notifications import CHECKPOINT_CHANNEL, HEAD_QUERIES, LOG_CHANNEL, HeadWatch
from adapters.postgres.recorder import SCHEMA as LOG_SCHEMA
from adapters.postgres.recorder import create_schema, translate
from adapters.postgres.session_lock import SessionLock
from ledger_core.engine.merkle import CheckpointRecord, SealConflict
from proofs.tree import NodeId, StoredNode

# Advisory lock of the sealer, two-key form: a fixed class and hashtext(current_schema()), so ledgers in
# different schemas of one database (tests, tenants) elect their sealers independently.
SEALER_LOCK_CLASS = 0x4C454447  # "LEDG"

TREE_SCHEMA = """
CREATE TABLE IF NOT EXISTS merkle_nodes (
    level SMALLINT NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size BIGINT PRIMARY KEY,
    root_hash BYTEA NOT NULL,
    note TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
"""
_FETCH_LEAVES = "SELECT 0::int2, position, leaf_hash FROM ledger_log WHERE position = ANY(%b::int8[])"
_FETCH_NODES = (
    "SELECT m.level, m.idx, m.hash FROM unnest(%b::int2[], %b::int8[]) AS q(level, idx)"
    " JOIN merkle_nodes m ON m.level = q.level AND m.idx = q.idx"
)
_COMPLETED = (
    "SELECT m.level, m.idx, m.hash FROM unnest(%s::int2[], %s::int8[], %s::int8[]) AS q(level, lo, hi)"
    " JOIN merkle_nodes m ON m.level = q.level AND m.idx BETWEEN q.lo AND q.hi"
)


class PostgresTreeStore(CheckpointReads):
    """Tree storage in the ledger's PostgreSQL database (tables created if missing, the log's included)."""

    def __init__(self, conninfo: str, *, pool_size: int = 4, create_tables: bool = True) -> None:
        self.conninfo = conninfo
        try:
            if create_tables:
                create_schema(conninfo, LOG_SCHEMA + TREE_SCHEMA)
            self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                conninfo, min_size=1, max_size=pool_size, open=True, name="ledger-tree", kwargs={"autocommit": True}
            )
        except psycopg.Error as error:
            raise translate(error) from error
        self._sealer_lock = SessionLock(conninfo, SEALER_LOCK_CLASS)
        self._watches: dict[str, HeadWatch] = {}

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.Error as error:
            raise translate(error) from error

    PARAM = "%s"

    def _one(self, sql: str, params: Sequence[object] = ()) -> Any:
        with self._connection() as conn:
            return conn.execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
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

    def watch(self, log: bool = True) -> HeadWatch:
        """The checkpoint (and, with ``log``, the log) heads announced by notifications, started on first use
        (a hint, see :class:`~adapters.postgres.notifications.HeadWatch`). Seal waiters need no log head:
        they are not woken by every log commit."""
        key = LOG_CHANNEL if log else CHECKPOINT_CHANNEL
        full = self._watches.get(LOG_CHANNEL)
        if full is not None:
            return full
        watch = self._watches.get(key)
        if watch is None:
            channels = HEAD_QUERIES if log else {CHECKPOINT_CHANNEL: HEAD_QUERIES[CHECKPOINT_CHANNEL]}
            watch = self._watches[key] = HeadWatch(self.conninfo, channels)
        return watch

    # -- TreeStore -------------------------------------------------------------------------------------
    def log_size(self) -> int:
        row = self._one("SELECT MAX(position) FROM ledger_log")
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def integrated_size(self) -> int:
        row = self._one("SELECT MAX(size) FROM checkpoints")
        return 0 if row is None or row[0] is None else int(row[0])

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT leaf_hash FROM ledger_log WHERE position >= %s AND position < %s ORDER BY position",
                (start, stop),
            ).fetchall()
        return [bytes(row[0]) for row in rows]

    def fetch_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        found: dict[NodeId, bytes] = {}
        for chunk in chunks(ids):
            leaves, upper = split_ids(chunk)
            levels = [level for level, indexes in upper.items() for _ in indexes]
            indexes = [index for group in upper.values() for index in group]
            with self._connection() as conn:
                rows = conn.execute(f"{_FETCH_LEAVES} UNION ALL {_FETCH_NODES}", (leaves, levels, indexes)).fetchall()
            found.update((NodeId(level, index), bytes(digest)) for level, index, digest in rows)
        return found

    def nodes_completed_in(self, begin: int, end: int) -> Mapping[NodeId, bytes]:
        ranges = completed_ranges(begin, end)
        if not ranges:
            return {}
        columns = [list(column) for column in zip(*ranges, strict=True)]
        with self._connection() as conn:
            rows = conn.execute(_COMPLETED, columns).fetchall()
        return {NodeId(level, index): bytes(digest) for level, index, digest in rows}

    def count_nodes(self) -> int:
        row = self._one("SELECT COUNT(*) FROM merkle_nodes")
        return 0 if row is None else int(row[0])

    def commit_integration(self, old_size: int, nodes: Sequence[StoredNode], checkpoint: CheckpointRecord) -> None:
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute("LOCK TABLE checkpoints IN EXCLUSIVE MODE")
                row = conn.execute("SELECT COALESCE(MAX(size), 0) FROM checkpoints").fetchone()
                found = 0 if row is None else int(row[0])
                if found != old_size:
                    raise SealConflict(old_size, found)
                with (
                    conn.cursor() as cursor,
                    cursor.copy("COPY merkle_nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)") as copy,
                ):
                    copy.set_types(["int2", "int8", "bytea"])
                    for node in nodes:
                        if node.level > 0:
                            copy.write_row((node.level, node.index, node.hash))
                conn.execute(
                    "INSERT INTO checkpoints (size, root_hash, note, signed_at) VALUES (%s, %s, %s, %s)",
                    (checkpoint.size, checkpoint.root_hash, checkpoint.note, checkpoint.signed_at),
                )
                conn.execute("SELECT pg_notify('ledger_checkpoint', %s)", (str(checkpoint.size),))
        except psycopg.Error as error:
            raise translate(error) from error

    def close(self) -> None:
        self.release_leadership()
        for watch in self._watches.values():
            watch.close()
        self.pool.close()
