"""Per partner and feed: last file, rows accepted and rejected, last and next run, late (docs/feeds.md).

The one reading of the feeds worker's journal and schedules that ``ledger feeds status`` prints and the
partner console (api/http/pages/console.py) shows, so both say the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.feeds_runtime import feed_files, worker_config
from api.settings import Settings
from ledger_core.members.feeds.formats import FeedKind
from ledger_core.members.feeds.schedule import FeedSchedule, is_late


@dataclass(frozen=True, slots=True)
class FeedStatusRow:
    """One feed of one partner as the worker's journal and the schedule describe it."""

    partner_id: str
    feed: FeedKind
    last_file: str | None
    accepted: int
    rejected: int
    last_run: str | None
    next_run: datetime
    late: bool
    """Only the eligibility feed can be late: no file received by the configured time of day."""

    def to_json(self) -> dict[str, Any]:
        """The row as ``ledger feeds status --json`` prints it."""
        return {
            "partner": self.partner_id,
            "feed": self.feed.value,
            "lastFile": self.last_file,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "lastRun": self.last_run,
            "nextRun": self.next_run.isoformat(),
            "late": self.late,
        }


def feed_status_rows(settings: Settings, partner_ids: Sequence[str] | None, now: datetime) -> list[FeedStatusRow]:
    """The rows of ``partner_ids`` (``None``: every partner with feed settings), three feeds each."""
    files = feed_files(settings)
    config = worker_config(settings)
    rows = []
    for partner_id in files.keys.partner_ids() if partner_ids is None else partner_ids:
        runs = files.journal.load(partner_id)
        partner_config = files.keys.config_or_new(partner_id)
        for kind in FeedKind:
            run = runs.feed(kind.value)
            override = partner_config.schedules.get(kind.value)
            schedule = FeedSchedule.parse(override) if override else config.schedules[kind]
            late = kind is FeedKind.ELIGIBILITY and is_late(runs.received_date(), config.late_after, now)
            rows.append(
                FeedStatusRow(
                    partner_id=partner_id,
                    feed=kind,
                    last_file=run.file,
                    accepted=run.accepted,
                    rejected=run.rejected,
                    last_run=run.finished_at,
                    next_run=schedule.next_after(now),
                    late=late,
                )
            )
    return rows
