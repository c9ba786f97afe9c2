"""Constants and helpers shared by the security tests."""

from __future__ import annotations

from datetime import UTC, datetime

ISSUER = "https://ledger.test"
AUDIENCE = "https://ledger.test/api/v1"
NOW = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)
DEPLOYMENT_SECRET = bytes(range(32))


class FakeClock:
    """Unix seconds that only move when told to (``advance``)."""

    def __init__(self, start: float = 1_768_487_400.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
