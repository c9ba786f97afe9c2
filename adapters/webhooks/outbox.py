"""The webhook outbox: tables beside the log, and the SQL both backends share.

Tables (in the log's database, so the projector's outbox rows and its tracking position commit in one
transaction):

* ``webhook_tracking(name, position)``: how far each follower got (``log``: next log position to map;
  ``sealed``: tree size whose claim verifications already produced ``proof.generated``).
* ``webhook_endpoints``: a projection of the Partner events ``partner.webhook_*`` (+ suspension), what
  the dispatcher needs to send: URL, subscribed types, secret ids, enabled.
* ``webhook_messages``: one row per partner event (``message_id`` is the ``webhook-id``), with the exact
  body every delivery sends.
* ``webhook_deliveries``: one message to one endpoint: status ``pending`` / ``delivered`` / ``failed`` /
  ``cancelled``, attempts made, when the next attempt is due, and a lease (``lease_until``) while a
  dispatcher holds it. A dispatcher killed mid-delivery loses its lease when it expires and another (or
  the restarted one) sends again: at-least-once, with the same ``webhook-id``.
* ``webhook_attempts``: every attempt (status code, latency, error) for the delivery logs.

:class:`OutboxTransaction` is the unit of work; :class:`OutboxStore` opens transactions (the backends
differ in placeholders, types, locking and the claim query: PostgreSQL uses ``FOR UPDATE SKIP LOCKED``).
Times are Unix seconds (floats) so every backend compares them the same way.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import orjson

from adapters.postgres.notifications import HeadWatch
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import Envelope, decode_entry
from ledger_core.webhooks.events import PartnerEvent

PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"
STATUSES = (PENDING, DELIVERED, FAILED, CANCELLED)
ROW_COLUMNS = "position, originator_id, originator_version, topic, partner_id, entry, leaf_hash"


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
    outcome: str  # "delivered", "retry", "failed" (given up), "gone" (410: endpoint disabled)
    next_attempt_at: float | None = None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """A delivery as the logs show it."""

    delivery_id: int
    message_id: str
    endpoint_id: str
    event_type: str
    position: int | None
    status: str
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


DELIVERY_COLUMNS = (
    "d.id, d.message_id, d.endpoint_id, m.event_type, m.position, d.status, d.attempts, d.next_attempt_at,"
    " d.last_status_code, d.last_error, d.created_at, d.delivered_at, d.origin"
)


def _delivery(row: Sequence[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        int(row[0]), row[1], row[2], row[3], row[4], row[5], int(row[6]),
        None if row[5] != PENDING else row[7], row[8], row[9], float(row[10]), row[11], row[12],
    )  # fmt: skip


class OutboxTransaction:
    """One transaction on the outbox tables (and reads of ``ledger_log`` in the same snapshot)."""

    P = "?"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def _sql(self, sql: str) -> str:
        return sql if self.P == "?" else sql.replace("?", self.P)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(self._sql(sql), params)
        return list(cursor.fetchall()) if cursor.description is not None else []

    # -- tracking -------------------------------------------------------------------------------------
    def lock_tracking(self, name: str) -> int:
        """The follower's position, locked for this transaction (PostgreSQL: row lock; SQLite: write lock).

        The row is created (at 0) only the first time: one statement per step afterwards."""
        locking = self._lock_suffix("SELECT position FROM webhook_tracking WHERE name = ?")
        rows = self.execute(locking, (name,))
        if not rows:
            self.execute(
                "INSERT INTO webhook_tracking (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING", (name,)
            )
            rows = self.execute(locking, (name,))
        return int(rows[0][0])

    def _lock_suffix(self, sql: str) -> str:
        return sql

    def set_tracking(self, name: str, position: int) -> None:
        self.execute("UPDATE webhook_tracking SET position = ? WHERE name = ?", (position, name))

    # -- reading the log ------------------------------------------------------------------------------
    def _row(self, row: Sequence[Any]) -> StoredRow:
        position, aggregate_id, version, topic, partner_id, entry, leaf = row
        return StoredRow(int(position), str(aggregate_id), int(version), topic, partner_id, bytes(entry), bytes(leaf))

    def read_log(self, start: int, limit: int) -> list[StoredRow]:
        sql = f"SELECT {self.row_columns()} FROM ledger_log WHERE position >= ? ORDER BY position LIMIT ?"
        return [self._row(row) for row in self.execute(sql, (start, limit))]

    def read_log_types(self, start: int, stop: int, types: Sequence[str]) -> list[StoredRow]:
        marks = ",".join("?" * len(types))
        sql = (
            f"SELECT {self.row_columns()} FROM ledger_log WHERE position >= ? AND position < ?"
            f" AND topic IN ({marks}) ORDER BY position"
        )
        return [self._row(row) for row in self.execute(sql, (start, stop, *types))]

    def row_columns(self) -> str:
        return ROW_COLUMNS

    def history(self, aggregate_id: str, before: int) -> list[Envelope]:
        """One aggregate's envelopes before ``before`` (the context some webhooks need)."""
        sql = (
            f"SELECT {self.row_columns()} FROM ledger_log WHERE originator_id = {self.id_param()}"
            " AND position < ? ORDER BY originator_version"
        )
        return [decode_entry(self._row(row).entry) for row in self.execute(sql, (aggregate_id, before))]

    def id_param(self) -> str:
        return "?"

    def latest_checkpoint(self) -> tuple[int, bytes, str] | None:
        """(size, root hash, signed at) of the newest signed checkpoint, if the tree store exists."""
        rows = self.execute("SELECT size, root_hash, signed_at FROM checkpoints ORDER BY size DESC LIMIT 1")
        return None if not rows else (int(rows[0][0]), bytes(rows[0][1]), str(rows[0][2]))

    # -- endpoints (projection of partner.webhook_* events) -------------------------------------------
    def upsert_endpoint(
        self, partner_id: str, endpoint_id: str, url: str, event_types: Sequence[str], secret_id: str
    ) -> None:
        self.execute(
            "INSERT INTO webhook_endpoints (partner_id, endpoint_id, url, event_types, secret_id, enabled,"
            " partner_active) VALUES (?, ?, ?, ?, ?, 1, 1) ON CONFLICT (partner_id, endpoint_id) DO UPDATE SET"
            " url = excluded.url, event_types = excluded.event_types, secret_id = excluded.secret_id",
            (partner_id, endpoint_id, url, _types(event_types), secret_id),
        )

    def rotate_endpoint_secret(
        self, partner_id: str, endpoint_id: str, secret_id: str, previous: str, previous_until: float
    ) -> None:
        self.execute(
            "UPDATE webhook_endpoints SET secret_id = ?, previous_secret_id = ?, previous_secret_until = ?"
            " WHERE partner_id = ? AND endpoint_id = ?",
            (secret_id, previous, previous_until, partner_id, endpoint_id),
        )

    def set_endpoint_enabled(self, partner_id: str, endpoint_id: str, enabled: bool) -> None:
        self.execute(
            "UPDATE webhook_endpoints SET enabled = ? WHERE partner_id = ? AND endpoint_id = ?",
            (int(enabled), partner_id, endpoint_id),
        )

    def remove_endpoint(self, partner_id: str, endpoint_id: str) -> None:
        self.execute(
            "DELETE FROM webhook_endpoints WHERE partner_id = ? AND endpoint_id = ?", (partner_id, endpoint_id)
        )
        self.execute(
            "UPDATE webhook_deliveries SET status = ? WHERE partner_id = ? AND endpoint_id = ? AND status = ?",
            (CANCELLED, partner_id, endpoint_id, PENDING),
        )

    def set_partner_active(self, partner_id: str, active: bool) -> None:
        self.execute("UPDATE webhook_endpoints SET partner_active = ? WHERE partner_id = ?", (int(active), partner_id))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement over many parameter rows (psycopg pipelines them: one round trip, not one per row)."""
        if rows:
            self.conn.cursor().executemany(self._sql(sql), rows)

    def enqueue(self, event: PartnerEvent, now: float) -> int:
        """Store ``event`` and a delivery to each subscribed endpoint; the number of deliveries made."""
        return self.enqueue_many([event], now)

    def enqueue_many(self, events: Sequence[PartnerEvent], now: float) -> int:
        """Store ``events`` and their deliveries in a few statements; the number of deliveries made."""
        subscriptions: dict[str, list[tuple[str, set[str]]]] = {}
        deliveries: list[tuple[Any, ...]] = []
        for event in events:
            endpoints = subscriptions.get(event.partner_id)
            if endpoints is None:
                rows = self.execute(
                    "SELECT endpoint_id, event_types FROM webhook_endpoints WHERE partner_id = ? ORDER BY endpoint_id",
                    (event.partner_id,),
                )
                endpoints = subscriptions[event.partner_id] = [(e, set(str(t).split(" "))) for e, t in rows]
            for endpoint_id, types in endpoints:
                if event.type in types:
                    deliveries.append((event.message_id, event.partner_id, endpoint_id, PENDING, now, now, "event"))
        self.insert_messages([(e.message_id, e.partner_id, e.type, e.position, e.body(), now) for e in events])
        self.insert_deliveries(deliveries)
        return len(deliveries)

    def insert_messages(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(message_id, partner_id, event_type, position, body, created_at) rows; existing ids are kept."""
        self.executemany(
            "INSERT INTO webhook_messages (message_id, partner_id, event_type, position, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
            rows,
        )

    def insert_deliveries(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """(message_id, partner_id, endpoint_id, status, next_attempt_at, created_at, origin) rows."""
        self.executemany(
            "INSERT INTO webhook_deliveries (message_id, partner_id, endpoint_id, status, attempts, next_attempt_at,"
            " lease_until, created_at, origin) VALUES (?, ?, ?, ?, 0, ?, 0, ?, ?)",
            rows,
        )

    def add_delivery(self, message_id: str, partner_id: str, endpoint_id: str, now: float, origin: str) -> int:
        rows = self.execute(
            "INSERT INTO webhook_deliveries (message_id, partner_id, endpoint_id, status, attempts, next_attempt_at,"
            " lease_until, created_at, origin) VALUES (?, ?, ?, ?, 0, ?, 0, ?, ?) RETURNING id",
            (message_id, partner_id, endpoint_id, PENDING, now, now, origin),
        )
        return int(rows[0][0])

    @abstractmethod
    def claim_due(self, now: float, limit: int, lease_until: float) -> list[DueDelivery]:
        """Lease up to ``limit`` due deliveries of enabled endpoints (never one another dispatcher holds)."""

    def _due(self, row: Sequence[Any], now: float) -> DueDelivery:
        (delivery_id, message_id, event_type, body, attempts, partner_id, endpoint_id, url, secret_id,
         previous, previous_until) = row  # fmt: skip
        secret_ids = (secret_id,) if previous is None or (previous_until or 0) <= now else (secret_id, previous)
        target = EndpointTarget(partner_id, endpoint_id, url, secret_ids)
        return DueDelivery(int(delivery_id), message_id, event_type, bytes(body), int(attempts), target)

    def record(self, results: Sequence[AttemptResult], alerts: Sequence[PartnerEvent], now: float) -> None:
        """Write attempt outcomes (and the ``audit.alert`` messages of deliveries given up)."""
        attempts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for result in results:
            delivery = result.delivery
            attempt = delivery.attempts + 1
            attempts.append(
                (delivery.delivery_id, attempt, result.started_at, result.status_code, result.latency_ms, result.error)
            )
            status = {"delivered": DELIVERED, "retry": PENDING}.get(result.outcome, FAILED)
            updates.append(
                (
                    status, attempt, result.next_attempt_at if status == PENDING else now, result.status_code,
                    result.error, now if status == DELIVERED else None, delivery.delivery_id,
                )
            )  # fmt: skip
        self.executemany(
            "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, status_code, latency_ms, error)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id, attempt) DO NOTHING",
            attempts,
        )
        self.executemany(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, lease_until = 0,"
            " last_status_code = ?, last_error = ?, delivered_at = ? WHERE id = ?",
            updates,
        )
        for result in results:
            if result.outcome == "gone":
                target = result.delivery.target
                self.set_endpoint_enabled(target.partner_id, target.endpoint_id, False)
        if alerts:
            self.enqueue_many(alerts, now)

    # -- logs and recovery ----------------------------------------------------------------------------
    def list_deliveries(
        self, partner_id: str, endpoint_id: str, *, limit: int, starting_after: int | None, status: str | None
    ) -> list[DeliveryRecord]:
        """Newest first; ``starting_after`` is the last delivery id seen (Stripe-style cursor)."""
        clauses = ["d.partner_id = ?", "d.endpoint_id = ?"]
        params: list[object] = [partner_id, endpoint_id]
        if starting_after is not None:
            clauses.append("d.id < ?")
            params.append(starting_after)
        if status is not None:
            clauses.append("d.status = ?")
            params.append(status)
        sql = (
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_messages m ON m.message_id ="
            f" d.message_id WHERE {' AND '.join(clauses)} ORDER BY d.id DESC LIMIT ?"
        )
        return [_delivery(row) for row in self.execute(sql, (*params, limit))]

    def get_delivery(self, partner_id: str, delivery_id: int) -> DeliveryRecord | None:
        sql = (
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_messages m ON m.message_id ="
            " d.message_id WHERE d.partner_id = ? AND d.id = ?"
        )
        rows = self.execute(sql, (partner_id, delivery_id))
        return _delivery(rows[0]) if rows else None

    def attempts(self, delivery_id: int) -> list[AttemptRecord]:
        rows = self.execute(
            "SELECT attempt, started_at, status_code, latency_ms, error FROM webhook_attempts WHERE delivery_id = ?"
            " ORDER BY attempt",
            (delivery_id,),
        )
        return [AttemptRecord(int(a), float(s), c, float(lat), e) for a, s, c, lat, e in rows]

    def replay_messages(
        self, partner_id: str, types: Sequence[str], *, since_position: int | None, since_time: float | None
    ) -> list[str]:
        """Message ids of ``partner_id`` of the given types from a log position or a time, in log order."""
        clauses = ["partner_id = ?"]
        params: list[object] = [partner_id]
        if since_position is not None:
            clauses.append("position >= ?")
            params.append(since_position)
        if since_time is not None:
            clauses.append("created_at >= ?")
            params.append(since_time)
        marks = ",".join("?" * len(types))
        sql = (
            f"SELECT message_id FROM webhook_messages WHERE {' AND '.join(clauses)} AND event_type IN ({marks})"
            " ORDER BY position, created_at"
        )
        return [row[0] for row in self.execute(sql, (*params, *types))]

    def delivery_counts(self) -> dict[str, int]:
        rows = self.execute("SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status")
        return {str(status): int(count) for status, count in rows}


def _types(event_types: Sequence[str]) -> str:
    return " ".join(sorted(set(event_types)))


def payload_of(body: bytes) -> dict[str, Any]:
    value = orjson.loads(body)
    return value if isinstance(value, dict) else {}


class OutboxStore(ABC):
    """Opens outbox transactions on one database; ``close()`` releases its connections."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[OutboxTransaction]:
        """A write transaction (committed on success, rolled back on error)."""

    @abstractmethod
    def close(self) -> None: ...

    def now(self) -> float:
        return time.time()

    def has_checkpoints(self) -> bool:
        """Whether the tree store's ``checkpoints`` table exists (``proof.generated`` needs it)."""
        return False

    @abstractmethod
    def read(self) -> AbstractContextManager[OutboxTransaction]:
        """A read-only unit (no write lock): for cheap "anything to do?" checks."""

    def heads(self, checkpoints: bool = False) -> tuple[int, int]:
        """(log size or signed tree size, the projector's tracked position there), read now."""
        source = (
            "SELECT COALESCE(MAX(size), 0) FROM checkpoints"
            if checkpoints
            else "SELECT COALESCE(MAX(position) + 1, 0) FROM ledger_log"
        )
        name = "sealed" if checkpoints else "log"
        with self.read() as tx:
            head = tx.execute(source)[0][0]
            tracked = tx.execute("SELECT position FROM webhook_tracking WHERE name = ?", (name,))
        return int(head), int(tracked[0][0]) if tracked else 0

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
