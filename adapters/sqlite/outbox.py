"""The webhook outbox on SQLite (``webhook_*`` tables): the one module that writes SQL for them on this
backend. The log's own file, so projector writes and the log share one database.

Durability and locking: every outbox transaction takes the file's writer lock
(:class:`~adapters.sqlite.connections.WriterLock`, the one the log recorder takes) and then ``BEGIN
IMMEDIATE``, so writes of the log, the projector and the dispatcher are serialised and each commits with
an fsync (``synchronous=FULL``). Claiming due deliveries happens inside that lock: two dispatcher threads
or processes never lease the same delivery. The log and the checkpoints are read through their own
modules (:class:`~adapters.sqlite.log.SQLiteLogReader`, :class:`~adapters.sqlite.tree.SQLiteCheckpoints`)
on the transaction's connection, so in its snapshot.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adapters.outbox import (
    CANCELLED,
    PENDING,
    AttemptRecord,
    DeliveryOrigin,
    DeliveryRecord,
    DueDelivery,
    OutboxStore,
    OutboxTransaction,
    Tracking,
    delivery_record,
    due_delivery,
    event_types_text,
)
from adapters.sqlite.connections import ThreadConnections, WriterLock
from adapters.sqlite.log import SQLiteLogReader
from adapters.sqlite.tree import SQLiteCheckpoints

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_tracking (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    partner_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    url TEXT NOT NULL,
    event_types TEXT NOT NULL,
    secret_id TEXT NOT NULL,
    previous_secret_id TEXT,
    previous_secret_until REAL,
    enabled INTEGER NOT NULL,
    partner_active INTEGER NOT NULL,
    PRIMARY KEY (partner_id, endpoint_id)
);
CREATE TABLE IF NOT EXISTS webhook_messages (
    message_id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    position INTEGER,
    body BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_messages_partner ON webhook_messages (partner_id, position);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at REAL NOT NULL,
    lease_until REAL NOT NULL,
    last_status_code INTEGER,
    last_error TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL,
    origin TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON webhook_deliveries (partner_id, endpoint_id, id);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    started_at REAL NOT NULL,
    status_code INTEGER,
    latency_ms REAL NOT NULL,
    error TEXT,
    tls_version TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
"""

CLAIM = (
    "SELECT d.id, d.message_id, m.event_type, m.body, d.attempts, d.partner_id, d.endpoint_id, e.url, e.secret_id,"
    " e.previous_secret_id, e.previous_secret_until FROM webhook_deliveries d"
    " JOIN webhook_endpoints e ON e.partner_id = d.partner_id AND e.endpoint_id = d.endpoint_id"
    " JOIN webhook_messages m ON m.message_id = d.message_id"
    " WHERE d.status = ? AND d.next_attempt_at <= ? AND d.lease_until <= ? AND e.enabled = 1 AND e.partner_active = 1"
    " ORDER BY d.next_attempt_at, d.id LIMIT ?"
)


DELIVERY_COLUMNS = (
    "d.id, d.message_id, d.endpoint_id, m.event_type, m.position, d.status, d.attempts, d.next_attempt_at,"
    " d.last_status_code, d.last_error, d.created_at, d.delivered_at, d.origin"
)
_DELIVERIES = (
    f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_messages m ON m.message_id = d.message_id"
)
_TRACKED = "SELECT position FROM webhook_tracking WHERE name = ?"
_INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries (message_id, partner_id, endpoint_id, status, attempts, next_attempt_at,"
    " lease_until, created_at, origin) VALUES (?, ?, ?, ?, 0, ?, 0, ?, ?)"
)


