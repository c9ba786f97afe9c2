"""A deterministic clock for tests: each call is one millisecond after the previous."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SteppingClock:
    """Returns ``start``, ``start + step``, ... on successive calls."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC), step: timedelta = timedelta(milliseconds=1)):
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current
