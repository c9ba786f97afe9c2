"""The webhook outbox on PostgreSQL (``webhook_*`` tables): the one module that writes SQL for them on this
backend, beside ``ledger_log``; safe with many dispatcher processes.

Durability and locking: each outbox transaction is one PostgreSQL transaction. A projector locks its
tracking row (``SELECT ... FOR UPDATE``), reads the log from there (through
:class:`~adapters.postgres.log.PostgresLogReader` on the same connection) and writes outbox rows and the
new position before committing, so two projectors never enqueue the same entries and a crash loses
nothing. Dispatchers lease due deliveries with ``FOR UPDATE SKIP LOCKED``: N processes claim disjoint
sets without waiting on each other.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg

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
from adapters.postgres.connections import Pool, open_pool, translate
from adapters.postgres.log import PostgresLogReader
from adapters.postgres.notifications import PostgresHeadWatch
from adapters.postgres.session_lock import SessionLock
from adapters.postgres.tree import WATCHED_HEADS, PostgresCheckpoints

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
    tls_version TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
ALTER TABLE webhook_attempts ADD COLUMN IF NOT EXISTS tls_version TEXT;
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
DELIVERY_COLUMNS = (
    "d.id, d.message_id, d.endpoint_id, m.event_type, m.position, d.status, d.attempts, d.next_attempt_at,"
    " d.last_status_code, d.last_error, d.created_at, d.delivered_at, d.origin"
)
_DELIVERIES = (
    f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_messages m ON m.message_id = d.message_id"
)
_TRACKED = "SELECT position FROM webhook_tracking WHERE name = %s"


class PostgresOutboxTransaction(OutboxTransaction):
    """One transaction on the outbox tables of a PostgreSQL database (see the module docstring)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        super().__init__(conn)
        self.log = PostgresLogReader(self._fetch)
        self.checkpoints = PostgresCheckpoints(self._fetch)

    def _fetch(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return self.execute(sql, params)

    # -- tracking -------------------------------------------------------------------------------------
    def lock_tracking(self, name: Tracking) -> int:
        """The follower's position, its row locked (``FOR UPDATE``) for this transaction; the row is created
        (at 0) only the first time: one statement per step afterwards."""
        locking = f"{_TRACKED} FOR UPDATE"
        rows = self.execute(locking, (name,))
        if not rows:
            self.execute(
                "INSERT INTO webhook_tracking (name, position) VALUES (%s, 0) ON CONFLICT (name) DO NOTHING", (name,)
            )
            rows = self.execute(locking, (name,))
        return int(rows[0][0])

    def set_tracking(self, name: Tracking, position: int) -> None:
        self.execute("UPDATE webhook_tracking SET position = %s WHERE name = %s", (position, name))

    def tracked(self, name: Tracking) -> int:
        rows = self.execute(_TRACKED, (name,))
        return int(rows[0][0]) if rows else 0

    # -- endpoints ------------------------------------------------------------------------------------
    def upsert_endpoint(
        self, partner_id: str, endpoint_id: str, url: str, event_types: Sequence[str], secret_id: str
    ) -> None:
        self.execute(
            "INSERT INTO webhook_endpoints (partner_id, endpoint_id, url, event_types, secret_id, enabled,"
            " partner_active) VALUES (%s, %s, %s, %s, %s, 1, 1) ON CONFLICT (partner_id, endpoint_id) DO UPDATE SET"
            " url = excluded.url, event_types = excluded.event_types, secret_id = excluded.secret_id",
            (partner_id, endpoint_id, url, event_types_text(event_types), secret_id),
        )

    def rotate_endpoint_secret(
        self, partner_id: str, endpoint_id: str, secret_id: str, previous: str, previous_until: float
    ) -> None:
        self.execute(
            "UPDATE webhook_endpoints SET secret_id = %s, previous_secret_id = %s, previous_secret_until = %s"
            " WHERE partner_id = %s AND endpoint_id = %s",
            (secret_id, previous, previous_until, partner_id, endpoint_id),
        )

    def set_endpoint_enabled(self, partner_id: str, endpoint_id: str, enabled: bool) -> None:
        self.execute(
            "UPDATE webhook_endpoints SET enabled = %s WHERE partner_id = %s AND endpoint_id = %s",
            (int(enabled), partner_id, endpoint_id),
        )

    def remove_endpoint(self, partner_id: str, endpoint_id: str) -> None:
        self.execute(
            "DELETE FROM webhook_endpoints WHERE partner_id = %s AND endpoint_id = %s", (partner_id, endpoint_id)
        )
        self.execute(
            "UPDATE webhook_deliveries SET status = %s WHERE partner_id = %s AND endpoint_id = %s AND status = %s",
            (CANCELLED, partner_id, endpoint_id, PENDING),
        )

    def set_partner_active(self, partner_id: str, active: bool) -> None:
        self.execute(
            "UPDATE webhook_endpoints SET partner_active = %s WHERE partner_id = %s", (int(active), partner_id)
        )

    def subscriptions(self, partner_id: str) -> list[tuple[str, str]]:
        sql = "SELECT endpoint_id, event_types FROM webhook_endpoints WHERE partner_id = %s ORDER BY endpoint_id"
        return [(str(endpoint), str(types)) for endpoint, types in self.execute(sql, (partner_id,))]

    # -- messages and deliveries ----------------------------------------------------------------------
    def insert_message_if_new(self, row: tuple[Any, ...]) -> bool:
        inserted = self.execute(
            "INSERT INTO webhook_messages (message_id, partner_id, event_type, position, body, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            row,
        )
        return bool(inserted)

    def insert_messages(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """One statement for the whole batch (the rows as arrays), not one per row."""
        if rows:
            self.conn.execute(INSERT_MESSAGES, [list(column) for column in zip(*rows, strict=True)])

    def insert_deliveries(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self.conn.execute(INSERT_DELIVERIES, [list(column) for column in zip(*rows, strict=True)])

    def add_delivery(
        self, message_id: str, partner_id: str, endpoint_id: str, now: float, origin: DeliveryOrigin
    ) -> int:
        rows = self.execute(
            "INSERT INTO webhook_deliveries (message_id, partner_id, endpoint_id, status, attempts, next_attempt_at,"
            " lease_until, created_at, origin) VALUES (%s, %s, %s, %s, 0, %s, 0, %s, %s) RETURNING id",
            (message_id, partner_id, endpoint_id, PENDING, now, now, origin),
        )
        return int(rows[0][0])

    def claim_due(self, now: float, limit: int, lease_until: float) -> list[DueDelivery]:
        rows = self.conn.execute(CLAIM, (PENDING, now, now, limit, lease_until)).fetchall()
        return sorted((due_delivery(row, now) for row in rows), key=lambda d: d.delivery_id)

    def insert_attempts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.executemany(
            "INSERT INTO webhook_attempts"
            " (delivery_id, attempt, started_at, status_code, latency_ms, error, tls_version)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (delivery_id, attempt) DO NOTHING",
            rows,
        )

    def update_deliveries(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.executemany(
            "UPDATE webhook_deliveries SET status = %s, attempts = %s, next_attempt_at = %s, lease_until = 0,"
            " last_status_code = %s, last_error = %s, delivered_at = %s WHERE id = %s",
            rows,
        )

    # -- logs and recovery ----------------------------------------------------------------------------
    def list_deliveries(
        self, partner_id: str, endpoint_id: str, *, limit: int, starting_after: int | None, status: str | None
    ) -> list[DeliveryRecord]:
        clauses = ["d.partner_id = %s", "d.endpoint_id = %s"]
        params: list[object] = [partner_id, endpoint_id]
        if starting_after is not None:
            clauses.append("d.id < %s")
            params.append(starting_after)
        if status is not None:
            clauses.append("d.status = %s")
            params.append(status)
        sql = f"{_DELIVERIES} WHERE {' AND '.join(clauses)} ORDER BY d.id DESC LIMIT %s"
        return [delivery_record(row) for row in self.execute(sql, (*params, limit))]

    def get_delivery(self, partner_id: str, delivery_id: int) -> DeliveryRecord | None:
        rows = self.execute(f"{_DELIVERIES} WHERE d.partner_id = %s AND d.id = %s", (partner_id, delivery_id))
        return delivery_record(rows[0]) if rows else None

    def attempts(self, delivery_id: int) -> list[AttemptRecord]:
        rows = self.execute(
            "SELECT attempt, started_at, status_code, latency_ms, error, tls_version FROM webhook_attempts"
            " WHERE delivery_id = %s"
            " ORDER BY attempt",
            (delivery_id,),
        )
        return [AttemptRecord(int(a), float(s), c, float(lat), e, t) for a, s, c, lat, e, t in rows]

    def replay_messages(
        self, partner_id: str, types: Sequence[str], *, since_position: int | None, since_time: float | None
    ) -> list[str]:
        clauses = ["partner_id = %s"]
        params: list[object] = [partner_id]
        if since_position is not None:
            clauses.append("position >= %s")
            params.append(since_position)
        if since_time is not None:
            clauses.append("created_at >= %s")
            params.append(since_time)
        marks = ",".join(["%s"] * len(types))
        sql = (
            f"SELECT message_id FROM webhook_messages WHERE {' AND '.join(clauses)} AND event_type IN ({marks})"
            " ORDER BY position, created_at"
        )
        return [row[0] for row in self.execute(sql, (*params, *types))]

    def delivery_counts(self) -> dict[str, int]:
        rows = self.execute("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
        return {str(status): int(count) for status, count in rows}


class PostgresOutboxStore(OutboxStore):
    """The outbox in the PostgreSQL database ``conninfo`` (tables created if missing)."""

    def __init__(self, conninfo: str, *, pool_size: int = 4, create_tables: bool = True) -> None:
        self.conninfo = conninfo
        self._projector_lock = SessionLock(conninfo, PROJECTOR_LOCK_CLASS)
        self._leading = False
        self._next_check = float("-inf")
        self.lead_retry = LEAD_RETRY_SECONDS
        self._watch: PostgresHeadWatch | None = None
        schema = SCHEMA if create_tables else None
        self.pool: Pool = open_pool(conninfo, name="webhooks", size=pool_size, schema=schema, autocommit=False)

    @contextmanager
    def transaction(self) -> Iterator[OutboxTransaction]:
        try:
            with self.pool.connection() as conn, conn.transaction():
                yield PostgresOutboxTransaction(conn)
        except psycopg.Error as error:
            raise translate(error) from error

    def read(self) -> AbstractContextManager[OutboxTransaction]:
        return self.transaction()

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

    def watch(self) -> PostgresHeadWatch:
        if self._watch is None:
            self._watch = PostgresHeadWatch(self.conninfo, WATCHED_HEADS)
        return self._watch

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        self._projector_lock.release()
        self.pool.close()
