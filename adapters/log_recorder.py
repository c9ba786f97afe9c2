"""The part of the SQLite and PostgreSQL recorders that does not depend on the database.

A :class:`SequencedRecorder` is an eventsourcing ``ApplicationRecorder`` (so the ``Application``,
repository and notification log work unchanged) and a :class:`~ledger_core.engine.ports.LogReader`. Writes go
through a :class:`GroupCommitter`; the backend supplies ``write_batch`` and its log reader
(:class:`~adapters.ports.LogRows`), which holds every query: no SQL is written here.

Notification ids are log positions + 1 (eventsourcing counts from 1; RFC 9162 leaf indexes from 0).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    ListenNotifySubscription,
    Notification,
    StoredEvent,
    Subscription,
)

from adapters.group_commit import Committer, GroupCommitter, Outcome
from adapters.ports import LogRows
from adapters.writer.recent import RecentRows
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import EventDraft, format_recorded_at
from ledger_core.engine.mapper import DraftStoredEvent
from ledger_core.engine.ports import Clock
from ledger_core.engine.sequencer import AggregateHead, LogHead, SequencedBatch, SequencedEntry, sequence_batch


def system_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


class SequencedRecorder(ApplicationRecorder):
    """Template: group commit + sequencing here; writing in the subclasses, reading in their ``reader``."""

    def __init__(self, reader: LogRows, clock: Clock = system_clock, max_batch_events: int = 4096) -> None:
        self.reader = reader
        self.clock = clock
        self.committer: Committer = GroupCommitter(self._commit_batch, max_batch_events=max_batch_events)
        self.on_commit: Callable[[Sequence[SequencedEntry]], None] | None = None
        """Told of the rows of each committed batch, in the writer thread, before its saves complete."""
        self.recent: RecentRows | None = None
        """The newest committed rows, kept in memory: :meth:`read_rows` answers from them when it can. Those
        this process commits (:meth:`keep_committed`), or those the writer process pushes
        (:meth:`hand_writes_to`)."""
        self._sequenced: SequencedBatch | None = None

    def hand_writes_to(self, committer: Committer, recent: RecentRows | None = None) -> None:
        """Send every save to ``committer`` (the writer process) instead of committing here; call before
        the first save (the local committer, never started, is closed). ``recent``: the rows the writer
        pushes, which :meth:`read_rows` serves from memory."""
        self.committer.close()
        self.committer = committer
        self.recent = recent

    def keep_committed(self, capacity: int) -> None:
        """Keep the newest ``capacity`` rows this process commits in memory (:attr:`recent`), so that its
        followers (claim facts, directory, sealer) do not read back from the database what it just wrote."""
        self.recent = RecentRows(capacity)

    # -- writing --------------------------------------------------------------------------------------
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        drafts = []
        for stored in stored_events:
            if not isinstance(stored, DraftStoredEvent):
                raise TypeError("the ledger recorder only stores events mapped by EnvelopeMapper")
            drafts.append(stored.draft)
        if not drafts:
            return []
        return [position + 1 for position in self.committer.write(drafts)]

    def submit_drafts(self, drafts: Sequence[EventDraft]) -> Future[list[int]]:
        """Queue one save for the next group commit (see :class:`~ledger_core.engine.ports.DraftAppender`)."""
        return self.committer.submit(drafts)

    def submit_drafts_async(self, drafts: Sequence[EventDraft]) -> asyncio.Future[list[int]]:
        """The same from a coroutine: an ``asyncio.Future`` settled by the writer after the commit."""
        return self.committer.submit_async(drafts)

    def sequence(
        self, head: LogHead, saves: Sequence[Sequence[EventDraft]], heads: dict[str, AggregateHead]
    ) -> SequencedBatch:
        """Run the pure sequencer with this recorder's clock."""
        batch = sequence_batch(head, saves, heads, format_recorded_at(self.clock()))
        self._sequenced = batch  # the writer thread's; published by _commit_batch once committed
        return batch

    def _commit_batch(self, saves: Sequence[Sequence[EventDraft]]) -> Sequence[Outcome]:
        """:meth:`_write_batch`, then (committed) hand its rows to :attr:`on_commit`."""
        try:
            outcomes = self._write_batch(saves)
            batch = self._sequenced
        finally:
            self._sequenced = None
        if batch is not None and batch.entries:
            if self.recent is not None:
                self.recent.add(batch.entries)
            if self.on_commit is not None:
                self.on_commit(batch.entries)
        return outcomes

    @abstractmethod
    def _write_batch(self, saves: Sequence[Sequence[EventDraft]]) -> Sequence[Outcome]:
        """In one transaction under the log's write lock: read heads, sequence, insert, commit."""

    def close(self) -> None:
        """Drain the writer; subclasses then close their connections."""
        self.committer.close()

    # -- reading (eventsourcing side) -----------------------------------------------------------------
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        first_position = 0 if start is None else (start - 1 if inclusive_of_start else start)
        notifications = []
        for row in self.read_rows(max(first_position, 0), limit if not topics else limit * 4):
            if stop is not None and row.position + 1 > stop:
                break
            if topics and row.type not in topics:
                continue
            notifications.append(
                Notification(
                    id=row.position + 1,
                    originator_id=UUID(row.aggregate_id),
                    originator_version=row.aggregate_version,
                    topic=row.type,
                    state=row.entry,
                )
            )
            if len(notifications) == limit:
                break
        return notifications

    def max_notification_id(self) -> int | None:
        size = self.log_size()
        return size or None

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return PollingSubscription(self, gt=gt, topics=topics)

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        rows = self.reader.aggregate_rows(str(originator_id), gt=gt, lte=lte, desc=desc, limit=limit)
        return [
            StoredEvent(
                originator_id=UUID(row.aggregate_id),
                originator_version=row.aggregate_version,
                topic=row.type,
                state=row.entry,
            )
            for row in rows
        ]

    # -- reading (LogReader port): the backend's log module runs the queries -------------------------
    def log_size(self) -> int:
        return self.reader.log_size()

    def read_rows(self, start: int, limit: int) -> Sequence[StoredRow]:
        if self.recent is not None and (rows := self.recent.read(start, limit)) is not None:
            return rows  # pushed by the writer: not read back from the database
        return self.reader.read_rows(start, limit)

    def read_partner_rows(self, partner_id: str, start: int, limit: int) -> Sequence[StoredRow]:
        """Up to ``limit`` rows of one partner with ``position >= start``, in order."""
        return self.reader.read_partner_rows(partner_id, start, limit)

    def read_aggregate_rows(self, aggregate_id: str) -> Sequence[StoredRow]:
        return self.reader.read_aggregate_rows(aggregate_id)

    def rows_of_aggregates(self, aggregate_ids: Sequence[str]) -> Sequence[StoredRow]:
        """Every row of ``aggregate_ids``, in position order (the engine's :class:`AggregateRowsReader` port)."""
        return self.reader.rows_of_aggregates(aggregate_ids)

    def aggregate_rows_after(self, aggregate_id: str, version: int, limit: int) -> Sequence[StoredRow]:
        """One aggregate's rows after ``version``, ``limit`` at most (the :class:`AggregateRowsReader` port)."""
        return self.reader.aggregate_rows(aggregate_id, gt=version, lte=None, desc=False, limit=limit)

    def entries_of_aggregates(self, aggregate_ids: Sequence[str]) -> Sequence[tuple[str, str, bytes]]:
        """``(aggregate id, type, entry)`` of the aggregates' rows, grouped by aggregate in version order."""
        return self.reader.entries_of_aggregates(aggregate_ids)

    def partner_aggregates_of_type(
        self, partner_id: str, event_type: str, *, start: int, stop: int, limit: int
    ) -> Sequence[tuple[int, str]]:
        return self.reader.partner_aggregates_of_type(partner_id, event_type, start=start, stop=stop, limit=limit)

    def existing_aggregates(self, aggregate_ids: Sequence[str]) -> set[str]:
        """Which of ``aggregate_ids`` have an entry (the feeds' :class:`FeedLogReader` port)."""
        return self.reader.existing_aggregates(aggregate_ids)

    def partner_rows_of_types(
        self, partner_id: str, types: Sequence[str], *, start: int, stop: int, limit: int, descending: bool = False
    ) -> Sequence[StoredRow]:
        return self.reader.partner_rows_of_types(
            partner_id, types, start=start, stop=stop, limit=limit, descending=descending
        )


def stored_row(row: Sequence[Any]) -> StoredRow:
    """A ``ledger_log`` row selected as ``position, originator_id, originator_version, topic, partner_id,
    entry, leaf_hash`` (the column order every backend's log module selects)."""
    position, aggregate_id, version, topic, partner_id, entry, leaf = row
    return StoredRow(position, aggregate_id, version, topic, partner_id, bytes(entry), bytes(leaf))


class PollingSubscription(ListenNotifySubscription[ApplicationRecorder]):
    """A subscription that re-reads the log every ``poll_interval`` seconds (works on every backend)."""

    poll_interval = 0.1

    def _loop_on_pull(self) -> None:
        try:
            self._pull()
            while not self._has_been_stopped:
                self._has_been_notified.wait(self.poll_interval)
                self._pull()
        except BaseException as error:  # noqa: BLE001 - kept for the caller to re-raise; the thread must not die silently
            if self._thread_error is None:
                self._thread_error = error
            self.stop()
