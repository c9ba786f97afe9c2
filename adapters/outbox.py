"""The webhook outbox, for every backend: its records, states, unit of work and store (no SQL here).

Tables (in the log's database, so the projector's outbox rows and its tracking position commit in one
transaction), each backend's ``outbox.py`` being the one module that writes SQL for them:

* ``webhook_tracking(name, position)``: how far each follower got (:class:`Tracking`: ``log``, the next
  log position to map; ``sealed``, the tree size whose claim verifications already produced
  ``proof.generated``).
* ``webhook_endpoints``: a projection of the Partner events ``partner.webhook_*`` (+ suspension), what
  the dispatcher needs to send: URL, subscribed types, secret ids, enabled.
* ``webhook_messages``: one row per partner event (``message_id`` is the ``webhook-id``), with the exact
  body every delivery sends.
* ``webhook_deliveries``: one message to one endpoint, in a :class:`DeliveryStatus`, attempts made, when
  the next attempt is due, and a lease (``lease_until``) while a dispatcher holds it. A dispatcher killed
  mid-delivery loses its lease when it expires and another (or the restarted one) sends again:
  at-least-once, with the same ``webhook-id``.
* ``webhook_attempts``: every attempt (status code, latency, error, negotiated TLS version) for the
  delivery logs. ``tls_version`` was added after the first release: each backend adds the column when
  it opens a database that lacks it (an existing ledger's attempts keep NULL there).

:class:`OutboxTransaction` is the unit of work: the backend implements the statements, this module the
logic shared by both (which endpoints get a delivery, what an attempt's outcome writes). Reads of the
log and of the checkpoints go through the transaction's :attr:`~OutboxTransaction.log` and
:attr:`~OutboxTransaction.checkpoints`, the backend's log and tree modules bound to the transaction's
connection (so they read in its snapshot). Times are Unix seconds (floats) so every backend compares
them the same way.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from adapters.ports import CheckpointReads, HeadWatch, LogRows
from ledger_core.webhooks.events import PartnerEvent


class DeliveryStatus(StrEnum):
    """Where a delivery stands (stored as this text in ``webhook_deliveries.status``)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


PENDING = DeliveryStatus.PENDING
DELIVERED = DeliveryStatus.DELIVERED
FAILED = DeliveryStatus.FAILED
CANCELLED = DeliveryStatus.CANCELLED


class DeliveryOrigin(StrEnum):
    """Why a delivery exists (stored in ``webhook_deliveries.origin``)."""

    EVENT = "event"
    RESEND = "resend"
    REPLAY = "replay"


