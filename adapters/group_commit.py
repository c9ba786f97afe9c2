"""Group commit: many callers' saves, one transaction, one commit acknowledging them all.

Callers hand their drafts to :meth:`GroupCommitter.submit` (threads: a ``concurrent.futures.Future``)
or :meth:`GroupCommitter.submit_async` (coroutines: an ``asyncio.Future`` of the running loop). One
writer thread drains everything queued (up to ``max_batch_events``), passes it to the backend's
``write_batch`` (which locks, sequences, inserts and commits), then completes each save with its
positions or its :class:`~ledger_core.engine.errors.ConcurrencyConflict`. Completions reach an event loop in
one ``call_soon_threadsafe`` per loop per batch, not one per save.

A save completes only after the commit returned: an acknowledged event is durable. If the transaction
fails, every save in it fails with that error and nothing of it is stored.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.errors import ConcurrencyConflict, LedgerError, LogMoved

Outcome = list[int] | ConcurrencyConflict | LogMoved
BatchWriter = Callable[[Sequence[Sequence[EventDraft]]], Sequence[Outcome]]


class Committer(Protocol):
    """Where a recorder's saves go: a :class:`GroupCommitter` here, or the writer process
    (:class:`adapters.writer.client.WriterClient`). Each save is all-or-nothing; its future resolves to
    its positions once committed, or to the error that refused it. ``batches`` and ``events`` count
    what it committed (or saw acknowledged)."""

    batches: int
    events: int

    def submit(self, drafts: Sequence[EventDraft]) -> Future[list[int]]: ...

    def submit_async(self, drafts: Sequence[EventDraft]) -> asyncio.Future[list[int]]: ...

    def write(self, drafts: Sequence[EventDraft]) -> list[int]: ...

    def close(self) -> None: ...


class WriterClosed(LedgerError):
    """The ledger was closed; the save was not attempted."""

    code = "WRITER_CLOSED"


@dataclass(slots=True)
class _Pending:
    drafts: Sequence[EventDraft]
    future: Future[list[int]] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    awaitable: asyncio.Future[list[int]] | None = None


class GroupCommitter:
    """Serialises writes through one thread that commits queued saves together."""

    def __init__(self, write_batch: BatchWriter, *, max_batch_events: int = 4096, name: str = "ledger-writer") -> None:
        self._write_batch = write_batch
        self._max_batch_events = max_batch_events
        self._name = name
        self._queue: deque[_Pending] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.events = 0

    def submit(self, drafts: Sequence[EventDraft]) -> Future[list[int]]:
        """Queue one save (all-or-nothing); the future resolves to its positions once committed."""
        future: Future[list[int]] = Future()
        self._enqueue(_Pending(drafts, future=future))
        return future

    def submit_async(self, drafts: Sequence[EventDraft]) -> asyncio.Future[list[int]]:
        """Like :meth:`submit`, for a coroutine: an ``asyncio.Future`` of the running loop."""
        loop = asyncio.get_running_loop()
        awaitable: asyncio.Future[list[int]] = loop.create_future()
        self._enqueue(_Pending(drafts, loop=loop, awaitable=awaitable))
        return awaitable

    def write(self, drafts: Sequence[EventDraft]) -> list[int]:
        """Submit and wait: positions of the committed events, or the error that refused them."""
        return self.submit(drafts).result()

    def close(self) -> None:
        """Finish what is queued, then stop the writer thread."""
        with self._condition:
            self._closed = True
            self._condition.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _enqueue(self, pending: _Pending) -> None:
        with self._condition:
            if self._closed:
                raise WriterClosed("the ledger is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.append(pending)
            self._condition.notify()

    def _take_batch(self) -> list[_Pending] | None:
        with self._condition:
            while not self._queue:
                if self._closed:
                    return None
                self._condition.wait()
            batch = [self._queue.popleft()]
            size = len(batch[0].drafts)
            while self._queue and size + len(self._queue[0].drafts) <= self._max_batch_events:
                item = self._queue.popleft()
                size += len(item.drafts)
                batch.append(item)
            return batch

    def _run(self) -> None:
        while (batch := self._take_batch()) is not None:
            live = [item for item in batch if item.future is None or item.future.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                outcomes: Sequence[Outcome | BaseException] = self._write_batch([item.drafts for item in live])
            except BaseException as error:  # noqa: BLE001 - the transaction failed: every save in it failed with it
                outcomes = [error] * len(live)
            else:
                self.batches += 1
            self._complete(live, outcomes)

    def _complete(self, live: list[_Pending], outcomes: Sequence[Outcome | BaseException]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[list[int]], Outcome | BaseException]]] = {}
        for item, outcome in zip(live, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                self.events += len(item.drafts)
            if item.future is not None:
                if isinstance(outcome, BaseException):
                    item.future.set_exception(outcome)
                else:
                    item.future.set_result(outcome)
            elif item.loop is not None and item.awaitable is not None:
                by_loop.setdefault(item.loop, []).append((item.awaitable, outcome))
        for loop, completions in by_loop.items():
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve_all, completions)


def _resolve_all(completions: list[tuple[asyncio.Future[list[int]], Outcome | BaseException]]) -> None:
    """Runs in the event loop: settle every awaiting save of one batch."""
    for awaitable, outcome in completions:
        if awaitable.done():  # the awaiting task was cancelled; the save itself did commit
            continue
        if isinstance(outcome, BaseException):
            awaitable.set_exception(outcome)
        else:
            awaitable.set_result(outcome)
