"""The webhook outbox on SQLite: the log's own file, so projector writes and the log share one database.

Durability and locking: every outbox transaction takes the file's writer lock
(:class:`~adapters.sqlite.connections.WriterLock`, the one the log recorder takes) and then ``BEGIN
IMMEDIATE``, so writes of the log, the projector and the dispatcher are serialised and each commits with
an fsync (``synchronous=FULL``). Claiming due deliveries happens inside that lock: two dispatcher threads
or processes never lease the same delivery.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from adapters.sqlite.connections import ThreadConnections, WriterLock
from adapters.webhooks.outbox import PENDING, DueDelivery, OutboxStore, OutboxTransaction

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


class SQLiteOutboxTransaction(OutboxTransaction):
    def claim_due(self, now: float, limit: int, lease_until: float) -> list[DueDelivery]:
        due = [self._due(row, now) for row in self.execute(CLAIM, (PENDING, now, now, limit))]
        if due:
            marks = ",".join("?" * len(due))
            self.execute(
                f"UPDATE webhook_deliveries SET lease_until = ? WHERE id IN ({marks})",
                (lease_until, *(d.delivery_id for d in due)),
            )
        return due


class SQLiteOutboxStore(OutboxStore):
    """The outbox in the SQLite file ``path`` (tables created if missing)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._connections = ThreadConnections(self.path)
        self._writer_lock = WriterLock(self.path)
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

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

    def has_checkpoints(self) -> bool:
        with self._connections.connection() as conn:
            row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'").fetchone()
        return row is not None

    def close(self) -> None:
        self._writer_lock.close()
        self._connections.close()