class SQLiteOutboxTransaction(OutboxTransaction):
    """One transaction on the outbox tables of a SQLite file (see the module docstring)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self.log = SQLiteLogReader(self._fetch)
        self.checkpoints = SQLiteCheckpoints(self._fetch)

    def _fetch(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()  # type: ignore[no-any-return]

    # -- tracking -------------------------------------------------------------------------------------
    def lock_tracking(self, name: Tracking) -> int:
        """The follower's position (this transaction holds the write lock); the row is created (at 0) only
        the first time: one statement per step afterwards."""
        rows = self.execute(_TRACKED, (name,))
        if not rows:
            self.execute(
                "INSERT INTO webhook_tracking (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING", (name,)
            )
            rows = self.execute(_TRACKED, (name,))
        return int(rows[0][0])

    def set_tracking(self, name: Tracking, position: int) -> None:
        self.execute("UPDATE webhook_tracking SET position = ? WHERE name = ?", (position, name))

    def tracked(self, name: Tracking) -> int:
        rows = self.execute(_TRACKED, (name,))
        return int(rows[0][0]) if rows else 0

    # -- endpoints ------------------------------------------------------------------------------------
    def upsert_endpoint(
        self, partner_id: str, endpoint_id: str, url: str, event_types: Sequence[str], secret_id: str
    ) -> None:
        self.execute(
            "INSERT INTO webhook_endpoints (partner_id, endpoint_id, url, event_types, secret_id, enabled,"
            " partner_active) VALUES (?, ?, ?, ?, ?, 1, 1) ON CONFLICT (partner_id, endpoint_id) DO UPDATE SET"
            " url = excluded.url, event_types = excluded.event_types, secret_id = excluded.secret_id",
            (partner_id, endpoint_id, url, event_types_text(event_types), secret_id),
        )

    def rotate_endpoint_secret(
        self, partner_id: str, endpoint_id: str, secret_id: str, previous: str, previous_until: float
    ) -> None:
        self.execute(
            "UPDATE webhook_endpoints SET secret_id = ?, previous_secret_id = ?, previous_secret_until = ?"
            " WHERE partner_id = ? AND endpoint_id = ?",
            (secret_id, previous, previous_until, partner_id, endpoint_id),
        )

    def set_endpoint_enabled(self, partner_id: str, endpoint_id: str, enabled: bool) -> None:
        self.execute(
            "UPDATE webhook_endpoints SET enabled = ? WHERE partner_id = ? AND endpoint_id = ?",
            (int(enabled), partner_id, endpoint_id),
        )

    def remove_endpoint(self, partner_id: str, endpoint_id: str) -> None:
        self.execute(
            "DELETE FROM webhook_endpoints WHERE partner_id = ? AND endpoint_id = ?", (partner_id, endpoint_id)
        )
        self.execute(
            "UPDATE webhook_deliveries SET status = ? WHERE partner_id = ? AND endpoint_id = ? AND status = ?",
            (CANCELLED, partner_id, endpoint_id, PENDING),
        )

    def set_partner_active(self, partner_id: str, active: bool) -> None:
        self.execute("UPDATE webhook_endpoints SET partner_active = ? WHERE partner_id = ?", (int(active), partner_id))

    def subscriptions(self, partner_id: str) -> list[tuple[str, str]]:
        sql = "SELECT endpoint_id, event_types FROM webhook_endpoints WHERE partner_id = ? ORDER BY endpoint_id"
        return [(str(endpoint), str(types)) for endpoint, types in self.execute(sql, (partner_id,))]

    # -- messages and deliveries ----------------------------------------------------------------------
    def insert_message_if_new(self, row: tuple[Any, ...]) -> bool:
        inserted = self.execute(
            "INSERT INTO webhook_messages (message_id, partner_id, event_type, position, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            row,
        )
        return bool(inserted)

    def insert_messages(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.executemany(
            "INSERT INTO webhook_messages (message_id, partner_id, event_type, position, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
            rows,
        )

    def insert_deliveries(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.executemany(_INSERT_DELIVERY, rows)

    def add_delivery(
        self, message_id: str, partner_id: str, endpoint_id: str, now: float, origin: DeliveryOrigin
    ) -> int:
        rows = self.execute(
            f"{_INSERT_DELIVERY} RETURNING id", (message_id, partner_id, endpoint_id, PENDING, now, now, origin)
        )
        return int(rows[0][0])

    def claim_due(self, now: float, limit: int, lease_until: float) -> list[DueDelivery]:
        due = [due_delivery(row, now) for row in self.execute(CLAIM, (PENDING, now, now, limit))]
        if due:
            marks = ",".join("?" * len(due))
            self.execute(
                f"UPDATE webhook_deliveries SET lease_until = ? WHERE id IN ({marks})",
                (lease_until, *(d.delivery_id for d in due)),
            )
        return due

    def insert_attempts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.executemany(
            "INSERT INTO webhook_attempts"
            " (delivery_id, attempt, started_at, status_code, latency_ms, error, tls_version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id, attempt) DO NOTHING",
            rows,
        )

    def update_deliveries(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.executemany(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, lease_until = 0,"
            " last_status_code = ?, last_error = ?, delivered_at = ? WHERE id = ?",
            rows,
        )

    # -- logs and recovery ----------------------------------------------------------------------------
    def list_deliveries(
        self, partner_id: str, endpoint_id: str, *, limit: int, starting_after: int | None, status: str | None
    ) -> list[DeliveryRecord]:
        clauses = ["d.partner_id = ?", "d.endpoint_id = ?"]
        params: list[object] = [partner_id, endpoint_id]
        if starting_after is not None:
            clauses.append("d.id < ?")
            params.append(starting_after)
        if status is not None:
            clauses.append("d.status = ?")
            params.append(status)
        sql = f"{_DELIVERIES} WHERE {' AND '.join(clauses)} ORDER BY d.id DESC LIMIT ?"
        return [delivery_record(row) for row in self.execute(sql, (*params, limit))]

    def get_delivery(self, partner_id: str, delivery_id: int) -> DeliveryRecord | None:
        rows = self.execute(f"{_DELIVERIES} WHERE d.partner_id = ? AND d.id = ?", (partner_id, delivery_id))
        return delivery_record(rows[0]) if rows else None

    def attempts(self, delivery_id: int) -> list[AttemptRecord]:
        rows = self.execute(
            "SELECT attempt, started_at, status_code, latency_ms, error, tls_version FROM webhook_attempts"
            " WHERE delivery_id = ?"
            " ORDER BY attempt",
            (delivery_id,),
        )
        return [AttemptRecord(int(a), float(s), c, float(lat), e, t) for a, s, c, lat, e, t in rows]

    def replay_messages(
        self, partner_id: str, types: Sequence[str], *, since_position: int | None, since_time: float | None
    ) -> list[str]:
        clauses = ["partner_id = ?"]
        params: list[object] = [partner_id]
        if since_position is not None:
            clauses.append("position >= ?")
            params.append(since_position)
        if since_time is not None:
            clauses.append("created_at >= ?")
            params.append(since_time)
        marks = ",".join("?" * len(types))
        sql = (
            f"SELECT message_id FROM webhook_messages WHERE {' AND '.join(clauses)} AND event_type IN ({marks})"
            " ORDER BY position, created_at"
        )
        return [row[0] for row in self.execute(sql, (*params, *types))]

    def delivery_counts(self) -> dict[str, int]:
        rows = self.execute("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
        return {str(status): int(count) for status, count in rows}


class SQLiteOutboxStore(OutboxStore):
    """The outbox in the SQLite file ``path`` (tables created if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._connections = ThreadConnections(self.path)
        self._writer_lock = WriterLock(self.path)
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(webhook_attempts)")}
            if "tls_version" not in columns:  # a ledger created before the column existed
                conn.execute("ALTER TABLE webhook_attempts ADD COLUMN tls_version TEXT")

    @contextmanager
    def transaction(self) -> Iterator[OutboxTransaction]:
        with self._connections.connection() as conn, self._writer_lock.held():
            # WAL + NORMAL: a power loss may undo the latest outbox commits, but never half of one; the
            # projector's tracking and its deliveries go back together (re-enqueued: still exactly once),
            # and a lost "delivered" mark means one more delivery (at-least-once).
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield SQLiteOutboxTransaction(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self) -> Iterator[OutboxTransaction]:
        with self._connections.connection() as conn:
            yield SQLiteOutboxTransaction(conn)

    def close(self) -> None:
        self._writer_lock.close()
        self._connections.close()
