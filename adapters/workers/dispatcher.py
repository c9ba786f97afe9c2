"""The webhook dispatcher: leases due deliveries from the outbox and POSTs them, many in flight.

Sending goes through :mod:`adapters.workers.senders` (aiohttp by default, httpx selectable). The
dispatcher receives its store (an :class:`~adapters.outbox.OutboxStore`) and never imports a backend.

Per attempt (Standard Webhooks 1.0; seed 000 section 6.2; seed 001 section 4.5):

* Headers from :func:`proofs.webhooks.signed_headers`: ``webhook-id`` (the message id,
  the same on every retry, resend and replay), ``webhook-timestamp`` (this attempt), ``webhook-signature``
  (one ``v1,`` value per active secret: two during a rotation overlap), ``X-Proveniq-Event``,
  ``X-Proveniq-Timestamp`` and ``X-Proveniq-Signature``.
* 2xx: delivered. 410: the endpoint is disabled (in the outbox at once, in the log through ``on_gone``),
  the delivery fails. Anything else (other statuses, timeouts after ``timeout`` s, connection errors):
  retried on the :class:`~ledger_core.webhooks.retry.RetryPolicy` schedule, honouring ``Retry-After``;
  after the last attempt the delivery fails and an ``audit.alert`` message is enqueued for the partner.
* Targets (:mod:`adapters.webhook_targets`): only ``https`` to public addresses unless ``allow_private``
  (tests, the embedded default): the host is normalised and resolved, every address checked, and the
  sender connects only to the checked addresses (no DNS rebinding between check and connect). A refused
  target is recorded for the partner as ``refused: webhook target not allowed``; the resolved addresses go
  only to the operators' report (``event: refused``, ``detail``). Transport failures likewise: a short
  reason in the delivery log (``connection failed``, ``TLS handshake failed (REASON)``, ``timeout``), the
  client's message in the report. TLS: verified, 1.2 at least; the negotiated version is recorded per
  attempt (``tlsVersion`` in the delivery log).

Each delivery is leased for ``lease_seconds`` (default ``timeout`` + 5 s) when claimed; a dispatcher that dies
mid-delivery leaves leases that expire, and the delivery is sent again: at-least-once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from adapters.outbox import AttemptOutcome, AttemptResult, DueDelivery, OutboxStore, payload_of
from adapters.webhook_targets import TargetPolicy, TargetRefused
from adapters.workers.senders import Sender, SendOutcome, open_sender
from ledger_core.shared.validation import format_timestamp
from ledger_core.webhooks.events import PartnerEvent, delivery_failed_alert
from ledger_core.webhooks.retry import RetryPolicy, parse_retry_after
from proofs.webhooks import secret_key, signed_headers

Report = Callable[[dict[str, Any]], None]
GoneHandler = Callable[[str, str, str], None]
STOP_GRACE_SECONDS = 5.0
"""``on_gone(partner_id, endpoint_id, reason)``: record that an endpoint was disabled (410 Gone)."""


class DispatchEvent(StrEnum):
    """What the webhook loops report besides an attempt's :class:`AttemptOutcome` (logged as this text)."""

    ERROR = "error"
    REFUSED = "refused"
    TRANSPORT = "transport"


def quiet(_: dict[str, Any]) -> None:
    """Default reporter: say nothing."""


def ignore_gone(partner_id: str, endpoint_id: str, reason: str) -> None:
    """Default: the outbox already disabled the endpoint; nothing else to record."""


