"""The log on PostgreSQL (psycopg 3, pooled), safe with many writer processes.

Durability and locking (see README.md beside this file): a batch is one transaction that first takes
``pg_advisory_xact_lock(LOG_LOCK)`` (every writer process serialises on it; readers never block), reads
the head inside the lock, inserts the rows with one ``INSERT ... SELECT FROM unnest(arrays)`` and
commits, in three round trips (pipeline mode); only then are the callers' futures completed.
``pg_notify('ledger_log', size)`` tells followers that the log grew.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from psycopg_pool import ConnectionPool

from adapters.group_commit import Outcome
from adapters.log_recorder import SequencedRecorder, system_clock
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.ports import Clock
from ledger_core.engine.sequencer import EMPTY_LOG, AggregateHead, LogHead

# Advisory lock keys (arbitrary, fixed): the log writer and schema creation.
LOG_LOCK = 0x4C45444745520001
SCHEMA_LOCK = 0x4C45444745520000

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_log (
    position BIGINT PRIMARY KEY,
    event_id UUID NOT NULL,
    originator_id UUID NOT NULL,
    originator_version INTEGER NOT NULL,
    topic TEXT NOT NULL,
    partner_id TEXT,
    recorded_at TEXT NOT NULL,
    entry BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    UNIQUE (originator_id, originator_version)
);
CREATE INDEX IF NOT EXISTS ledger_log_partner ON ledger_log (partner_id, position);
"""
HEAD = "SELECT position, leaf_hash, recorded_at FROM ledger_log ORDER BY position DESC LIMIT 1"
# One backward index probe per aggregate (a plan that cannot degrade into a sequential scan).
AGGREGATE_HEADS = (
    "SELECT k.id::text, h.originator_version, h.position FROM unnest(%s::uuid[]) AS k(id)"
    " CROSS JOIN LATERAL (SELECT originator_version, position FROM ledger_log WHERE originator_id = k.id"
    " ORDER BY originator_version DESC LIMIT 1) AS h"
)
INSERT = (
    "INSERT INTO ledger_log (position, event_id, originator_id, originator_version, topic, partner_id,"
    " recorded_at, entry, leaf_hash)"
    " SELECT * FROM unnest(%b::int8[], %b::uuid[], %b::uuid[], %b::int4[], %b::text[], %b::text[],"
    " %b::text[], %b::bytea[], %b::bytea[])"
)


def translate(error: psycopg.Error) -> PersistenceError:
    """Map a driver error to eventsourcing's ``PersistenceError`` family."""
    if isinstance(error, psycopg.errors.IntegrityError):
        return IntegrityError(str(error))
    if isinstance(error, psycopg.errors.DataError):
        return DataError(str(error))
    if isinstance(error, psycopg.errors.OperationalError):
        return OperationalError(str(error))
    if isinstance(error, psycopg.errors.InterfaceError):
        return InterfaceError(str(error))
    return ProgrammingError(str(error))


def create_schema(conninfo: str, schema: str = SCHEMA) -> None:
    """Run ``schema`` (idempotent DDL) under an advisory lock: several processes may start together."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            conn.execute(schema.encode())
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


class PostgresLogRecorder(SequencedRecorder):
    """Ledger recorder on PostgreSQL. ``conninfo`` is a libpq URL (``postgresql://...``)."""

    def __init__(
        self,
        conninfo: str,
        *,
        clock: Clock = system_clock,
        max_batch_events: int = 4096,
        pool_size: int = 8,
        create_tables: bool = True,
    ) -> None:
        super().__init__(clock=clock, max_batch_events=max_batch_events)
        self.conninfo = conninfo
        try:
            if create_tables:
                create_schema(conninfo)
            self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                conninfo, min_size=1, max_size=pool_size, open=True, name="ledger", kwargs={"autocommit": True}
            )  # reads only, one statement each: autocommit saves the COMMIT round trip
        except psycopg.Error as error:
            raise translate(error) from error
        self._writer_conn: psycopg.Connection[Any] | None = None  # used by the writer thread only

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.Error as error:
            raise translate(error) from error

    def _writer_connection(self) -> psycopg.Connection[Any]:
        if self._writer_conn is None or self._writer_conn.closed:
            self._writer_conn = psycopg.connect(self.conninfo)
        return self._writer_conn

    def _write_batch(self, saves: Sequence[Sequence[EventDraft]]) -> Sequence[Outcome]:
        conn = self._writer_connection()
        ids = sorted({draft.aggregate_id for save in saves for draft in save})
        try:
            with conn.transaction():
                # Round trip 1: lock, head and aggregate heads, pipelined.
                with conn.pipeline():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOG_LOCK,))
                    head_cursor = conn.execute(HEAD)
                    heads_cursor = conn.execute(AGGREGATE_HEADS, (ids,))
                head_row = head_cursor.fetchone()
                head = EMPTY_LOG if head_row is None else LogHead(head_row[0] + 1, bytes(head_row[1]), head_row[2])
                heads = {row[0]: AggregateHead(row[1], row[2]) for row in heads_cursor.fetchall()}
                batch = self.sequence(head, saves, heads)
                # Round trip 2: the rows (one INSERT over arrays) and the notification, pipelined.
                if batch.entries:
                    # Entries are named tuples in INSERT's column order: transposed, one array per column.
                    columns = [list(column) for column in zip(*batch.entries, strict=True)]
                    with conn.pipeline():
                        conn.execute(INSERT, columns)
                        conn.execute("SELECT pg_notify('ledger_log', %s)", (str(batch.head.size),))
            # Round trip 3: COMMIT (on leaving the transaction block).
        except psycopg.Error as error:
            if conn.broken:
                conn.close()
            raise translate(error) from error
        return batch.outcomes

    PARAM = "%s"
    ID_PARAM = "%s::uuid"
    ROW_COLUMNS = "position, originator_id::text, originator_version, topic, partner_id, entry, leaf_hash"

    def _fetch(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(sql.encode(), params).fetchall()

    def close(self) -> None:
        super().close()
        if self._writer_conn is not None:
            self._writer_conn.close()
        self.pool.close()
