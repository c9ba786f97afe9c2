"""Small helpers shared by the application services (one service class lives beside each aggregate)."""

from __future__ import annotations

from datetime import UTC, date

from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.ports import Clock


def save(app: LedgerApplication, *aggregates: LedgerAggregate) -> tuple[int, ...]:
    """Save aggregates that have pending events; return the log positions of the new events (may be empty)."""
    pending = [aggregate for aggregate in aggregates if aggregate.pending_events]
    if not pending:
        return ()
    return tuple(app.save_returning_positions(*pending))


def today(clock: Clock) -> date:
    """The current UTC date according to ``clock``."""
    return clock().astimezone(UTC).date()