class Dispatcher:
    """Sends due deliveries of ``store`` until stopped. ``secret_for(secret_id)`` gives the ``whsec_`` secret."""

    def __init__(
        self,
        store: OutboxStore,
        secret_for: Callable[[str], str],
        *,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        max_in_flight: int = 256,
        max_connections: int = 32,
        lease_seconds: float | None = None,
        poll_interval: float = 0.05,
        max_poll_interval: float = 1.0,
        targets: TargetPolicy | None = None,
        on_gone: GoneHandler = ignore_gone,
        report: Report = quiet,
        http_client: str = "aiohttp",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.store = store
        self.tls = tls
        self.secret_for = secret_for
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.max_connections = max_connections
        self.lease_seconds = timeout + 5 if lease_seconds is None else max(lease_seconds, timeout + 1)
        self.poll_interval = poll_interval
        self.max_poll_interval = max(poll_interval, max_poll_interval)
        self._idle_polls = 0  # consecutive polls that found nothing and were not woken
        self.targets = targets or TargetPolicy()
        self.on_gone = on_gone
        self.report = report
        self.http_client = http_client
        self.sent = 0
        self._keys: dict[str, bytes] = {}
        self._results: list[AttemptResult] = []
        self._first_result_at = 0.0
        self.flush_batch = 64
        self.flush_interval = 0.01
        self._in_flight: set[asyncio.Task[None]] = set()
        self._nudge: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._random = random.Random()  # noqa: S311 - jitter, not cryptography

    # -- waking ---------------------------------------------------------------------------------------
    def wake(self) -> None:
        """Tell the loop new deliveries may be due (safe from any thread)."""
        loop, nudge = self._loop, self._nudge
        if loop is not None and nudge is not None and not loop.is_closed():
            loop.call_soon_threadsafe(nudge.set)

    # -- the loop -------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Claim, send and record until ``stop`` is set; then finish what is in flight and record it."""
        self._loop, self._nudge = asyncio.get_running_loop(), asyncio.Event()
        client = self._sender()
        try:
            while not stop.is_set():
                claimed = await self._claim_and_start(client)
                flushed = await self._flush() if self._flush_due() else 0
                if claimed or flushed:
                    self._idle_polls = 0
                else:
                    await self._wait(stop)
            if self._in_flight:  # a short grace; whatever is still in flight is sent again after its lease
                await asyncio.wait(self._in_flight, timeout=min(self.timeout + 1, STOP_GRACE_SECONDS))
                for task in self._in_flight:
                    task.cancel()
            await self._flush()
        finally:
            await client.aclose()

    def _sender(self) -> Sender:
        # Requests beyond ``max_connections`` wait for a free keep-alive connection.
        connections = min(self.max_in_flight, self.max_connections)
        return open_sender(self.http_client, self.timeout, connections, self.targets, self.tls)

    async def run_once(self) -> int:
        """Send everything due now and wait for the outcomes (tests, ``ledger webhooks dispatch --once``)."""
        self._loop, self._nudge = asyncio.get_running_loop(), asyncio.Event()
        started = self.sent
        client = self._sender()
        try:
            while await self._claim_and_start(client) or self._in_flight:
                if self._in_flight:
                    await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                await self._flush()
            await self._flush()
        finally:
            await client.aclose()
        return self.sent - started

    def _flush_due(self) -> bool:
        """Record outcomes in batches: when many are waiting, when nothing else is in flight, or after
        ``flush_interval`` (every flush is a write transaction; a receipt is never delayed by this)."""
        if not self._results:
            return False
        waited = time.monotonic() - self._first_result_at
        return len(self._results) >= self.flush_batch or not self._in_flight or waited >= self.flush_interval

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until nudged (new deliveries from this process's projector, a finished attempt), stopped, or the
        poll: ``poll_interval``, doubling while polls find nothing, up to ``max_poll_interval`` (retries
        coming due, expired leases and deliveries another process enqueued are found that late at most)."""
        assert self._nudge is not None  # set by run(); not a business rule
        timeout = self.idle_timeout()
        if self._results:
            timeout = max(0.0, min(timeout, self.flush_interval - (time.monotonic() - self._first_result_at)))
        stopping = asyncio.ensure_future(stop.wait())
        nudged = asyncio.ensure_future(self._nudge.wait())
        try:
            await asyncio.wait({stopping, nudged}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            nudged.cancel()
        self._idle_polls = 0 if self._nudge.is_set() or self._in_flight else self._idle_polls + 1
        self._nudge.clear()

    def idle_timeout(self) -> float:
        """The next idle poll's wait: ``poll_interval`` doubled per poll that found nothing, capped."""
        return min(self.poll_interval * 2.0 ** min(self._idle_polls, 30), self.max_poll_interval)

    async def _claim_and_start(self, client: Sender) -> int:
        room = self.max_in_flight - len(self._in_flight)
        if room <= 0 or (self._in_flight and room < self.max_in_flight // 4):
            return 0  # claim in batches: every claim is a write transaction
        now = self.store.now()
        due = await asyncio.to_thread(self._claim, now, room)
        for delivery in due:
            task = asyncio.create_task(self._attempt(client, delivery))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        return len(due)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.report({"event": DispatchEvent.ERROR, "error": repr(task.exception())})
        if self._nudge is not None:
            self._nudge.set()

    def _claim(self, now: float, limit: int) -> list[DueDelivery]:
        with self.store.transaction() as tx:
            return tx.claim_due(now, limit, now + self.lease_seconds)

    # -- one attempt ----------------------------------------------------------------------------------
    def _key(self, secret_id: str) -> bytes:
        key = self._keys.get(secret_id)
        if key is None:
            key = self._keys[secret_id] = secret_key(self.secret_for(secret_id))
        return key

    async def _attempt(self, client: Sender, delivery: DueDelivery) -> None:
        started = time.time()
        clock = time.perf_counter()
        try:
            await self.targets.check(delivery.target.url)
        except TargetRefused as refused:
            outcome = SendOutcome(None, error=f"refused: {refused.reason}", detail=refused.detail)
        else:
            keys = [self._key(secret_id) for secret_id in delivery.target.secret_ids]
            headers = signed_headers(keys, delivery.message_id, delivery.event_type, int(started), delivery.body)
            outcome = await client.post(delivery.target.url, delivery.body, headers)
        if outcome.detail is not None:  # for operators only: it may name resolved addresses
            event = DispatchEvent.REFUSED if (outcome.error or "").startswith("refused") else DispatchEvent.TRANSPORT
            target = delivery.target
            self.report(
                {"event": event, "delivery": delivery.delivery_id, "endpoint": target.endpoint_id,
                 "partner": target.partner_id, "detail": outcome.detail}
            )  # fmt: skip
        latency_ms = (time.perf_counter() - clock) * 1000
        if not self._results:
            self._first_result_at = time.monotonic()
        retry_after = parse_retry_after(outcome.retry_after)
        result = self._decide(delivery, started, outcome.status, outcome.error, retry_after, latency_ms)
        self._results.append(dataclasses.replace(result, tls_version=outcome.tls_version))

    def _decide(
        self,
        delivery: DueDelivery,
        started: float,
        status: int | None,
        error: str | None,
        retry_after: float | None,
        latency_ms: float,
    ) -> AttemptResult:
        if status is not None and 200 <= status < 300:
            return AttemptResult(delivery, started, status, latency_ms, None, AttemptOutcome.DELIVERED)
        if status == 410:
            gone = "410 Gone: endpoint disabled"
            return AttemptResult(delivery, started, status, latency_ms, gone, AttemptOutcome.GONE)
        error = error or f"HTTP {status}"
        delay = self.policy.next_delay(delivery.attempts + 1, retry_after, self._random.random())
        if delay is None:
            return AttemptResult(delivery, started, status, latency_ms, error, AttemptOutcome.FAILED)
        retry_at = time.time() + delay
        return AttemptResult(delivery, started, status, latency_ms, error, AttemptOutcome.RETRY, retry_at)

    # -- recording ------------------------------------------------------------------------------------
    async def _flush(self) -> int:
        if not self._results:
            return 0
        batch, self._results = self._results, []
        await asyncio.to_thread(self._record, batch)
        return len(batch)

    def _record(self, results: list[AttemptResult]) -> None:
        now = self.store.now()
        alerts = [
            self._alert(r, now)
            for r in results
            if r.outcome is AttemptOutcome.FAILED and r.delivery.event_type != "audit.alert"
        ]
        with self.store.transaction() as tx:
            tx.record(results, alerts, now)
        self.sent += sum(1 for r in results if r.outcome is AttemptOutcome.DELIVERED)
        for result in results:
            if result.outcome is not AttemptOutcome.DELIVERED:
                self.report(
                    {
                        "event": result.outcome,
                        "delivery": result.delivery.delivery_id,
                        "endpoint": result.delivery.target.endpoint_id,
                        "status": result.status_code,
                        "error": result.error,
                    }
                )
            if result.outcome is AttemptOutcome.GONE:
                target = result.delivery.target
                try:
                    self.on_gone(target.partner_id, target.endpoint_id, "410 Gone from the endpoint")
                except Exception as error:  # noqa: BLE001 - the outbox already disabled it; report the log write failing
                    failure = f"recording 410 for {target.endpoint_id}: {error}"
                    self.report({"event": DispatchEvent.ERROR, "error": failure})
        if alerts:
            self.wake()

    def _alert(self, result: AttemptResult, now: float) -> PartnerEvent:
        delivery = result.delivery
        return delivery_failed_alert(
            partner_id=delivery.target.partner_id,
            delivery_id=delivery.delivery_id,
            endpoint_id=delivery.target.endpoint_id,
            failed=payload_of(delivery.body),
            attempts=delivery.attempts + 1,
            last_status=result.status_code,
            last_error=result.error,
            at=format_timestamp(datetime.fromtimestamp(now, UTC)),
        )
