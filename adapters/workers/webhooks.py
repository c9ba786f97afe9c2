"""Running the projector and the dispatcher: embedded in the server (threads) or as their own process.

:class:`WebhookWorker` runs the projector loop in one thread and the dispatcher's asyncio loop in
another; the projector wakes the dispatcher as soon as it enqueued something, so a delivery leaves
within milliseconds of its log commit. Errors of a step (a lost database connection) are reported and
the step retried after ``retry_after`` seconds; :meth:`stop` lets in-flight deliveries finish.

The worker receives its store (an :class:`~adapters.outbox.OutboxStore`, opened by
:func:`adapters.storage.open_outbox`) and never imports a backend.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from enum import StrEnum
from types import FrameType

from adapters.outbox import OutboxStore
from adapters.webhook_targets import TargetPolicy
from adapters.workers.dispatcher import (
    Dispatcher,
    DispatchEvent,
    GoneHandler,
    Report,
    ignore_gone,
    quiet,
)
from adapters.workers.projector import WebhookProjector
from adapters.workers.senders import tls_context
from ledger_core.webhooks.retry import RetryPolicy


class Role(StrEnum):
    """Which loop of the worker reports (the ``role`` of an error report)."""

    PROJECTOR = "projector"
    DISPATCHER = "dispatcher"


class WebhookWorker:
    """Projector and/or dispatcher loops until stopped (either may be None: separate processes)."""

    def __init__(
        self,
        projector: WebhookProjector | None,
        dispatcher: Dispatcher | None,
        *,
        poll_interval: float = 0.05,
        retry_after: float = 1.0,
        report: Report = quiet,
        on_stopped: Callable[[], None] | None = None,
    ) -> None:
        self.projector = projector
        self.dispatcher = dispatcher
        self.poll_interval = poll_interval
        self.retry_after = retry_after
        self.report = report
        self.on_stopped = on_stopped
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._dispatch_loop: asyncio.AbstractEventLoop | None = None
        self._dispatch_stop: asyncio.Event | None = None
        self._dispatch_ready = threading.Event()
        if projector is not None and dispatcher is not None:
            projector.on_enqueued = lambda _count: dispatcher.wake()

    def start(self) -> WebhookWorker:
        if self.projector is not None:
            self._threads.append(threading.Thread(target=self._project, name="webhook-projector", daemon=True))
        if self.dispatcher is not None:
            self._threads.append(threading.Thread(target=self._dispatch, name="webhook-dispatcher", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def request_stop(self) -> None:
        self._stop.set()
        loop, stop = self._dispatch_loop, self._dispatch_stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)

    def stop(self, timeout: float | None = 35) -> None:
        """Stop both loops (in-flight deliveries finish and are recorded) and wait for the threads."""
        self.request_stop()
        for thread in self._threads:
            thread.join(timeout)
        if self.on_stopped is not None:
            self.on_stopped()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _project(self) -> None:
        """Step while this process leads (PostgreSQL: one projector per schema; the others only retry the
        lock, about once a second); idle, wait for the log or the tree to grow (announced or polled)."""
        projector = self.projector
        assert projector is not None  # started only with a projector; not a business rule
        leading = False
        while not self._stop.is_set():
            try:
                if not projector.store.lead():
                    leading = False
                    self._stop.wait(self.poll_interval)
                    continue
                if not leading:
                    leading = True
                    projector.follow()
                moved = projector.step() + projector.step_sealed()
            except Exception as error:  # noqa: BLE001 - database unreachable: report, retry
                self.report({"event": DispatchEvent.ERROR, "role": Role.PROJECTOR, "error": str(error)})
                self._stop.wait(self.retry_after)
                continue
            if not moved:
                projector.wait(self._stop, self.poll_interval)

    def _dispatch(self) -> None:
        assert self.dispatcher is not None  # started only with a dispatcher; not a business rule
        asyncio.run(self._dispatch_main(self.dispatcher))

    async def _dispatch_main(self, dispatcher: Dispatcher) -> None:
        self._dispatch_loop, self._dispatch_stop = asyncio.get_running_loop(), asyncio.Event()
        if self._stop.is_set():
            return
        while not self._stop.is_set():
            try:
                await dispatcher.run(self._dispatch_stop)
            except Exception as error:  # noqa: BLE001 - database unreachable: report, retry
                self.report({"event": DispatchEvent.ERROR, "role": Role.DISPATCHER, "error": str(error)})
                await asyncio.sleep(self.retry_after)

    def run_until_signalled(self) -> None:
        """Run in the foreground; SIGTERM or SIGINT stops (in-flight deliveries finish first)."""

        def handle(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while any(thread.is_alive() for thread in self._threads):
                for thread in self._threads:
                    thread.join(0.2)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self.on_stopped is not None:
                self.on_stopped()


def secret_source(deployment_secret: bytes) -> Callable[[str], str]:
    """``secret_for(secret_id)``: endpoint secrets derived from the deployment secret (nothing stored)."""
    from ledger_core.webhooks.signatures import derive_endpoint_secret

    return lambda secret_id: derive_endpoint_secret(deployment_secret, secret_id)


def build_worker(
    store: OutboxStore,
    deployment_secret: bytes,
    *,
    project: bool = True,
    dispatch: bool = True,
    policy: RetryPolicy | None = None,
    timeout: float = 30.0,
    max_in_flight: int = 256,
    allow_private: bool = False,
    on_gone: GoneHandler | None = None,
    report: Report = quiet,
    batch: int = 256,
    http_client: str = "aiohttp",
    ca_file: str | None = None,
) -> WebhookWorker:
    """A worker over ``store`` with the roles asked for (the embedded server runs both)."""
    projector = WebhookProjector(store, batch=batch) if project else None
    dispatcher = None
    if dispatch:
        dispatcher = Dispatcher(
            store,
            secret_source(deployment_secret),
            policy=policy,
            timeout=timeout,
            max_in_flight=max_in_flight,
            targets=TargetPolicy(allow_private=allow_private),
            on_gone=on_gone or ignore_gone,
            report=report,
            http_client=http_client,
            tls=tls_context(ca_file),
        )
    return WebhookWorker(projector, dispatcher, report=report)
