"""The webhook outbox on PostgreSQL, beside ``ledger_log``; safe with many dispatcher processes.

Durability and locking: each outbox transaction is one PostgreSQL transaction. A projector locks its
tracking row (``SELECT ... FOR UPDATE``), reads the log from there and writes outbox rows and the new
position before committing, so two projectors never enqueue the same entries and a crash loses nothing.
Dispatchers lease due deliveries with ``FOR UPDATE SKIP LOCKED``: N processes claim disjoint sets
without waiting on each other.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from adapters.postgres.notifications import HeadWatch
from adapters.postgres.recorder import create_schema, translate
from adapters.postgres.session_lock import SessionLock
from adapters.webhooks.outbox import PENDING, DueDelivery, OutboxStore, OutboxTransaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_tracking (name TEXT PRIMARY KEY, position BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    partner_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    url TEXT NOT NULL,
    event_types TEXT NOT NULL,
    secret_id TEXT NOT NULL,
    previous_secret_id TEXT,
    previous_secret_until DOUBLE PRECISION,
    enabled INTEGER NOT NULL,
    partner_active INTEGER NOT NULL,
    PRIMARY KEY (partner_id, endpoint_id)
);
CREATE TABLE IF NOT EXISTS webhook_messages (
    message_id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    position BIGINT,
    body BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_messages_partner ON webhook_messages (partner_id, position);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    message_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    lease_until DOUBLE PRECISION NOT NULL,
    last_status_code INTEGER,
    last_error TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    origin TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON webhook_deliveries (partner_id, endpoint_id, id);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    delivery_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    started_at DOUBLE PRECISION NOT NULL,
    status_code INTEGER,
    latency_ms DOUBLE PRECISION NOT NULL,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
"""

CLAIM = (
    "WITH due AS (SELECT d.id FROM webhook_deliveries d"
    " JOIN webhook_endpoints e ON e.partner_id = d.partner_id AND e.endpoint_id = d.endpoint_id"
    " WHERE d.status = %s AND d.next_attempt_at <= %s AND d.lease_until <= %s AND e.enabled = 1"
    " AND e.partner_active = 1 ORDER BY d.next_attempt_at, d.id LIMIT %s FOR UPDATE OF d SKIP LOCKED)"
    " UPDATE webhook_deliveries AS d SET lease_until = %s FROM due, webhook_endpoints e, webhook_messages m"
    " WHERE d.id = due.id AND e.partner_id = d.partner_id AND e.endpoint_id = d.endpoint_id"
    " AND m.message_id = d.message_id"
    " RETURNING d.id, d.message_id, m.event_type, m.body, d.attempts, d.partner_id, d.endpoint_id, e.url,"
    " e.secret_id, e.previous_secret_id, e.previous_secret_until"
)


INSERT_MESSAGES = (
    "INSERT INTO webhook_messages (message_id, partner_id, event_type, position, body, created_at)"
    " SELECT r.message_id, r.partner_id, r.event_type, r.position, r.body, r.created_at"
    " FROM unnest(%s::text[], %s::text[], %s::text[], %s::int8[], %s::bytea[], %s::float8[])"
    " WITH ORDINALITY AS r(message_id, partner_id, event_type, position, body, created_at, n) ORDER BY n"
    " ON CONFLICT (message_id) DO NOTHING"
)
INSERT_DELIVERIES = (
    "INSERT INTO webhook_deliveries (message_id, partner_id, endpoint_id, status, attempts, next_attempt_at,"
    " lease_until, created_at, origin) SELECT r.message_id, r.partner_id, r.endpoint_id, r.status, 0, r.next_at, 0,"
    " r.created_at, r.origin FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::float8[], %s::float8[],"
    " %s::text[]) WITH ORDINALITY AS r(message_id, partner_id, endpoint_id, status, next_at, created_at, origin, n)"
    " ORDER BY r.n"
)
# The projector's advisory lock (two-key form, per schema like the sealer's): one projector polls.
PROJECTOR_LOCK_CLASS = 0x57484B50  # "WHKP"
LEAD_RETRY_SECONDS = 1.0


class PostgresOutboxTransaction(OutboxTransaction):
    P = "%s"

    def _lock_suffix(self, sql: str) -> str:
        return sql + " FOR UPDATE"

    def row_columns(self) -> str:
        return "position, originator_id::text, originator_version, topic, partner_id, entry, leaf_hash"

    def id_param(self) -> str:
        return "?::uuid"

    def claim_due(self, now: float, limit: int, lease_until: float) -> list[DueDelivery]:
        rows = self.conn.execute(CLAIM, (PENDING, now, now, limit, lease_until)).fetchall()
        return sorted((self._due(row, now) for row in rows), key=lambda d: d.delivery_id)

    def insert_messages(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """One statement for the whole batch (the rows as arrays), not one per row."""
        if rows:
            self.conn.execute(INSERT_MESSAGES, [list(column) for column in zip(*rows, strict=True)])

    def insert_deliveries(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self.conn.execute(INSERT_DELIVERIES, [list(column) for column in zip(*rows, strict=True)])


class PostgresOutboxStore(OutboxStore):
    """The outbox in the PostgreSQL database ``conninfo`` (tables created if missing)."""

    def __init__(self, conninfo: str, *, pool_size: int = 4, create_tables: bool = True) -> None:
        self.conninfo = conninfo
        self._projector_lock = SessionLock(conninfo, PROJECTOR_LOCK_CLASS)
        self._leading = False
        self._next_check = float("-inf")
        self.lead_retry = LEAD_RETRY_SECONDS
        self._watch: HeadWatch | None = None
        try:
            if create_tables:
                create_schema(conninfo, SCHEMA)
            self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                conninfo, min_size=1, max_size=pool_size, open=True, name="webhooks"
            )
        except psycopg.Error as error:
            raise translate(error) from error

    @contextmanager
    def transaction(self) -> Iterator[OutboxTransaction]:
        try:
            with self.pool.connection() as conn, conn.transaction():
                yield PostgresOutboxTransaction(conn)
        except psycopg.Error as error:
            raise translate(error) from error

    def read(self) -> AbstractContextManager[OutboxTransaction]:
        return self.transaction()

    def has_checkpoints(self) -> bool:
        with self.transaction() as tx:
            rows = tx.execute("SELECT to_regclass('checkpoints') IS NOT NULL")
        return bool(rows and rows[0][0])

    def lead(self) -> bool:
        """Hold the projector's session advisory lock (per schema): one projector polls.

        Checked at most once per ``lead_retry`` seconds (a follower then tries to take over, the leader
        checks its connection). Only a throttle: projectors stay correct without it (the tracking row
        lock)."""
        now = time.monotonic()
        if now < self._next_check:
            return self._leading
        self._next_check = now + self.lead_retry
        self._leading = False
        self._leading = self._projector_lock.try_acquire()
        return self._leading

    def watch(self) -> HeadWatch:
        if self._watch is None:
            self._watch = HeadWatch(self.conninfo)
        return self._watch

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        self._projector_lock.release()
        self.pool.close()
