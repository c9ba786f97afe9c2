"""The webhook projector: a follower of the log that turns entries into outbox deliveries, exactly once.

Each :meth:`WebhookProjector.step` is one transaction: lock the ``log`` tracking row, read up to
``batch`` entries from that position (through the transaction's log reader: the backend's log module),
keep the endpoint projection current (``partner.webhook_*``, ``partner.suspended`` / ``reinstated``),
map entries to partner events
(:func:`ledger_core.webhooks.events.partner_events`), store each message with a delivery per subscribed
endpoint, move the tracking position past the batch, commit. A crash before the commit leaves nothing
behind; after it, nothing is repeated: a restart resumes at exactly the next entry.

:meth:`step_sealed` follows the signed checkpoints the same way (tracking ``sealed``): a claim
verification entry newly covered by a checkpoint yields ``proof.generated``.

The projector receives its store (an :class:`~adapters.outbox.OutboxStore`) and never imports a backend.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from adapters.outbox import OutboxStore, OutboxTransaction, Tracking
from adapters.ports import FALLBACK_SECONDS, Head, HeadWatch
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import Envelope, decode_entry
from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.validation import format_timestamp, parse_timestamp
from ledger_core.webhooks.events import (
    MAPPED_LOG_TYPES,
    PROOF_SOURCE_TYPES,
    PartnerEvent,
    partner_events,
    proof_generated,
)

LOG_TRACKING = Tracking.LOG
# Entries whose content later webhooks of the same aggregate read (first events, counseling dates).
_CONTEXT_TYPES = frozenset(
    {"claim.submitted", "enrollment.enrolled", "enrollment.counseling_scheduled", "subscription.started"}
)
SEALED_TRACKING = Tracking.SEALED
_HEADS = {Tracking.LOG: Head.LOG, Tracking.SEALED: Head.CHECKPOINT}
IDLE_TICK_SECONDS = 0.2  # longest idle sleep, so a stop is noticed soon
_ENDPOINT_TYPES = frozenset(
    {
        "partner.webhook_added",
        "partner.webhook_updated",
        "partner.webhook_secret_rotated",
        "partner.webhook_disabled",
        "partner.webhook_enabled",
        "partner.webhook_removed",
        "partner.suspended",
        "partner.reinstated",
    }
)


def _project_endpoint(tx: OutboxTransaction, envelope: Envelope) -> None:
    partner, payload, kind = envelope.partner_id or "", envelope.payload, envelope.type
    endpoint = str(payload.get("endpoint_id", ""))
    if kind in {"partner.webhook_added", "partner.webhook_updated"}:
        tx.upsert_endpoint(partner, endpoint, payload["url"], payload["event_types"], payload["secret_id"])
    elif kind == "partner.webhook_secret_rotated":
        until = parse_timestamp(payload["previous_secret_expires_at"], "previous_secret_expires_at").timestamp()
        tx.rotate_endpoint_secret(partner, endpoint, payload["secret_id"], payload["previous_secret_id"], until)
    elif kind in {"partner.webhook_disabled", "partner.webhook_enabled"}:
        tx.set_endpoint_enabled(partner, endpoint, kind == "partner.webhook_enabled")
    elif kind == "partner.webhook_removed":
        tx.remove_endpoint(partner, endpoint)
    elif kind in {"partner.suspended", "partner.reinstated"}:
        tx.set_partner_active(partner, kind == "partner.reinstated")


class _BatchHistory:
    """Aggregate histories for the mapping, served from the batch itself when it holds an aggregate's
    first event (then it holds all of its events up to the current one), else read from the log."""

    def __init__(self, tx: OutboxTransaction) -> None:
        self.tx = tx
        self.seen: dict[str, list[Envelope]] = {}

    def add(self, row: StoredRow) -> Envelope | None:
        """Decode a partner's entry if a webhook or the history of one may need it."""
        if row.type not in _ENDPOINT_TYPES and row.type not in MAPPED_LOG_TYPES and row.type not in _CONTEXT_TYPES:
            return None
        envelope = decode_entry(row.entry)
        self.seen.setdefault(row.aggregate_id, []).append(envelope)
        return envelope

    def before(self, aggregate_id: str, position: int) -> list[Envelope]:
        seen = self.seen.get(aggregate_id)
        if seen and seen[0].aggregate_version == 1:
            return [e for e in seen if e.position < position]
        return [decode_entry(row.entry) for row in self.tx.log.aggregate_rows_before(aggregate_id, position)]


