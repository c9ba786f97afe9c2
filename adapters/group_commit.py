"""Group commit: many callers' saves, one transaction, one commit acknowledging them all.

Callers hand their drafts to :meth:`GroupCommitter.submit` and wait on the returned future. One writer
thread drains everything queued (up to ``max_batch_events``), passes it to the backend's
``write_batch`` (which locks, sequences, inserts and commits), then completes each future with the
save's positions or its :class:`~ledger_core.errors.ConcurrencyConflict`. A future completes only
after the commit returned: an acknowledged event is durable. If the transaction fails, every save in
it fails with that error and nothing of it is stored.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from ledger_core.envelope import EventDraft
from ledger_core.errors import ConcurrencyConflict, LedgerError

Outcome = list[int] | ConcurrencyConflict
BatchWriter = Callable[[Sequence[Sequence[EventDraft]]], Sequence[Outcome]]


class WriterClosed(LedgerError):
    """The ledger was closed; the save was not attempted."""

    code = "WRITER_CLOSED"


class GroupCommitter:
    """Serialises writes through one thread that commits queued saves together."""

    def __init__(self, write_batch: BatchWriter, *, max_batch_events: int = 4096, name: str = "ledger-writer") -> None:
        self._write_batch = write_batch
        self._max_batch_events = max_batch_events
        self._name = name
        self._queue: deque[tuple[Sequence[EventDraft], Future[list[int]]]] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.events = 0

    def submit(self, drafts: Sequence[EventDraft]) -> Future[list[int]]:
        """Queue one save (all-or-nothing); the future resolves to its positions once committed."""
        future: Future[list[int]] = Future()
        with self._condition:
            if self._closed:
                raise WriterClosed("the ledger is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.append((drafts, future))
            self._condition.notify()
        return future

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

    def _take_batch(self) -> list[tuple[Sequence[EventDraft], Future[list[int]]]] | None:
        with self._condition:
            while not self._queue:
                if self._closed:
                    return None
                self._condition.wait()
            batch = [self._queue.popleft()]
            size = len(batch[0][0])
            while self._queue and size + len(self._queue[0][0]) <= self._max_batch_events:
                item = self._queue.popleft()
                size += len(item[0])
                batch.append(item)
            return batch

    def _run(self) -> None:
        while (batch := self._take_batch()) is not None:
            live = [(drafts, future) for drafts, future in batch if future.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                outcomes = self._write_batch([drafts for drafts, _ in live])
            except BaseException as error:  # the transaction failed: every save in it failed with it
                for _, future in live:
                    future.set_exception(error)
                continue
            self.batches += 1
            for (drafts, future), outcome in zip(live, outcomes, strict=True):
                if isinstance(outcome, ConcurrencyConflict):
                    future.set_exception(outcome)
                else:
                    self.events += len(drafts)
                    future.set_result(outcome)