class AttemptOutcome(StrEnum):
    """What one attempt decided (reported as the dispatcher's event name)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"  # given up: the last attempt failed
    GONE = "gone"  # 410: the endpoint is disabled


class Tracking(StrEnum):
    """The followers whose positions ``webhook_tracking`` keeps (its ``name`` column)."""

    LOG = "log"
    SEALED = "sealed"


@dataclass(frozen=True, slots=True)
class EndpointTarget:
    """What the dispatcher needs of an endpoint."""

    partner_id: str
    endpoint_id: str
    url: str
    secret_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A claimed delivery: send ``body`` to ``target`` (attempt number ``attempts + 1``)."""

    delivery_id: int
    message_id: str
    event_type: str
    body: bytes
    attempts: int
    target: EndpointTarget


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """The outcome of one attempt and what to do next (decided by the dispatcher's policy)."""

    delivery: DueDelivery
    started_at: float
    status_code: int | None
    latency_ms: float
    error: str | None
    outcome: AttemptOutcome
    next_attempt_at: float | None = None
    tls_version: str | None = None
    """The TLS version the attempt negotiated (``TLSv1.3``), None for plain http or no connection."""


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery as the logs show it."""

    delivery_id: int
    message_id: str
    endpoint_id: str
    event_type: str
    position: int | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: float | None
    last_status_code: int | None
    last_error: str | None
    created_at: float
    delivered_at: float | None
    origin: str


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    attempt: int
    started_at: float
    status_code: int | None
    latency_ms: float
    error: str | None
    tls_version: str | None = None


def delivery_record(row: Sequence[Any]) -> DeliveryRecord:
    """A row of ``id, message_id, endpoint_id, event_type, position, status, attempts, next_attempt_at,
    last_status_code, last_error, created_at, delivered_at, origin`` as a record."""
    status = DeliveryStatus(row[5])
    return DeliveryRecord(
        int(row[0]), row[1], row[2], row[3], row[4], status, int(row[6]),
        None if status is not PENDING else row[7], row[8], row[9], float(row[10]), row[11], row[12],
    )  # fmt: skip


def due_delivery(row: Sequence[Any], now: float) -> DueDelivery:
    """A claimed row of ``id, message_id, event_type, body, attempts, partner_id, endpoint_id, url,
    secret_id, previous_secret_id, previous_secret_until``: the previous secret signs until it expires."""
    (delivery_id, message_id, event_type, body, attempts, partner_id, endpoint_id, url, secret_id,
     previous, previous_until) = row  # fmt: skip
    secret_ids = (secret_id,) if previous is None or (previous_until or 0) <= now else (secret_id, previous)
    target = EndpointTarget(partner_id, endpoint_id, url, secret_ids)
    return DueDelivery(int(delivery_id), message_id, event_type, bytes(body), int(attempts), target)


def event_types_text(event_types: Sequence[str]) -> str:
    """Subscribed types as stored in ``webhook_endpoints.event_types``: sorted, space separated."""
    return " ".join(sorted(set(event_types)))


def payload_of(body: bytes) -> dict[str, Any]:
    value = orjson.loads(body)
    return value if isinstance(value, dict) else {}


class OutboxTransaction(ABC):
    """One transaction on the outbox tables; the backend writes the statements, the logic is here."""

    log: LogRows
    """The backend's log reader, on this transaction's connection."""
    checkpoints: CheckpointReads
    """The backend's checkpoint reads, on this transaction's connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement of the backend's dialect; its rows (none for a statement returning nothing)."""
        cursor = self.conn.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement over many parameter rows (psycopg pipelines them: one round trip, not one per row)."""
        if rows:
            self.conn.cursor().executemany(sql, rows)

    # -- tracking -------------------------------------------------------------------------------------
    @abstractmethod
    def lock_tracking(self, name: Tracking) -> int:
        """The follower's position, locked for this transaction (created at 0 the first time)."""

    @abstractmethod
    def set_tracking(self, name: Tracking, position: int) -> None: ...

    @abstractmethod
    def tracked(self, name: Tracking) -> int:
        """The follower's position, without locking (0 before its first step)."""

    # -- endpoints (projection of partner.webhook_* events) -------------------------------------------
    @abstractmethod
    def upsert_endpoint(
        self, partner_id: str, endpoint_id: str, url: str, event_types: Sequence[str], secret_id: str
    ) -> None: ...

    @abstractmethod
    def rotate_endpoint_secret(
        self, partner_id: str, endpoint_id: str, secret_id: str, previous: str, previous_until: float
    ) -> None: ...

    @abstractmethod
    def set_endpoint_enabled(self, partner_id: str, endpoint_id: str, enabled: bool) -> None: ...

    @abstractmethod
    def remove_endpoint(self, partner_id: str, endpoint_id: str) -> None:
        """Forget the endpoint and cancel its pending deliveries."""

    @abstractmethod
    def set_partner_active(self, partner_id: str, active: bool) -> None: ...

    @abstractmethod
    def subscriptions(self, partner_id: str) -> list[tuple[str, str]]:
        """``(endpoint_id, event types text)`` of the partner's endpoints, by endpoint id."""

    # -- messages and deliveries ----------------------------------------------------------------------
    def enqueue(self, event: PartnerEvent, now: float) -> int:
        """Store ``event`` and a delivery to each subscribed endpoint; the number of deliveries made."""
        return self.enqueue_many([event], now)

    def enqueue_once(self, event: PartnerEvent, now: float) -> bool:
        """Store ``event`` and its deliveries unless a message with its id exists (checked and inserted in one
        statement, so two workers raising the same alert deliver it once); True if it was new."""
        row = (event.message_id, event.partner_id, event.type, event.position, event.body(), now)
        if not self.insert_message_if_new(row):
            return False
        deliveries = [
            (event.message_id, event.partner_id, endpoint_id, PENDING, now, now, DeliveryOrigin.EVENT)
            for endpoint_id, types in self.subscriptions(event.partner_id)
            if event.type in str(types).split(" ")
        ]
        self.insert_deliveries(deliveries)
        return True

    def enqueue_many(self, events: Sequence[PartnerEvent], now: float) -> int:
        """Store ``events`` and their deliveries in a few statements; the number of deliveries made."""
        subscriptions: dict[str, list[tuple[str, set[str]]]] = {}
        deliveries: list[tuple[Any, ...]] = []
        for event in events:
            endpoints = subscriptions.get(event.partner_id)
            if endpoints is None:
                rows = self.subscriptions(event.partner_id)
                endpoints = subscriptions[event.partner_id] = [(e, set(str(t).split(" "))) for e, t in rows]
            for endpoint_id, types in endpoints:
                if event.type in types:
                    origin = DeliveryOrigin.EVENT
                    deliveries.append((event.message_id, event.partner_id, endpoint_id, PENDING, now, now, origin))
        self.insert_messages([(e.message_id, e.partner_id, e.type, e.position, e.body(), now) for e in events])
        self.insert_deliveries(deliveries)
        return len(deliveries)

    @abstractmethod
    def insert_message_if_new(self, row: tuple[Any, ...]) -> bool:
        """Insert one (message_id, partner_id, event_type, position, body, created_at) row; False if the id exists."""

    @abstractmethod
    def insert_messages(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(message_id, partner_id, event_type, position, body, created_at) rows; existing ids are kept."""

    @abstractmethod
    def insert_deliveries(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(message_id, partner_id, endpoint_id, status, next_attempt_at, created_at, origin) rows."""

    @abstractmethod
    def add_delivery(
        self, message_id: str, partner_id: str, endpoint_id: str, now: float, origin: DeliveryOrigin
    ) -> int:
        """A new pending delivery of a stored message, due ``now``; its id."""

    @abstractmethod
    def claim_due(self, now: float, limit: int, lease_until: float) -> list[DueDelivery]:
        """Lease up to ``limit`` due deliveries of enabled endpoints (never one another dispatcher holds)."""

    def record(self, results: Sequence[AttemptResult], alerts: Sequence[PartnerEvent], now: float) -> None:
        """Write attempt outcomes (and the ``audit.alert`` messages of deliveries given up)."""
        attempts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for result in results:
            delivery = result.delivery
            attempt = delivery.attempts + 1
            attempts.append(
                (
                    delivery.delivery_id, attempt, result.started_at, result.status_code, result.latency_ms,
                    result.error, result.tls_version,
                )
            )  # fmt: skip
            status = _STATUS_AFTER.get(result.outcome, FAILED)
            updates.append(
                (
                    status, attempt, result.next_attempt_at if status is PENDING else now, result.status_code,
                    result.error, now if status is DELIVERED else None, delivery.delivery_id,
                )
            )  # fmt: skip
        self.insert_attempts(attempts)
        self.update_deliveries(updates)
        for result in results:
            if result.outcome is AttemptOutcome.GONE:
                target = result.delivery.target
                self.set_endpoint_enabled(target.partner_id, target.endpoint_id, False)
        if alerts:
            self.enqueue_many(alerts, now)

    @abstractmethod
    def insert_attempts(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(delivery_id, attempt, started_at, status_code, latency_ms, error) rows; repeats are ignored."""

    @abstractmethod
    def update_deliveries(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(status, attempts, next_attempt_at, last_status_code, last_error, delivered_at, id) rows; leases end."""

    # -- logs and recovery ----------------------------------------------------------------------------
    @abstractmethod
    def list_deliveries(
        self, partner_id: str, endpoint_id: str, *, limit: int, starting_after: int | None, status: str | None
    ) -> list[DeliveryRecord]:
        """Newest first; ``starting_after`` is the last delivery id seen (Stripe-style cursor)."""

    @abstractmethod
    def get_delivery(self, partner_id: str, delivery_id: int) -> DeliveryRecord | None: ...

    @abstractmethod
    def attempts(self, delivery_id: int) -> list[AttemptRecord]: ...

    @abstractmethod
    def replay_messages(
        self, partner_id: str, types: Sequence[str], *, since_position: int | None, since_time: float | None
    ) -> list[str]:
        """Message ids of ``partner_id`` of the given types from a log position or a time, in log order."""

    @abstractmethod
    def delivery_counts(self) -> dict[str, int]: ...


_STATUS_AFTER = {AttemptOutcome.DELIVERED: DELIVERED, AttemptOutcome.RETRY: PENDING}
"""A delivery's status after an attempt with this outcome (any other: failed)."""


class OutboxStore(ABC):
    """Opens outbox transactions on one database; ``close()`` releases its connections."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[OutboxTransaction]:
        """A write transaction (committed on success, rolled back on error)."""

    @abstractmethod
    def read(self) -> AbstractContextManager[OutboxTransaction]:
        """A read-only unit (no write lock): for cheap "anything to do?" checks."""

    @abstractmethod
    def close(self) -> None: ...

    def now(self) -> float:
        return time.time()

    def has_checkpoints(self) -> bool:
        """Whether the tree store's tables exist (``proof.generated`` needs them): asked of the tree module."""
        with self.read() as tx:
            return tx.checkpoints.has_checkpoints()

    def heads(self, checkpoints: bool = False) -> tuple[int, int]:
        """(log size or signed tree size, the projector's tracked position there), read now."""
        with self.read() as tx:
            if checkpoints:
                return tx.checkpoints.integrated_size(), tx.tracked(Tracking.SEALED)
            return tx.log.log_size(), tx.tracked(Tracking.LOG)

    def lead(self) -> bool:
        """Whether this process should run the projector now. Any number of projectors is safe (they
        serialise on the tracking row); PostgreSQL elects one per schema so the others do not poll."""
        return True

    def watch(self) -> HeadWatch | None:
        """Log and checkpoint heads announced by notifications (PostgreSQL), or None: poll instead."""
        return None

    def counts(self) -> dict[str, int]:
        with self.transaction() as tx:
            return tx.delivery_counts()
