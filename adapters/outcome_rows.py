"""The outcome counters' rows, for every backend's ``outcomes.py`` (no SQL here: each writes its own).

``outcome_counts(partner_id, counter, day, value)`` with primary key ``(partner_id, counter, day)``: a
report is two index range scans (the period's rows of one partner, and one counter up to the period's end),
so its cost depends on the number of days and counters, never on the number of members. ``day`` is ISO
text (``YYYY-MM-DD``), whose text order is date order, on both backends. ``outcome_changes`` holds the
open changes (:class:`~ledger_core.members.outcomes.OpenChange`) until they are settled. No personal data
is stored here: partner ids, counter names, days and counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from ledger_core.members.outcomes import OpenChange


def months_of(rows: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """``(month, counter, total)`` rows as ``{month: {counter: total}}`` (zero totals left out)."""
    months: dict[str, dict[str, int]] = {}
    for month, counter, total in rows:
        if total:
            months.setdefault(str(month), {})[str(counter)] = int(total)
    return months


def delta_rows(partner_id: str, deltas: Mapping[tuple[date, str], int]) -> list[tuple[str, str, str, int]]:
    """Rows in a fixed order (partner, counter, day): concurrent writers lock rows in the same order."""
    rows = [(partner_id, counter, day.isoformat(), value) for (day, counter), value in deltas.items() if value]
    return sorted(rows)


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
