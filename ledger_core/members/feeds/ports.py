"""Ports of the feeds: the reads of the log that batches need (the log modules of each backend implement them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ledger_core.engine.chain import StoredRow


@runtime_checkable
class FeedLogReader(Protocol):
    """Set-at-a-time reads of the log for the bulk path and the outbound feeds."""

    def existing_aggregates(self, aggregate_ids: Sequence[str]) -> set[str]:
        """Which of ``aggregate_ids`` have at least one entry (one query per few hundred ids)."""
        ...

    def partner_rows_of_types(
        self, partner_id: str, types: Sequence[str], *, start: int, stop: int, limit: int, descending: bool = False
    ) -> Sequence[StoredRow]:
        """Up to ``limit`` rows of ``partner_id`` whose type is one of ``types`` with ``start <= position < stop``,
        in position order (``descending``: newest first)."""
        ...
