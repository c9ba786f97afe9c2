"""Outcome counters in the ledger's PostgreSQL database (implements :class:`ledger_core.members.outcomes.OutcomeStore`).

A delta is one transaction of ``INSERT ... ON CONFLICT DO UPDATE SET value = value + excluded.value``
rows in a fixed order (so two workers updating the same counters lock them in the same order and never
deadlock); additions commute, so concurrent deltas need no other coordination. Readers never wait.

Counter updates commit with ``synchronous_commit = off`` (PostgreSQL's asynchronous commit: the database
stays consistent, a crash may lose the last few hundred milliseconds of updates). The counters are
derived from the log, so that is the same gap as a crash between the log's commit and the update, closed
by ``ledger outcomes rebuild``; the log's own commits stay synchronous.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from adapters.outcomes.common import (
    SCHEMA,
    SELECT_CHANGES,
    all_rows,
    change_of,
    change_row,
    delete_change_sql,
    delta_rows,
    insert_sql,
    member_changes_sql,
    month_sql,
    months_of,
    open_change_sql,
    period_sql,
    through_sql,
    upsert_sql,
)
from adapters.postgres.recorder import create_schema, translate
from ledger_core.members.outcomes import OpenChange

PARAM = "%s"


class PostgresOutcomeStore:
    """Per partner, per counter, per day sums in PostgreSQL (``conninfo`` is a libpq URL)."""

    def __init__(self, conninfo: str, *, pool_size: int = 4, create_tables: bool = True) -> None:
        try:
            if create_tables:
                create_schema(conninfo, SCHEMA)
            self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                conninfo, min_size=1, max_size=pool_size, open=True, name="ledger-outcomes", kwargs={"autocommit": True}
            )
        except psycopg.Error as error:
            raise translate(error) from error

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.Error as error:
            raise translate(error) from error

    def apply(self, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> None:
        rows = delta_rows(partner_id, deltas)
        if not rows:
            return
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")  # derived counters: see the module docstring
            cursor.executemany(upsert_sql(PARAM), rows)

    def open_change(self, change: OpenChange) -> None:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")  # survives a crash of this process
            cursor.execute(open_change_sql(PARAM), change_row(change))

    def settle_change(self, change_id: str, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> bool:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute(delete_change_sql(PARAM), (change_id,))
            settled = cursor.rowcount == 1
            rows = delta_rows(partner_id, deltas)
            if settled and rows:
                cursor.executemany(upsert_sql(PARAM), rows)
        return settled

    def open_changes(self, partner_id: str | None = None, partner_member_id: str | None = None) -> list[OpenChange]:
        with self._connection() as conn:
            if partner_id is None:
                rows = conn.execute(SELECT_CHANGES).fetchall()
            else:
                rows = conn.execute(member_changes_sql(PARAM), (partner_id, partner_member_id)).fetchall()
            return [change_of(row) for row in rows]

    def period_sums(self, partner_id: str, start: date, end: date) -> dict[str, int]:
        with self._connection() as conn:
            rows = conn.execute(period_sql(PARAM), (partner_id, start.isoformat(), end.isoformat())).fetchall()
        return {str(counter): int(total) for counter, total in rows if total}

    def month_sums(self, partner_id: str, start: date, end: date) -> dict[str, dict[str, int]]:
        with self._connection() as conn:
            rows = conn.execute(month_sql(PARAM), (partner_id, start.isoformat(), end.isoformat())).fetchall()
        return months_of(rows)

    def total_through(self, partner_id: str, counter: str, end: date) -> int:
        with self._connection() as conn:
            row = conn.execute(through_sql(PARAM), (partner_id, counter, end.isoformat())).fetchone()
        return 0 if row is None else int(row[0])

    def replace_all(self, counts: Mapping[tuple[str, date, str], int]) -> None:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("DELETE FROM outcome_counts")
            cursor.execute("DELETE FROM outcome_changes")
            rows = list(all_rows(counts))
            if rows:
                cursor.executemany(insert_sql(PARAM), rows)

    def close(self) -> None:
        self.pool.close()
