"""Deterministic clocks for tests: one that steps on every reading, one that moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SteppingClock:
    """Returns ``start``, ``start + step``, ... on successive calls."""

    def __init__(
        self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC), step: timedelta = timedelta(milliseconds=1)
    ) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current


class ManualClock:
    """Unix seconds that only move when told to (:meth:`advance`)."""

    def __init__(self, start: float = 1_768_487_400.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
