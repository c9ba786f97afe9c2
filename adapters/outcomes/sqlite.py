"""Outcome counters in the ledger's SQLite file (implements :class:`ledger_core.members.outcomes.OutcomeStore`).

Writes take the file's writer lock and ``BEGIN IMMEDIATE`` like every other writer of the file (see
``adapters/sqlite/connections.py``), so one delta is applied whole or not at all; reads use this
thread's WAL connection and never wait for writers.

Counter updates commit with ``synchronous=NORMAL`` (no fsync per commit; WAL keeps the file consistent):
the counters are derived from the log, so a power loss may lose the last updates but never corrupts
them, the same gap as a crash between the log's commit and the update, closed by ``ledger outcomes
rebuild``. The log itself stays ``synchronous=FULL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

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
from adapters.sqlite.connections import ThreadConnections, WriterLock
from ledger_core.members.outcomes import OpenChange

PARAM = "?"


class SQLiteOutcomeStore:
    """Per partner, per counter, per day sums in the SQLite file at ``path``."""

    def __init__(self, path: Path) -> None:
        self._connections = ThreadConnections(path)
        self._writer_lock = WriterLock(path)
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.executescript(SCHEMA)

    def apply(self, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> None:
        rows = delta_rows(partner_id, deltas)
        if not rows:
            return
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.execute("PRAGMA synchronous=NORMAL")  # derived counters: see the module docstring
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(upsert_sql(PARAM), rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def open_change(self, change: OpenChange) -> None:
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.execute("PRAGMA synchronous=NORMAL")  # survives a crash of this process (WAL in the OS)
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(open_change_sql(PARAM), change_row(change))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def settle_change(self, change_id: str, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> bool:
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                settled = conn.execute(delete_change_sql(PARAM), (change_id,)).rowcount == 1
                if settled:
                    conn.executemany(upsert_sql(PARAM), delta_rows(partner_id, deltas))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return settled

    def open_changes(self, partner_id: str | None = None, partner_member_id: str | None = None) -> list[OpenChange]:
        with self._connections.connection() as conn:
            if partner_id is None:
                rows = conn.execute(SELECT_CHANGES).fetchall()
            else:
                rows = conn.execute(member_changes_sql(PARAM), (partner_id, partner_member_id)).fetchall()
            return [change_of(row) for row in rows]

    def period_sums(self, partner_id: str, start: date, end: date) -> dict[str, int]:
        with self._connections.connection() as conn:
            rows = conn.execute(period_sql(PARAM), (partner_id, start.isoformat(), end.isoformat())).fetchall()
        return {str(counter): int(total) for counter, total in rows if total}

    def month_sums(self, partner_id: str, start: date, end: date) -> dict[str, dict[str, int]]:
        with self._connections.connection() as conn:
            rows = conn.execute(month_sql(PARAM), (partner_id, start.isoformat(), end.isoformat())).fetchall()
        return months_of(rows)

    def total_through(self, partner_id: str, counter: str, end: date) -> int:
        with self._connections.connection() as conn:
            row = conn.execute(through_sql(PARAM), (partner_id, counter, end.isoformat())).fetchone()
        return int(row[0])

    def replace_all(self, counts: Mapping[tuple[str, date, str], int]) -> None:
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM outcome_counts")
                conn.execute("DELETE FROM outcome_changes")
                conn.executemany(insert_sql(PARAM), list(all_rows(counts)))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        self._connections.close()
        self._writer_lock.close()
