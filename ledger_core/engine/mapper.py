"""Maps domain events to log drafts and log entries back to domain events (eventsourcing ``Mapper``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from ledger_core.engine.aggregate import LedgerAggregate, uuid5_format, uuid5_prefix, uuid5_text
from ledger_core.engine.canonical import check_json_value
from ledger_core.engine.envelope import EventDraft, decode_entry, parse_recorded_at
from ledger_core.engine.errors import InvalidCommand

# Event attributes that live in the envelope header rather than in the payload.
_HEADER_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic", "partner_id"})
# Aggregates whose id text and event-id hash prefix the mapper remembers (then it starts over).
_ID_CACHE_SIZE = 4096


def event_id_for(aggregate_id: UUID | str, version: int) -> str:
    """The event id is derived from (aggregate id, version): unique, and reproducible on replay."""
    return uuid5_text(f"{_event_name_prefix(aggregate_id)}{version}")


def _event_name_prefix(aggregate_id: UUID | str) -> str:
    """The part of an event id's name shared by every event of the aggregate."""
    return f"event\x1f{aggregate_id}\x1f"


@dataclass(frozen=True)
class DraftStoredEvent(StoredEvent):
    """A ``StoredEvent`` on its way in: ``state`` stays empty until the sequencer writes the entry."""

    draft: EventDraft


class EventRegistry:
    """Stable event type names <-> event classes, and event class -> aggregate type."""

    def __init__(self, aggregates: Iterable[type[LedgerAggregate]]) -> None:
        self.event_classes: dict[str, type[Any]] = {}
        self.aggregate_of: dict[type[Any], type[LedgerAggregate]] = {}
        self.aggregate_types: dict[str, type[LedgerAggregate]] = {}
        for aggregate in aggregates:
            if not aggregate.AGGREGATE_TYPE:
                raise TypeError(f"{aggregate.__name__} has no AGGREGATE_TYPE")
            self.aggregate_types[aggregate.AGGREGATE_TYPE] = aggregate
            for attribute in vars(aggregate).values():
                # eventsourcing re-creates nested event classes as subclasses, so EVENT_TYPE is inherited.
                name = isinstance(attribute, type) and getattr(attribute, "EVENT_TYPE", None)
                if not name:
                    continue
                if name in self.event_classes:
                    raise TypeError(f"event type {name!r} registered twice")
                self.event_classes[name] = attribute
                self.aggregate_of[attribute] = aggregate


class EnvelopeMapper(Mapper[UUID]):
    """Turns domain events into :class:`DraftStoredEvent` and entry bytes back into domain events."""

    def __init__(self, registry: EventRegistry) -> None:
        super().__init__(transcoder=JSONTranscoder())
        self.registry = registry
        self._aggregate_type_of: dict[type[Any], str] = {}
        # originator id -> (id text, SHA-1 state of "event\x1f<id>\x1f"); shared by threads (GIL-atomic dict ops).
        self._ids: dict[UUID, tuple[str, hashlib._Hash]] = {}

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        draft = self.to_draft(domain_event)
        return DraftStoredEvent(domain_event.originator_id, draft.aggregate_version, draft.type, b"", draft)

    def to_draft(self, domain_event: DomainEventProtocol[UUID]) -> EventDraft:
        """The draft of one domain event: stable type, header fields, checked JSON payload."""
        cls: type[Any] = type(domain_event)
        aggregate_type = self._aggregate_type_of.get(cls)
        if aggregate_type is None:
            aggregate_type = self._register_class(cls)
        state = vars(domain_event)
        payload = {key: value for key, value in state.items() if key not in _HEADER_FIELDS}
        try:
            check_json_value(payload, "$.payload")
        except InvalidCommand as error:
            raise InvalidCommand(f"{cls.EVENT_TYPE}: {error.message}", **error.details) from error
        originator_id = domain_event.originator_id
        version = domain_event.originator_version
        known = self._ids.get(originator_id)
        if known is None:
            known = self._remember_id(originator_id)
        id_text, event_id_state = known
        event_id = event_id_state.copy()
        event_id.update(b"%d" % version)
        return EventDraft(
            uuid5_format(event_id.hexdigest()),
            cls.EVENT_TYPE,
            aggregate_type,
            id_text,
            version,
            state.get("partner_id"),
            payload,
        )

    def creation_draft(
        self, event_class: type[Any], aggregate_id: UUID | str, partner_id: str | None, payload: dict[str, Any]
    ) -> EventDraft:
        """The draft :meth:`to_draft` makes of the creation event (version 1) ``event_class`` of aggregate
        ``aggregate_id`` whose payload is ``payload``, without building the event or its aggregate.

        For bulk paths: the caller vouches that ``payload`` is exactly the event's payload (every field of
        ``event_class`` but the header fields, JSON values only: the check :meth:`to_draft` makes is not
        made here) and that ``aggregate_id`` has no event yet (the sequencer refuses the save otherwise).
        """
        return self.event_draft(event_class, aggregate_id, 1, partner_id, payload)

    def event_draft(
        self,
        event_class: type[Any],
        aggregate_id: UUID | str,
        version: int,
        partner_id: str | None,
        payload: dict[str, Any],
    ) -> EventDraft:
        """The draft :meth:`to_draft` makes of event ``version`` of aggregate ``aggregate_id``, an
        ``event_class`` whose payload is ``payload``; the caller vouches as for :meth:`creation_draft` (and
        that the aggregate's events before ``version`` are saved first or in the same save). ``aggregate_id``:
        the id or its text as ``str(UUID)`` writes it."""
        aggregate_type = self._aggregate_type_of.get(event_class)
        if aggregate_type is None:
            aggregate_type = self._register_class(event_class)
        id_text = str(aggregate_id)
        event_id = event_id_for(id_text, version)
        return EventDraft(event_id, event_class.EVENT_TYPE, aggregate_type, id_text, version, partner_id, payload)

    def _register_class(self, cls: type[Any]) -> str:
        aggregate = self.registry.aggregate_of.get(cls)
        if aggregate is None:
            raise TypeError(f"event class {cls.__qualname__} is not registered with a stable EVENT_TYPE")
        self._aggregate_type_of[cls] = aggregate.AGGREGATE_TYPE
        return aggregate.AGGREGATE_TYPE

    def _remember_id(self, originator_id: UUID) -> tuple[str, hashlib._Hash]:
        """The id's text and the SHA-1 state of ``event_id_for``'s name up to the version (cached)."""
        id_text = str(originator_id)
        known = (id_text, uuid5_prefix(_event_name_prefix(id_text)))
        if len(self._ids) >= _ID_CACHE_SIZE:
            self._ids.clear()
        self._ids[originator_id] = known
        return known

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        envelope = decode_entry(stored_event.state)
        cls = self.registry.event_classes[envelope.type]
        state: dict[str, Any] = dict(envelope.payload)
        state["originator_id"] = UUID(envelope.aggregate_id)
        state["originator_version"] = envelope.aggregate_version
        state["timestamp"] = parse_recorded_at(envelope.recorded_at)
        state["partner_id"] = envelope.partner_id
        if issubclass(cls, LedgerAggregate.Created):
            state["originator_topic"] = get_topic(self.registry.aggregate_types[envelope.aggregate_type])
        domain_event: DomainEventProtocol[UUID] = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event
