"""Maps domain events to log drafts and log entries back to domain events (eventsourcing ``Mapper``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

from ledger_core.aggregate import LedgerAggregate, uuid5_text
from ledger_core.canonical import check_json_value
from ledger_core.envelope import EventDraft, decode_entry, parse_recorded_at
from ledger_core.errors import InvalidCommand

# Event attributes that live in the envelope header rather than in the payload.
_HEADER_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic", "partner_id"})


def event_id_for(aggregate_id: UUID | str, version: int) -> str:
    """The event id is derived from (aggregate id, version): unique, and reproducible on replay."""
    return uuid5_text(f"event\x1f{aggregate_id}\x1f{version}")


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

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        draft = self.to_draft(domain_event)
        return DraftStoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=draft.aggregate_version,
            topic=draft.type,
            state=b"",
            draft=draft,
        )

    def to_draft(self, domain_event: DomainEventProtocol[UUID]) -> EventDraft:
        """The draft of one domain event: stable type, header fields, checked JSON payload."""
        cls: type[Any] = type(domain_event)
        aggregate = self.registry.aggregate_of.get(cls)
        if aggregate is None:
            raise TypeError(f"event class {cls.__qualname__} is not registered with a stable EVENT_TYPE")
        state = vars(domain_event)
        payload = {key: value for key, value in state.items() if key not in _HEADER_FIELDS}
        try:
            check_json_value(payload, "$.payload")
        except InvalidCommand as error:
            raise InvalidCommand(f"{cls.EVENT_TYPE}: {error.message}", **error.details) from error
        originator_id = domain_event.originator_id
        version = domain_event.originator_version
        return EventDraft(
            event_id=event_id_for(originator_id, version),
            type=cls.EVENT_TYPE,
            aggregate_type=aggregate.AGGREGATE_TYPE,
            aggregate_id=str(originator_id),
            aggregate_version=version,
            partner_id=state.get("partner_id"),
            payload=payload,
        )

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
