"""Test doubles for verification: an in-memory log that replays aggregates, and a stepping clock.

``MemoryLog`` is duck-typed like :class:`~ledger_core.engine.application.LedgerApplication` (``find``, ``load``,
``view``, ``latest_position``, ``save_returning_positions``) and like the
:class:`~ledger_core.engine.ports.LogReader` port (``read_rows``): every event goes through the real mapper
and envelope bytes, so the verification service and the log-derived facts see exactly what a stored log would hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger_core.claims.facts import BulkFacts, ClaimFactsIndex, ClaimFactsSnapshot, FactsQuery
from ledger_core.domain import ALL_AGGREGATES
from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import Envelope, decode_entry, encode_entry
from ledger_core.engine.errors import ConcurrencyConflict, NotFound
from ledger_core.engine.mapper import DraftStoredEvent, EnvelopeMapper, EventRegistry
from ledger_core.shared.validation import format_timestamp

A = TypeVar("A", bound=LedgerAggregate)
MAPPER = EnvelopeMapper(EventRegistry(ALL_AGGREGATES))


class SteppingClock:
    """Starts at ``start`` and moves one second per reading (``recordedAt`` never decreases)."""

    def __init__(self, start: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class MemoryLog:
    """An append-only list of entry bytes with aggregate replay and optimistic concurrency."""

    def __init__(self, clock: SteppingClock) -> None:
        self.clock = clock
        self.log: list[bytes] = []
        self.by_aggregate: dict[UUID, list[bytes]] = {}

    def save_returning_positions(self, *aggregates: LedgerAggregate) -> list[int]:
        positions: list[int] = []
        for aggregate in aggregates:
            events = aggregate.collect_events()
            stored = self.by_aggregate.setdefault(aggregate.id, [])
            if events and events[0].originator_version != len(stored) + 1:
                raise ConcurrencyConflict(str(aggregate.id), events[0].originator_version - 1, len(stored))
            for event in events:
                draft = MAPPER.to_stored_event(event)
                assert isinstance(draft, DraftStoredEvent)
                entry = encode_entry(
                    draft.draft,
                    position=len(self.log),
                    prev=None,
                    aggregate_prev_position=None,
                    recorded_at=format_timestamp(self.clock.now),
                )
                stored.append(entry)
                positions.append(len(self.log))
                self.log.append(entry)
        return positions

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        aggregate: LedgerAggregate | None = None
        for entry in self.by_aggregate.get(aggregate_id, []):
            envelope = decode_entry(entry)
            stored = StoredEvent(aggregate_id, envelope.aggregate_version, envelope.type, entry)
            event = MAPPER.to_domain_event(stored)
            assert isinstance(event, LedgerAggregate.Event)
            aggregate = event.mutate(aggregate)
        return aggregate if isinstance(aggregate, cls) else None

    def load(self, cls: type[A], aggregate_id: UUID, kind: str, named: str | None = None) -> A:
        found = self.find(cls, aggregate_id)
        if found is None:
            raise NotFound(kind, named or str(aggregate_id))
        return found

    def view(self, cls: type[A], aggregate_id: UUID, kind: str) -> A:
        return self.load(cls, aggregate_id, kind)

    def latest_position(self, aggregate_id: UUID, kind: str) -> int:
        stored = self.by_aggregate.get(aggregate_id)
        if not stored:
            raise NotFound(kind, str(aggregate_id))
        return decode_entry(stored[-1]).position

    def envelopes(self) -> list[Envelope]:
        return [decode_entry(entry) for entry in self.log]

    def read_rows(self, start: int, limit: int) -> Sequence[StoredRow]:
        rows = []
        for position in range(start, min(start + limit, len(self.log))):
            envelope = decode_entry(self.log[position])
            rows.append(
                StoredRow(
                    position,
                    envelope.aggregate_id,
                    envelope.aggregate_version,
                    envelope.type,
                    envelope.partner_id,
                    self.log[position],
                    b"",
                )
            )
        return rows


class IndexFacts:
    """The ClaimFacts port over a :class:`MemoryLog`: a fresh :class:`ClaimFactsIndex` of the whole log per call."""

    def __init__(self, log: MemoryLog) -> None:
        self.log = log

    def _index(self) -> ClaimFactsIndex:
        index = ClaimFactsIndex()
        for envelope in self.log.envelopes():
            index.feed(envelope.position, envelope.type, envelope.aggregate_id, envelope.partner_id, envelope.payload)
        return index

    def snapshot(self, query: FactsQuery) -> ClaimFactsSnapshot:
        return self._index().snapshot(query)

    def claims_listing(self, partner_id: str, sha256: str) -> list[str]:
        return self._index().claims_listing(partner_id, sha256)

    def bulk_snapshot(self, queries: Sequence[FactsQuery]) -> BulkFacts:
        return self._index().bulk_snapshot(queries)


def claim_fields(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of a valid ClaimSubmission (``validate_submission``)."""
    base: dict[str, Any] = {
        "partner_id": "acme_insurance",
        "partner_claim_id": "CLM-001",
        "claim_type": "auto",
        "claim_amount": "1200.00",
        "currency": "USD",
        "submitted_at": "2026-03-01T10:00:00Z",
        "documents": [],
        "verification_level": "enhanced",
    }
    return {**base, **overrides}
