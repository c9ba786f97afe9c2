"""SQL shared by both outcome stores: one table of per partner, per counter, per day sums.

``outcome_counts(partner_id, counter, day, value)`` with primary key ``(partner_id, counter, day)``: a
report is two index range scans (the period's rows of one partner, and one counter up to the period's end),
so its cost depends on the number of days and counters, never on the number of members. ``day`` is ISO
text (``YYYY-MM-DD``), whose text order is date order, on both backends. No personal data is stored here:
partner ids, counter names, days and counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from ledger_core.members.outcomes import OpenChange

OUTCOME_TABLE = "outcome_counts"
CHANGES_TABLE = "outcome_changes"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {OUTCOME_TABLE} (
    partner_id TEXT NOT NULL,
    counter TEXT NOT NULL,
    day TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (partner_id, counter, day)
);
CREATE TABLE IF NOT EXISTS {CHANGES_TABLE} (
    change_id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    partner_member_id TEXT NOT NULL,
    before TEXT NOT NULL,
    opened_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {CHANGES_TABLE}_member ON {CHANGES_TABLE} (partner_id, partner_member_id);
"""
_CHANGE_COLUMNS = f"SELECT change_id, partner_id, partner_member_id, before, opened_at FROM {CHANGES_TABLE}"
SELECT_CHANGES = f"{_CHANGE_COLUMNS} ORDER BY opened_at, change_id"


def member_changes_sql(param: str) -> str:
    return f"{_CHANGE_COLUMNS} WHERE partner_id = {param} AND partner_member_id = {param} ORDER BY opened_at, change_id"


def upsert_sql(param: str) -> str:
    p = param
    return (
        f"INSERT INTO {OUTCOME_TABLE} (partner_id, counter, day, value) VALUES ({p}, {p}, {p}, {p})"
        " ON CONFLICT (partner_id, counter, day) DO UPDATE SET value = "
        f"{OUTCOME_TABLE}.value + excluded.value"
    )


def period_sql(param: str) -> str:
    p = param
    return (
        f"SELECT counter, SUM(value) FROM {OUTCOME_TABLE}"
        f" WHERE partner_id = {p} AND day >= {p} AND day <= {p} GROUP BY counter"
    )


def month_sql(param: str) -> str:
    p = param
    return (
        f"SELECT substr(day, 1, 7) AS month, counter, SUM(value) FROM {OUTCOME_TABLE}"
        f" WHERE partner_id = {p} AND day >= {p} AND day <= {p} GROUP BY month, counter"
    )


def months_of(rows: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    months: dict[str, dict[str, int]] = {}
    for month, counter, total in rows:
        if total:
            months.setdefault(str(month), {})[str(counter)] = int(total)
    return months


def through_sql(param: str) -> str:
    p = param
    return (
        f"SELECT COALESCE(SUM(value), 0) FROM {OUTCOME_TABLE} WHERE partner_id = {p} AND counter = {p} AND day <= {p}"
    )


def insert_sql(param: str) -> str:
    p = param
    return f"INSERT INTO {OUTCOME_TABLE} (partner_id, counter, day, value) VALUES ({p}, {p}, {p}, {p})"


def delta_rows(partner_id: str, deltas: Mapping[tuple[date, str], int]) -> list[tuple[str, str, str, int]]:
    """Rows in a fixed order (partner, counter, day): concurrent writers lock rows in the same order."""
    rows = [(partner_id, counter, day.isoformat(), value) for (day, counter), value in deltas.items() if value]
    return sorted(rows)


def open_change_sql(param: str) -> str:
    p = param
    return (
        f"INSERT INTO {CHANGES_TABLE} (change_id, partner_id, partner_member_id, before, opened_at)"
        f" VALUES ({p}, {p}, {p}, {p}, {p})"
    )


def delete_change_sql(param: str) -> str:
    return f"DELETE FROM {CHANGES_TABLE} WHERE change_id = {param}"


def change_row(change: OpenChange) -> tuple[str, str, str, str, str]:
    """An open change as a row: ``before`` as JSON ``[[day, counter, value], ...]`` (counts only)."""
    before = sorted([day.isoformat(), counter, value] for (day, counter), value in change.before.items())
    return (change.change_id, change.partner_id, change.partner_member_id, json.dumps(before), change.opened_at)


def change_of(row: Sequence[Any]) -> OpenChange:
    change_id, partner_id, partner_member_id, before, opened_at = row
    counts = {(date.fromisoformat(day), str(counter)): int(value) for day, counter, value in json.loads(before)}
    return OpenChange(str(change_id), str(partner_id), str(partner_member_id), counts, str(opened_at))


def all_rows(counts: Mapping[tuple[str, date, str], int]) -> Iterable[tuple[str, str, str, int]]:
    return sorted((p, counter, day.isoformat(), value) for (p, day, counter), value in counts.items() if value)
