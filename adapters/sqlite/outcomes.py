"""Outcome counters in the ledger's SQLite file (``outcome_counts``, ``outcome_changes``): the one module
that writes SQL for them on this backend (implements :class:`ledger_core.members.outcomes.OutcomeStore`).

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

from adapters.outcome_rows import all_rows, change_of, change_row, delta_rows, months_of
from adapters.sqlite.connections import ThreadConnections, WriterLock
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
MEMBER_CHANGES = f"{_CHANGES} WHERE partner_id = ? AND partner_member_id = ? ORDER BY opened_at, change_id"
INSERT = "INSERT INTO outcome_counts (partner_id, counter, day, value) VALUES (?, ?, ?, ?)"
UPSERT = f"{INSERT} ON CONFLICT (partner_id, counter, day) DO UPDATE SET value = outcome_counts.value + excluded.value"
PERIOD = (
    "SELECT counter, SUM(value) FROM outcome_counts WHERE partner_id = ? AND day >= ? AND day <= ? GROUP BY counter"
)
MONTHS = (
    "SELECT substr(day, 1, 7) AS month, counter, SUM(value) FROM outcome_counts"
    " WHERE partner_id = ? AND day >= ? AND day <= ? GROUP BY month, counter"
)
THROUGH = "SELECT COALESCE(SUM(value), 0) FROM outcome_counts WHERE partner_id = ? AND counter = ? AND day <= ?"
OPEN_CHANGE = (
    "INSERT INTO outcome_changes (change_id, partner_id, partner_member_id, before, opened_at) VALUES (?, ?, ?, ?, ?)"
)
DELETE_CHANGE = "DELETE FROM outcome_changes WHERE change_id = ?"


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
                conn.executemany(UPSERT, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def open_change(self, change: OpenChange) -> None:
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.execute("PRAGMA synchronous=NORMAL")  # survives a crash of this process (WAL in the OS)
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(OPEN_CHANGE, change_row(change))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def settle_change(self, change_id: str, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> bool:
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                settled = conn.execute(DELETE_CHANGE, (change_id,)).rowcount == 1
                if settled:
                    conn.executemany(UPSERT, delta_rows(partner_id, deltas))
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
                rows = conn.execute(MEMBER_CHANGES, (partner_id, partner_member_id)).fetchall()
            return [change_of(row) for row in rows]

    def period_sums(self, partner_id: str, start: date, end: date) -> dict[str, int]:
        with self._connections.connection() as conn:
            rows = conn.execute(PERIOD, (partner_id, start.isoformat(), end.isoformat())).fetchall()
        return {str(counter): int(total) for counter, total in rows if total}

    def month_sums(self, partner_id: str, start: date, end: date) -> dict[str, dict[str, int]]:
        with self._connections.connection() as conn:
            rows = conn.execute(MONTHS, (partner_id, start.isoformat(), end.isoformat())).fetchall()
        return months_of(rows)

    def total_through(self, partner_id: str, counter: str, end: date) -> int:
        with self._connections.connection() as conn:
            row = conn.execute(THROUGH, (partner_id, counter, end.isoformat())).fetchone()
        return int(row[0])

    def replace_all(self, counts: Mapping[tuple[str, date, str], int]) -> None:
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM outcome_counts")
                conn.execute("DELETE FROM outcome_changes")
                conn.executemany(INSERT, list(all_rows(counts)))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        self._connections.close()
        self._writer_lock.close()
