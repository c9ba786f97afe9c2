"""Outcome counters in the ledger's PostgreSQL database (``outcome_counts``, ``outcome_changes``): the one
module that writes SQL for them on this backend (implements :class:`ledger_core.members.outcomes.OutcomeStore`).

A delta is one transaction of ``INSERT ... ON CONFLICT DO UPDATE SET value = value + excluded.value``
rows in a fixed order (so two workers updating the same counters lock them in the same order and never
deadlock); additions commute, so concurrent deltas need no other coordination. Readers never wait.

Counter updates commit with ``synchronous_commit = off`` (PostgreSQL's asynchronous commit: the database
stays consistent, a crash may lose the last few hundred milliseconds of updates). The counters are
derived from the log, so that is the same gap as a crash between the log's commit and the update, closed
by ``ledger outcomes rebuild``; the log's own commits stay synchronous.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import date
from typing import Any

import psycopg

from adapters.outcome_rows import all_rows, change_of, change_row, delta_rows, months_of
from adapters.postgres.connections import Pool, open_pool, pooled
from ledger_core.members.outcomes import OpenChange

SCHEMA = """
CREATE TABLE IF NOT EXISTS outcome_counts (
    partner_id TEXT NOT NULL,
    counter TEXT NOT NULL,
    day TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (partner_id, counter, day)
);
CREATE TABLE IF NOT EXISTS outcome_changes (
    change_id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    partner_member_id TEXT NOT NULL,
    before TEXT NOT NULL,
    opened_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outcome_changes_member ON outcome_changes (partner_id, partner_member_id);
"""
_CHANGES = "SELECT change_id, partner_id, partner_member_id, before, opened_at FROM outcome_changes"
SELECT_CHANGES = f"{_CHANGES} ORDER BY opened_at, change_id"
MEMBER_CHANGES = f"{_CHANGES} WHERE partner_id = %s AND partner_member_id = %s ORDER BY opened_at, change_id"
INSERT = "INSERT INTO outcome_counts (partner_id, counter, day, value) VALUES (%s, %s, %s, %s)"
UPSERT = f"{INSERT} ON CONFLICT (partner_id, counter, day) DO UPDATE SET value = outcome_counts.value + excluded.value"
PERIOD = (
    "SELECT counter, SUM(value) FROM outcome_counts WHERE partner_id = %s AND day >= %s AND day <= %s GROUP BY counter"
)
MONTHS = (
    "SELECT substr(day, 1, 7) AS month, counter, SUM(value) FROM outcome_counts"
    " WHERE partner_id = %s AND day >= %s AND day <= %s GROUP BY month, counter"
)
THROUGH = "SELECT COALESCE(SUM(value), 0) FROM outcome_counts WHERE partner_id = %s AND counter = %s AND day <= %s"
OPEN_CHANGE = (
    "INSERT INTO outcome_changes (change_id, partner_id, partner_member_id, before, opened_at)"
    " VALUES (%s, %s, %s, %s, %s)"
)
DELETE_CHANGE = "DELETE FROM outcome_changes WHERE change_id = %s"


class PostgresOutcomeStore:
    """Per partner, per counter, per day sums in PostgreSQL (``conninfo`` is a libpq URL)."""

    def __init__(self, conninfo: str, *, pool_size: int = 4, create_tables: bool = True) -> None:
        schema = SCHEMA if create_tables else None
        self.pool: Pool = open_pool(conninfo, name="ledger-outcomes", size=pool_size, schema=schema)

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        return pooled(self.pool)

    def apply(self, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> None:
        rows = delta_rows(partner_id, deltas)
        if not rows:
            return
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")  # derived counters: see the module docstring
            cursor.executemany(UPSERT, rows)

    def open_change(self, change: OpenChange) -> None:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")  # survives a crash of this process
            cursor.execute(OPEN_CHANGE, change_row(change))

    def settle_change(self, change_id: str, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> bool:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute(DELETE_CHANGE, (change_id,))
            settled = cursor.rowcount == 1
            rows = delta_rows(partner_id, deltas)
            if settled and rows:
                cursor.executemany(UPSERT, rows)
        return settled

    def open_changes(self, partner_id: str | None = None, partner_member_id: str | None = None) -> list[OpenChange]:
        with self._connection() as conn:
            if partner_id is None:
                rows = conn.execute(SELECT_CHANGES).fetchall()
            else:
                rows = conn.execute(MEMBER_CHANGES, (partner_id, partner_member_id)).fetchall()
            return [change_of(row) for row in rows]

    def period_sums(self, partner_id: str, start: date, end: date) -> dict[str, int]:
        with self._connection() as conn:
            rows = conn.execute(PERIOD, (partner_id, start.isoformat(), end.isoformat())).fetchall()
        return {str(counter): int(total) for counter, total in rows if total}

    def month_sums(self, partner_id: str, start: date, end: date) -> dict[str, dict[str, int]]:
        with self._connection() as conn:
            rows = conn.execute(MONTHS, (partner_id, start.isoformat(), end.isoformat())).fetchall()
        return months_of(rows)

    def total_through(self, partner_id: str, counter: str, end: date) -> int:
        with self._connection() as conn:
            row = conn.execute(THROUGH, (partner_id, counter, end.isoformat())).fetchone()
        return 0 if row is None else int(row[0])

    def replace_all(self, counts: Mapping[tuple[str, date, str], int]) -> None:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("DELETE FROM outcome_counts")
            cursor.execute("DELETE FROM outcome_changes")
            rows = list(all_rows(counts))
            if rows:
                cursor.executemany(INSERT, rows)

    def close(self) -> None:
        self.pool.close()
