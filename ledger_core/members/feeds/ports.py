"""Ports of the feeds: the reads of the log that batches need (the log modules of each backend implement them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ledger_core.engine.ports import PartnerLogReader


@runtime_checkable
class FeedLogReader(PartnerLogReader, Protocol):
    """Set-at-a-time reads of the log for the bulk path and the outbound feeds (with the engine's
    :class:`~ledger_core.engine.ports.PartnerLogReader`: ``partner_rows_of_types``)."""

    def existing_aggregates(self, aggregate_ids: Sequence[str]) -> set[str]:
        """Which of ``aggregate_ids`` have at least one entry (one query per few hundred ids)."""
        ...