class WebhookProjector:
    """Maps the log to the outbox; ``on_enqueued(n)`` is told when deliveries were added (to wake dispatchers).

    ``batch`` bounds one transaction: on SQLite it holds the file's write lock, which log appends wait for.
    """

    def __init__(
        self, store: OutboxStore, *, batch: int = 256, on_enqueued: Callable[[int], None] | None = None
    ) -> None:
        self.store = store
        self.batch = batch
        self.on_enqueued = on_enqueued
        self._sealed_enabled: bool | None = None
        self._watch: HeadWatch | None = None
        self._tracked: dict[Tracking, int] = {}  # this projector's last known positions (while following)
        self._read_by: dict[Tracking, float] = {}  # when "behind?" must be read from the database again
        self._woke_at = float("-inf")

    # -- "anything to do?" -----------------------------------------------------------------------------
    def follow(self) -> None:
        """Decide "behind?" from announced heads (PostgreSQL notifications) instead of a query per poll;
        call again after leadership was regained (forgets what it knew). No-op where not offered."""
        self._watch = self.store.watch()
        self._tracked.clear()
        self._read_by.clear()

    def _behind(self, name: Tracking) -> bool:
        """A hint is used only while fresh (``FALLBACK_SECONDS``) and after a real read; the step that
        follows reads and locks the tracking row itself, so a wrong hint costs a step, never an entry."""
        watch, head_of = self._watch, _HEADS[name]
        known = self._tracked.get(name)
        if watch is not None and known is not None and time.monotonic() < self._read_by.get(name, 0.0):
            head = watch.head(head_of)
            if head is not None:
                return head > known
        generation = 0 if watch is None else watch.generation()
        head, tracked = self.store.heads(checkpoints=name == SEALED_TRACKING)
        if watch is not None and watch.connected():
            self._tracked[name] = tracked
            watch.correct({head_of: head}, generation)
            self._read_by[name] = time.monotonic() + FALLBACK_SECONDS
        return head > tracked

    def _moved(self, name: Tracking, position: int, head: int | None, generation: int) -> None:
        """After a committed step: remember the position; ``head`` is the head the step saw (when it read
        everything there was), which corrects an announcement of another schema's ledger."""
        if self._watch is None or name not in self._tracked:
            return
        self._tracked[name] = position
        if head is not None:
            self._watch.correct({_HEADS[name]: head}, generation)

    def wait(self, stop: threading.Event, timeout: float) -> None:
        """Idle: until the log or the signed tree passes this projector (announced), ``timeout``, or ``stop``.

        With announcements, wake-ups are at least ``timeout`` apart: under load a step takes what a poll
        every ``timeout`` would (a batch, not one group commit each), idle costs nothing."""
        watch = self._watch
        log, sealed = self._tracked.get(LOG_TRACKING), self._tracked.get(SEALED_TRACKING, -1)
        if watch is None or log is None or not watch.connected():
            stop.wait(timeout)
            return
        pause = timeout - (time.monotonic() - self._woke_at)
        if pause > 0 and stop.wait(pause):
            return
        deadline = min(self._read_by.values(), default=0.0)
        remaining = min(deadline - time.monotonic(), IDLE_TICK_SECONDS)
        if remaining > 0 and not stop.is_set():
            watch.wait_any({Head.LOG: log, Head.CHECKPOINT: sealed}, remaining)
        self._woke_at = time.monotonic()

    # -- steps -----------------------------------------------------------------------------------------
    def step(self) -> int:
        """Project the next batch of log entries; returns how many entries were consumed (0: caught up)."""
        if not self._behind(LOG_TRACKING):  # a read or a hint: idle followers never take the write lock
            return 0
        enqueued = 0
        generation = 0 if self._watch is None else self._watch.generation()
        with self.store.transaction() as tx:
            start = tx.lock_tracking(LOG_TRACKING)
            rows = tx.log.read_rows(start, self.batch)
            if not rows:
                self._moved(LOG_TRACKING, start, start, generation)
                return 0
            now = self.store.now()
            history = _BatchHistory(tx)
            pending: list[PartnerEvent] = []
            for row in rows:
                envelope = history.add(row) if row.partner_id is not None else None
                if envelope is None:
                    continue
                if row.type in _ENDPOINT_TYPES:
                    enqueued += tx.enqueue_many(pending, now)  # deliveries follow the configuration in log order
                    pending = []
                    _project_endpoint(tx, envelope)
                elif row.type in MAPPED_LOG_TYPES:
                    pending.extend(partner_events(envelope, row.leaf_hash, history.before))
            enqueued += tx.enqueue_many(pending, now)
            tx.set_tracking(LOG_TRACKING, rows[-1].position + 1)
        position = rows[-1].position + 1
        self._moved(LOG_TRACKING, position, position if len(rows) < self.batch else None, generation)
        if enqueued and self.on_enqueued is not None:
            self.on_enqueued(enqueued)
        return len(rows)

    def step_sealed(self) -> int:
        """Emit ``proof.generated`` for verification entries newly covered by a checkpoint; entries passed."""
        if self._sealed_enabled is None or not self._sealed_enabled:
            self._sealed_enabled = self.store.has_checkpoints()
            if not self._sealed_enabled:
                return 0
        if not self._behind(SEALED_TRACKING):
            return 0
        enqueued = 0
        generation = 0 if self._watch is None else self._watch.generation()
        with self.store.transaction() as tx:
            start = tx.lock_tracking(SEALED_TRACKING)
            checkpoint = tx.checkpoints.latest_checkpoint()
            if checkpoint is None or checkpoint.size <= start:
                self._moved(SEALED_TRACKING, start, 0 if checkpoint is None else checkpoint.size, generation)
                return 0
            size, root, signed_at = checkpoint.size, checkpoint.root_hash, checkpoint.signed_at
            stop = min(size, start + self.batch * 10)
            at = _rfc3339(signed_at)
            now = self.store.now()
            events: list[PartnerEvent] = []
            for row in tx.log.rows_of_types(start, stop, sorted(PROOF_SOURCE_TYPES)):
                event = proof_generated(
                    decode_entry(row.entry), row.leaf_hash, checkpoint_size=size, root_hash=root.hex(), sealed_at=at
                )
                if event is not None:
                    events.append(event)
            enqueued = tx.enqueue_many(events, now)  # in log order, a few statements for the batch
            tx.set_tracking(SEALED_TRACKING, stop)
        self._moved(SEALED_TRACKING, stop, size if stop == size else None, generation)
        if enqueued and self.on_enqueued is not None:
            self.on_enqueued(enqueued)
        return stop - start

    def run_once(self) -> int:
        """Steps until caught up with the log and the checkpoints; total entries consumed."""
        total = 0
        while (count := self.step() + self.step_sealed()) > 0:
            total += count
        return total


def _rfc3339(text: str) -> str:
    """The checkpoint's signing time, normalized (the time of the sealing if it is not RFC 3339)."""
    try:
        return format_timestamp(parse_timestamp(text, "signed_at"))
    except InvalidCommand:
        return format_timestamp(datetime.now(UTC))
