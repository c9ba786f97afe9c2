"""When each batch feed runs and when a partner's file is late (seed 001 sections 2.1-2.5).

Seed defaults: the eligibility file is processed daily at 03:00 UTC, the enrollment feed is written daily
at 02:00 UTC, the outcome feed monthly on the 1st (for the prior month), and a partner file not received
by 04:00 UTC is late (section 2.5, "Monitoring"). Everything here is pure: the worker passes ``now``.

A run is identified by its **slot**, the scheduled instant it belongs to. A feed is due when its latest
slot at or before ``now`` is later than the last slot that completed, so a worker that was down over
several slots runs once (catching up) and a restarted one never runs a completed slot again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ledger_core.members.feeds.formats import FeedKind

__all__ = ["DEFAULT_LATE_AFTER", "DEFAULT_SCHEDULES", "FeedSchedule", "due_slot", "is_late"]


@dataclass(frozen=True, slots=True)
class FeedSchedule:
    """A daily time of day (UTC), or a monthly one when ``day_of_month`` is set (1-28)."""

    at: time
    day_of_month: int | None = None

    def __post_init__(self) -> None:
        if self.day_of_month is not None and not 1 <= self.day_of_month <= 28:
            raise ValueError("day_of_month is 1 to 28 (every month has it)")

    def slot_at_or_before(self, now: datetime) -> datetime:
        """The latest scheduled instant ``<= now`` (``now`` is aware)."""
        now = now.astimezone(UTC)
        if self.day_of_month is None:
            slot = datetime.combine(now.date(), self.at, UTC)
            return slot if slot <= now else slot - timedelta(days=1)
        slot = datetime.combine(now.date().replace(day=self.day_of_month), self.at, UTC)
        if slot <= now:
            return slot
        previous_month = now.date().replace(day=1) - timedelta(days=1)
        return datetime.combine(previous_month.replace(day=self.day_of_month), self.at, UTC)

    def next_after(self, now: datetime) -> datetime:
        """The first scheduled instant ``> now``."""
        now = now.astimezone(UTC)
        if self.day_of_month is None:
            slot = datetime.combine(now.date(), self.at, UTC)
            return slot if slot > now else slot + timedelta(days=1)
        slot = datetime.combine(now.date().replace(day=self.day_of_month), self.at, UTC)
        if slot > now:
            return slot
        next_month = (now.date().replace(day=28) + timedelta(days=4)).replace(day=self.day_of_month)
        return datetime.combine(next_month, self.at, UTC)

    def text(self) -> str:
        """``03:00`` or ``day 1 02:00`` (the form :meth:`parse` reads)."""
        clock = self.at.strftime("%H:%M")
        return clock if self.day_of_month is None else f"day {self.day_of_month} {clock}"

    @classmethod
    def parse(cls, text: str) -> FeedSchedule:
        """``HH:MM`` (daily, UTC) or ``day D HH:MM`` (monthly); ValueError otherwise."""
        parts = text.split()
        if len(parts) == 1:
            return cls(time.fromisoformat(parts[0]))
        if len(parts) == 3 and parts[0] == "day":
            return cls(time.fromisoformat(parts[2]), int(parts[1]))
        raise ValueError(f"a schedule is 'HH:MM' or 'day D HH:MM', not {text!r}")


DEFAULT_SCHEDULES: dict[FeedKind, FeedSchedule] = {
    FeedKind.ELIGIBILITY: FeedSchedule(time(3, 0)),
    FeedKind.ENROLLMENT: FeedSchedule(time(2, 0)),
    FeedKind.OUTCOME: FeedSchedule(time(2, 0), day_of_month=1),
}
DEFAULT_LATE_AFTER = time(4, 0)
"""A partner's daily eligibility file not received by this time (UTC) is late (seed 001 section 2.5)."""


def due_slot(schedule: FeedSchedule, last_completed: datetime | None, now: datetime) -> datetime | None:
    """The slot to run now, or None when the latest slot at or before ``now`` already completed."""
    slot = schedule.slot_at_or_before(now)
    if last_completed is not None and last_completed >= slot:
        return None
    return slot


def is_late(last_received: date | None, late_after: time, now: datetime) -> bool:
    """Whether today's (UTC) file is missing after the deadline: nothing received dated today or later."""
    now = now.astimezone(UTC)
    if now.time() < late_after:
        return False
    return last_received is None or last_received < now.date()
