"""The ledger application: an eventsourcing ``Application`` whose recorder sequences a hash-chained log.

Storage arrives as ports: an eventsourcing ``ApplicationRecorder`` that accepts
:class:`~ledger_core.engine.mapper.DraftStoredEvent` (see :mod:`ledger_core.engine.sequencer`) and a
:class:`~ledger_core.engine.ports.LogReader`. Nothing here reads the environment or opens connections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification, Recording
from eventsourcing.utils import Environment, EnvType

from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.chain import ChainSummary, ChainVerifier, StoredRow
from ledger_core.engine.envelope import Envelope, EventDraft, decode_entry
from ledger_core.engine.errors import NotFound
from ledger_core.engine.mapper import DraftStoredEvent, EnvelopeMapper, EventRegistry
from ledger_core.engine.ports import DraftAppender, LogReader
from ledger_core.engine.sequencer import AnchoredDrafts

A = TypeVar("A", bound=LedgerAggregate)

VERIFY_CHUNK = 5_000
DEFAULT_AGGREGATE_CACHE_SIZE = 2_000
"""Aggregates kept decoded per process (LRU; ~2.1 KiB per claim aggregate: ~4 MiB when full). A miss costs
one read of the aggregate's events from the log (docs/performance.md, "Soak: a smaller aggregate cache");
``LEDGER_AGGREGATE_CACHE_SIZE`` sets it for the server and the feeds worker."""


class LedgerApplication(Application[UUID]):
    """Commands in, events out, every event a hash-chained log entry.

    ``aggregates`` lists the aggregate classes whose events may be written (their stable event type
    names form the registry). Concrete services (claims, members, ...) subclass or compose this.
    """

    name = "ProveniqLedger"

    def __init__(
        self,
        recorder: ApplicationRecorder,
        log: LogReader,
        aggregates: Iterable[type[LedgerAggregate]],
        *,
        aggregate_cache_size: int = DEFAULT_AGGREGATE_CACHE_SIZE,
    ) -> None:
        """``aggregate_cache_size``: aggregates kept decoded (LRU, at least 1; see
        :data:`DEFAULT_AGGREGATE_CACHE_SIZE`)."""
        if aggregate_cache_size < 1:  # eventsourcing reads 0 or less as an *unbounded* cache
            raise ValueError(f"aggregate_cache_size must be at least 1, not {aggregate_cache_size}")
        self._injected_recorder = recorder
        # Checked once here: a runtime-Protocol isinstance per save would cost more than it saves.
        self._draft_appender: DraftAppender | None = recorder if isinstance(recorder, DraftAppender) else None
        self._registry = EventRegistry(aggregates)
        self._envelope_mapper = EnvelopeMapper(self._registry)
        self.log_reader = log
        super().__init__(env={"AGGREGATE_CACHE_MAXSIZE": str(aggregate_cache_size)})

    # -- eventsourcing wiring: no environment variables, no dynamic imports --------------------------
    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> Mapper[UUID]:
        return self._envelope_mapper

    @property
    def envelope_mapper(self) -> EnvelopeMapper:
        """The mapper between this application's events and log drafts (entries)."""
        return self._envelope_mapper

    def construct_recorder(self) -> ApplicationRecorder:
        return self._injected_recorder

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """As ``Application.save``, minus runtime-Protocol ``isinstance`` checks for our own aggregates.

        (Those checks cost ~30 us per save on Python 3.11, more than sequencing an event.)
        """
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, LedgerAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """As ``Application._record``; with a :class:`DraftAppender` the events go straight to drafts.

        Same drafts, same group commit, same recordings as the ``EventStore.put`` path (which maps each
        event to a :class:`~ledger_core.engine.mapper.DraftStoredEvent` only for the recorder to unwrap it), minus
        one frozen dataclass per event. Returns after the commit, like ``insert_events``.
        """
        appender = self._draft_appender
        if appender is None or processing_event.tracking is not None or processing_event.saved_kwargs:
            return super()._record(processing_event)
        events = processing_event.events
        recordings: list[Recording[UUID]] = []
        if events:
            to_draft = self._envelope_mapper.to_draft
            drafts = [to_draft(event) for event in events]
            positions = appender.submit_drafts(drafts).result()
            for event, draft, position in zip(events, drafts, positions, strict=True):
                notification = Notification(event.originator_id, draft.aggregate_version, draft.type, b"", position + 1)
                recordings.append(Recording(event, notification))
        if self.repository.cache and not self.repository.fastforward:
            for aggregate_id, aggregate in processing_event.aggregates.items():
                self.repository.cache.put(aggregate_id, aggregate)
        return recordings

    def creation_draft(
        self, event_class: type[Any], aggregate_id: UUID | str, partner_id: str | None, payload: dict[str, Any]
    ) -> EventDraft:
        """A creation event's draft built from its payload, for :meth:`save_drafts` (bulk paths; the caller
        vouches for the payload: see :meth:`EnvelopeMapper.creation_draft`)."""
        return self._envelope_mapper.creation_draft(event_class, aggregate_id, partner_id, payload)

    def event_draft(
        self,
        event_class: type[Any],
        aggregate_id: UUID | str,
        version: int,
        partner_id: str | None,
        payload: dict[str, Any],
    ) -> EventDraft:
        """Event ``version``'s draft built from its payload, for :meth:`save_drafts` (bulk paths; the caller
        vouches for the payload and the version: see :meth:`EnvelopeMapper.event_draft`)."""
        return self._envelope_mapper.event_draft(event_class, aggregate_id, version, partner_id, payload)

    def save_drafts(
        self, drafts: Sequence[EventDraft], *aggregates: LedgerAggregate, anchored_at: int | None = None
    ) -> list[int]:
        """ONE all-or-nothing save of ``drafts`` followed by the pending events of ``aggregates``; returns
        the positions of all of them, in that order (after the commit, like :meth:`save`).

        The bulk paths' save: events built as drafts (:meth:`creation_draft`) skip the aggregate and the
        mapper, and are stored byte for byte as :meth:`save` stores the same events. The aggregates are
        cached as :meth:`save` caches them; the drafts' aggregates are not (they are loaded from the log).

        With ``anchored_at`` the save must take positions ``anchored_at, anchored_at + 1, ...``
        (:class:`~ledger_core.engine.sequencer.AnchoredDrafts`, for a writer whose events quote the log as
        of that size): when another save reached the log first it raises
        :class:`~ledger_core.engine.errors.LogMoved` and nothing is written (the aggregates' pending events
        are spent: rebuild them from the log and retry). An anchored save needs a recorder implementing
        :class:`~ledger_core.engine.ports.DraftAppender` (else :class:`TypeError`).
        """
        appender = self._draft_appender
        if appender is None and anchored_at is not None:
            raise TypeError("this recorder cannot append anchored saves")
        to_draft = self._envelope_mapper.to_draft
        batch = [*drafts, *(to_draft(event) for aggregate in aggregates for event in aggregate.collect_events())]
        if not batch:
            return []
        if appender is not None:
            save = batch if anchored_at is None else AnchoredDrafts(anchored_at, batch)
            positions: list[int] = appender.submit_drafts(save).result()
        else:
            stored = [
                DraftStoredEvent(UUID(draft.aggregate_id), draft.aggregate_version, draft.type, b"", draft)
                for draft in batch
            ]
            positions = [notification_id - 1 for notification_id in self.recorder.insert_events(stored) or ()]
        if self.repository.cache and not self.repository.fastforward:
            for aggregate in aggregates:
                self.repository.cache.put(aggregate.id, aggregate)
        return positions

    def submit_anchored(
        self, drafts: Sequence[EventDraft], *aggregates: LedgerAggregate, anchored_at: int
    ) -> Future[list[int]]:
        """:meth:`save_drafts` anchored at ``anchored_at``, without waiting: the future of the positions (its
        result raises what :meth:`save_drafts` raises, :class:`~ledger_core.engine.errors.LogMoved` included).
        The aggregates' pending events are taken now; the aggregates are not cached (a bulk writer goes on
        from its own copies). Needs a :class:`~ledger_core.engine.ports.DraftAppender` (else :class:`TypeError`)."""
        appender = self._draft_appender
        if appender is None:
            raise TypeError("this recorder cannot append anchored saves")
        to_draft = self._envelope_mapper.to_draft
        batch = [*drafts, *(to_draft(event) for aggregate in aggregates for event in aggregate.collect_events())]
        return appender.submit_drafts(AnchoredDrafts(anchored_at, batch))

    async def save_async(self, *aggregates: LedgerAggregate) -> list[int]:
        """Save from a coroutine without blocking the event loop; return the new events' positions.

        The drafts go to the same group commit as :meth:`save`; the coroutine resumes once the batch
        holding them has committed. Requires a recorder implementing :class:`~ledger_core.engine.ports.DraftAppender`.
        """
        appender = self._draft_appender
        if appender is None:
            raise TypeError("this recorder cannot append asynchronously")
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        if not events:
            return []
        to_draft = self._envelope_mapper.to_draft
        positions: list[int] = await appender.submit_drafts_async([to_draft(event) for event in events])
        return positions

    # -- persistence helpers used by services ---------------------------------------------------------
    def load(self, cls: type[A], aggregate_id: UUID, kind: str, named: str | None = None) -> A:
        """Load aggregate ``aggregate_id`` of type ``cls`` or raise :class:`NotFound` (as ``kind``, naming
        ``named``, the identifier the caller gave, when the aggregate id was derived from it)."""
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(kind, named or str(aggregate_id)) from None
        if not isinstance(aggregate, cls):
            raise NotFound(kind, named or str(aggregate_id))
        return aggregate

    def view(self, cls: type[A], aggregate_id: UUID, kind: str) -> A:
        """Like :meth:`load`, for reading only: the cached aggregate itself, not a copy (copying a claim with
        its verifications costs more than reading it). Never mutate or save what this returns."""
        try:
            aggregate: object = self.repository.get(aggregate_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            raise NotFound(kind, str(aggregate_id)) from None
        if not isinstance(aggregate, cls):
            raise NotFound(kind, str(aggregate_id))
        return aggregate

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """Like :meth:`load` but None when absent."""
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def latest_position(self, aggregate_id: UUID, kind: str) -> int:
        """Log position of the aggregate's newest event: one indexed row, not its history (:class:`NotFound` as
        ``kind`` when it has none)."""
        latest = self.recorder.select_events(aggregate_id, desc=True, limit=1)
        if not latest:
            raise NotFound(kind, str(aggregate_id))
        return decode_entry(latest[0].state).position

    def save_returning_positions(self, *aggregates: LedgerAggregate) -> list[int]:
        """Save and return the log positions given to the new events (in order)."""
        recordings: list[Recording[UUID]] = self.save(*aggregates)
        return [recording.notification.id - 1 for recording in recordings]

    # -- reading the log ------------------------------------------------------------------------------
    def log_size(self) -> int:
        return self.log_reader.log_size()

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[Envelope]:
        """Decoded entries with ``start <= position < stop``, in order."""
        for row in self._rows(start, stop):
            yield decode_entry(row.entry)

    def history(self, aggregate_id: UUID) -> list[Envelope]:
        """Every entry of one aggregate, oldest first."""
        return [decode_entry(row.entry) for row in self.log_reader.read_aggregate_rows(str(aggregate_id))]

    def verify(self, progress: Callable[[int, int], Any] | None = None) -> ChainSummary:
        """Re-read every entry and check the chain and back-links; raise ``ChainBroken`` at the first fault.

        ``progress(done, total)`` is called after each chunk.
        """
        verifier = ChainVerifier()
        total = self.log_reader.log_size()
        done = 0
        for chunk in self._chunks(0, None):
            verifier.feed(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        return verifier.summary()

    def _rows(self, start: int, stop: int | None) -> Iterator[StoredRow]:
        for chunk in self._chunks(start, stop):
            yield from chunk

    def _chunks(self, start: int, stop: int | None) -> Iterator[list[StoredRow]]:
        position = start
        while stop is None or position < stop:
            limit = VERIFY_CHUNK if stop is None else min(VERIFY_CHUNK, stop - position)
            chunk = [row for row in self.log_reader.read_rows(position, limit) if stop is None or row.position < stop]
            if not chunk:
                return
            yield chunk
            position = chunk[-1].position + 1
