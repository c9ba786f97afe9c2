"""Test doubles for the domain tests: an in-memory key store, a fixed clock, and a replaying fake app.

``FakeApp`` is duck-typed like :class:`~ledger_core.engine.application.LedgerApplication` (``find``, ``load``,
``save_returning_positions``). Every saved event goes through the real :class:`EnvelopeMapper` and
envelope encoding, and every load replays the decoded events, so services are exercised against the
exact JSON the log would hold.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger_core.domain import ALL_AGGREGATES
from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.envelope import decode_entry, encode_entry
from ledger_core.engine.errors import ConcurrencyConflict, NotFound
from ledger_core.engine.mapper import DraftStoredEvent, EnvelopeMapper, EventRegistry
from ledger_core.members.errors import PersonalDataErased

A = TypeVar("A", bound=LedgerAggregate)

REGISTRY = EventRegistry(ALL_AGGREGATES)
MAPPER = EnvelopeMapper(REGISTRY)
RECORDED_AT = "2026-01-01T00:00:00.000000Z"


class InMemoryKeyStore:
    """KeyStore port in memory: one 32-byte key per subject, ids ``k<n>``."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.current: dict[str, str] = {}
        self.owner: dict[str, str] = {}

    def get_or_create(self, subject: str) -> tuple[str, bytes]:
        key_id = self.current.get(subject)
        if key_id is None:
            key_id = f"k{len(self.owner) + 1}"
            self.keys[key_id] = os.urandom(32)
            self.current[subject] = key_id
            self.owner[key_id] = subject
        return key_id, self.keys[key_id]

    def get(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)

    def destroy(self, subject: str) -> int:
        doomed = [key_id for key_id, owner in self.owner.items() if owner == subject and key_id in self.keys]
        for key_id in doomed:
            del self.keys[key_id]
        self.current.pop(subject, None)
        return len(doomed)


class ErasingKeyStore(InMemoryKeyStore):
    """Remembers erased subjects and refuses them a new key, as the real key stores do."""

    def __init__(self) -> None:
        super().__init__()
        self.erased: set[str] = set()

    def get_or_create(self, subject: str) -> tuple[str, bytes]:
        if subject in self.erased:
            raise PersonalDataErased(subject)
        return super().get_or_create(subject)

    def destroy(self, subject: str) -> int:
        self.erased.add(subject)
        return super().destroy(subject)


class FixedClock:
    """A clock that returns ``now`` until moved with :meth:`advance`."""

    def __init__(self, now: datetime = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def to_entry(event: Any, position: int = 0) -> bytes:
    """The log entry bytes the mapper would produce for ``event``."""
    stored = MAPPER.to_stored_event(event)
    assert isinstance(stored, DraftStoredEvent)
    return encode_entry(
        stored.draft, position=position, prev=None, aggregate_prev_position=None, recorded_at=RECORDED_AT
    )


def from_entry(entry: bytes) -> Any:
    """Decode entry bytes back into a domain event via the mapper."""
    envelope = decode_entry(entry)
    stored = StoredEvent(UUID(envelope.aggregate_id), envelope.aggregate_version, envelope.type, entry)
    return MAPPER.to_domain_event(stored)


def event_types(events: Iterable[Any]) -> list[str]:
    """The stable ``EVENT_TYPE`` of each event, in order."""
    return [type(event).EVENT_TYPE for event in events]


def replay(events: Iterable[Any]) -> Any:
    """Rebuild an aggregate from events after a full trip through the mapper and envelope bytes."""
    aggregate = None
    for event in events:
        aggregate = from_entry(to_entry(event)).mutate(aggregate)
    return aggregate


def state(aggregate: Any) -> dict[str, Any]:
    """An aggregate's business state (without eventsourcing bookkeeping and timestamps)."""
    skip = {"_pending_events", "_created_on", "_modified_on"}
    return {key: value for key, value in vars(aggregate).items() if key not in skip}


class FakeApp:
    """Stores entries per aggregate; ``find``/``load`` replay them; versions are checked on save."""

    def __init__(self) -> None:
        self.entries: dict[UUID, list[bytes]] = {}
        self.log: list[bytes] = []

    def save_returning_positions(self, *aggregates: LedgerAggregate) -> list[int]:
        positions: list[int] = []
        for aggregate in aggregates:
            events = aggregate.collect_events()
            stored = self.entries.setdefault(aggregate.id, [])
            if events and events[0].originator_version != len(stored) + 1:
                raise ConcurrencyConflict(str(aggregate.id), events[0].originator_version - 1, len(stored))
            for event in events:
                entry = to_entry(event, len(self.log))
                stored.append(entry)
                positions.append(len(self.log))
                self.log.append(entry)
        return positions

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        aggregate = None
        for entry in self.entries.get(aggregate_id, []):
            aggregate = from_entry(entry).mutate(aggregate)
        return aggregate if isinstance(aggregate, cls) else None

    def load(self, cls: type[A], aggregate_id: UUID, kind: str, named: str | None = None) -> A:
        found = self.find(cls, aggregate_id)
        if found is None:
            raise NotFound(kind, named or str(aggregate_id))
        return found

    def payloads(self) -> list[dict[str, Any]]:
        """Every payload in the log, in order."""
        return [decode_entry(entry).payload for entry in self.log]

    def types(self) -> list[str]:
        return [decode_entry(entry).type for entry in self.log]
