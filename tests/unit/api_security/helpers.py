"""Constants and helpers shared by the security tests."""

from __future__ import annotations

from datetime import UTC, datetime

from support.clock import ManualClock

ISSUER = "https://ledger.test"
AUDIENCE = "https://ledger.test/api/v1"
NOW = datetime(2026, 1, 15, 14, 30, tzinfo=UTC)

DEPLOYMENT_SECRET = bytes(range(32))


FakeClock = ManualClock  # the name the security tests use
