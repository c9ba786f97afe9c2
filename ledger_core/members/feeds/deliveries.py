"""Outbound feed deliveries as an aggregate: which log range each enrollment or outcome file covered.

One ``FeedDeliveries`` per partner and feed kind, id ``derive_id("feed_deliveries", partner_id, kind)``. A
delivery is recorded (``feeddeliveries.delivered``) BEFORE its file is written, with the log range it covers
(``since_position`` to ``through_position``): writing the same day's file again covers the same range and
produces the same bytes, a lost run is caught up by the next one (which starts where the last recorded
incremental delivery ended), and nothing is ever delivered twice or skipped (seed 001 §2.3 "incremental").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from ledger_core.engine.aggregate import LedgerAggregate, derive_id
from ledger_core.members.feeds.formats import FeedKind
from ledger_core.shared.validation import check_partner_slug


def deliveries_id(partner_id: str, kind: FeedKind) -> UUID:
    return derive_id("feed_deliveries", partner_id, kind.value)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One recorded delivery: the file, the period it is for, the log range it covers and its size."""

    period: str
    file_name: str
    since_position: int
    through_position: int
    rows: int
    full: bool


class FeedDeliveries(LedgerAggregate):
    """Every delivery of one outbound feed to one partner."""

    AGGREGATE_TYPE: ClassVar[str] = "FeedDeliveries"

    class Event(LedgerAggregate.Event):
        pass

    class Created(Event, LedgerAggregate.Created):
        pass

    class Opened(Created):
        EVENT_TYPE: ClassVar[str] = "feeddeliveries.opened"
        kind: str

    class Delivered(Event):
        EVENT_TYPE: ClassVar[str] = "feeddeliveries.delivered"
        period: str
        file_name: str
        since_position: int
        through_position: int
        rows: int
        full: bool

        def apply(self, aggregate: FeedDeliveries) -> None:
            delivery = Delivery(
                self.period,
                self.file_name,
                self.since_position,
                self.through_position,
                self.rows,
                self.full,
            )
            aggregate.deliveries[(self.period, self.full)] = delivery
            if not self.full:
                aggregate.through = max(aggregate.through, self.through_position)
            aggregate.last = delivery

    def __init__(self, partner_id: str | None, kind: str) -> None:
        self.partner_id = partner_id
        self.kind = FeedKind(kind)
        self.deliveries: dict[tuple[str, bool], Delivery] = {}
        self.through = 0
        self.last: Delivery | None = None

    @classmethod
    def open(cls, partner_id: str, kind: FeedKind) -> FeedDeliveries:
        partner_id = check_partner_slug(partner_id)
        return cls._create(cls.Opened, id=deliveries_id(partner_id, kind), partner_id=partner_id, kind=kind.value)

    def deliver(self, **fields: Any) -> None:
        """Record a delivery (period, file name, since and through positions, rows, full)."""
        self.trigger_event(self.Delivered, **fields)

    def delivered(self, period: str, full: bool) -> Delivery | None:
        return self.deliveries.get((period, full))
