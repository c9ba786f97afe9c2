"""Ports of the feeds: the reads of the log that batches need (the log modules of each backend implement them)
and the queue a file's batch saves go through."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from ledger_core.engine.ports import PartnerLogReader


@runtime_checkable
class FeedLogReader(PartnerLogReader, Protocol):
    """Set-at-a-time reads of the log for the bulk path and the outbound feeds (with the engine's
    :class:`~ledger_core.engine.ports.PartnerLogReader`: ``partner_rows_of_types``)."""

    def existing_aggregates(self, aggregate_ids: Sequence[str]) -> set[str]:
        """Which of ``aggregate_ids`` have at least one entry (one query per few hundred ids)."""
        ...


class SaveQueue(Protocol):
    """Runs a file's batch saves in the order submitted, possibly while the caller plans the next batch.

    :class:`InlineSaves` runs each save at once; ``adapters.feeds.background_saves.BackgroundSaves`` runs
    them on one thread, at most one behind the caller, so that parsing, checking and sealing batch k+1
    overlap the commit of batch k. A failed save is raised by the next :meth:`submit` or :meth:`drain`, and
    no save submitted after it runs.
    """

    def submit(self, save: Callable[[], object]) -> None:
        """Queue ``save`` after every save submitted before it; raise the failure of an earlier one."""
        ...

    def drain(self) -> None:
        """Return when every submitted save is done; raise the first failure."""
        ...


class InlineSaves:
    """A :class:`SaveQueue` that runs each save when it is submitted (the default)."""

    def submit(self, save: Callable[[], object]) -> None:
        save()

    def drain(self) -> None:
        return None
