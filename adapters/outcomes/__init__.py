"""The outcome projection's counters (:class:`ledger_core.members.outcomes.OutcomeStore`) in SQLite or PostgreSQL."""

from __future__ import annotations

from adapters.outcomes.common import OUTCOME_TABLE

__all__ = ["OUTCOME_TABLE"]
