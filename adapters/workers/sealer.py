"""Running the sealer: embedded in a thread (``start()``/``stop()``) or as its own process (``ledger sealer``).

The runner loops: hold leadership (PostgreSQL: the session advisory lock; a follower retries every
``poll_interval`` and takes over when the leader's connection goes away), ask
:class:`~ledger_core.engine.sealing.SealSchedule` whether a seal is due (N entries waiting, or T ms since
entries started waiting), and if so run :meth:`~ledger_core.engine.sealing.Sealer.seal_once`. Stopping waits
for the current transaction: nothing is ever half-written (nodes and checkpoint commit together).

Errors: a :class:`~ledger_core.engine.merkle.TreeIntegrityError` (truncated log, damaged tree) stops the
runner for good, since signing on top of damage would make it worse; other errors (a lost database
connection) are reported and retried after ``retry_after`` seconds.

The runner receives its store (a :class:`~adapters.ports.ManagedTreeStore`) and never imports a backend;
:func:`adapters.opening.start_embedded_sealer` opens one and starts it. Its
:class:`~adapters.workers.seal_waiter.SealWaiter` wakes requests waiting for a seal.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from enum import Enum, StrEnum
from types import FrameType
from typing import Any, Protocol

from adapters.ports import FALLBACK_SECONDS, Head, HeadWatch, ManagedTreeStore
from adapters.workers.seal_waiter import SealWaiter
from ledger_core.engine.merkle import CheckpointRecord, SealConflict, TreeIntegrityError
from ledger_core.engine.sealing import Sealer, SealResult, SealSchedule

Report = Callable[[dict[str, Any]], None]


def quiet(_: dict[str, Any]) -> None:
    """Default reporter: say nothing."""


class SealObserver(Protocol):
    """Told of every checkpoint this runner commits (the published-checkpoint file, the witness collector)."""

    def sealed(self, record: CheckpointRecord) -> None: ...

    def close(self) -> None: ...


class SealerEvent(StrEnum):
    """What the runner reports (the ``event`` of each report; logged as this text)."""

    LEADER = "leader"
    WAITING = "waiting"
    LEADERSHIP_LOST = "leadership-lost"
    SEALED = "sealed"
    CONFLICT = "conflict"
    ERROR = "error"
    FAILED = "failed"
    STOPPED = "stopped"


class Step(Enum):
    """How one round of the loop ended."""

    SEALED = "sealed"  # go straight on with any backlog
    IDLE = "idle"  # nothing due (or an error was reported): wait
    LOST = "lost"  # leadership is gone: try to take it again


class SealerRunner:
    """Drives a :class:`Sealer` over a store until stopped; reports events as dicts to ``report``."""

    def __init__(
        self,
        store: ManagedTreeStore,
        sealer: Sealer,
        *,
        poll_interval: float = 0.05,
        retry_after: float = 1.0,
        report: Report = quiet,
        close_store: bool = True,
        observers: tuple[SealObserver, ...] = (),
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.poll_interval = poll_interval
        self.retry_after = retry_after
        self.report = report
        self.close_store = close_store
        self.observers = observers
        self.waiter = SealWaiter(store, poll_interval)
        self.error: BaseException | None = None
        self._pending_hint = 0
        self._read_by = float("-inf")  # when the store must be read again (not only the announced heads)
        self.seals = 0
        self._state: SealerEvent | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- embedded: a thread ----------------------------------------------------------------------------
    def start(self) -> SealerRunner:
        """Run in a daemon thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("sealer already started")
        self._thread = threading.Thread(target=self._run_in_thread, name="ledger-sealer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30) -> None:
        """Ask the loop to stop, wait for the current seal to finish, release leadership."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run_in_thread(self) -> None:
        try:
            self.run()
        except BaseException as error:  # noqa: BLE001 - kept for the owner to inspect; the thread must not die silently
            self.error = error
            self.report({"event": SealerEvent.FAILED, "error": str(error)})

    # -- the loop --------------------------------------------------------------------------------------
    def run(self) -> None:
        """Seal until :meth:`stop` (or a signal handler) sets the stop flag."""
        schedule = SealSchedule(self.sealer.policy)
        leading = False
        try:
            while not self._stop.is_set():
                if not leading:
                    leading = self._lead()
                    if not leading:
                        self._stop.wait(self.poll_interval)
                        continue
                step = self._step(schedule)
                if step is Step.LOST:
                    leading = False
                    self._announce(SealerEvent.LEADERSHIP_LOST)
                elif step is Step.IDLE:
                    self._idle()
        finally:
            self.store.release_leadership()
            for observer in self.observers:
                observer.close()
            if self.close_store:
                self.store.close()
            self.report({"event": SealerEvent.STOPPED, "seals": self.seals})

    def request_stop(self) -> None:
        """Set the stop flag (safe from a signal handler)."""
        self._stop.set()

    def _announce(self, state: SealerEvent) -> None:
        if state != self._state:
            self._state = state
            self.report({"event": state})

    def _lead(self) -> bool:
        try:
            leading = self.store.try_acquire_leadership()
        except Exception as error:  # noqa: BLE001 - database unreachable: keep trying
            self.report({"event": SealerEvent.ERROR, "error": str(error)})
            self._stop.wait(self.retry_after)
            return False
        self._announce(SealerEvent.LEADER if leading else SealerEvent.WAITING)
        return leading

    def _step(self, schedule: SealSchedule) -> Step:
        """One round: :class:`Step` ``SEALED`` (go straight on with any backlog), ``IDLE`` or ``LOST``.

        Leadership is re-checked only when a seal is due; were it lost unnoticed, the store's
        compare-and-set still lets only one of two sealers commit each size.
        """
        try:
            pending = self._pending()
            if not schedule.due(pending, time.monotonic()):
                return Step.IDLE
            if not self.store.holds_leadership():
                return Step.LOST
            result = self.sealer.seal_once()
            if result is None:
                self._read_by = float("-inf")  # an announcement misled us: read the store next time
        except SealConflict as conflict:  # another sealer committed first: start over from its tree
            self.report({"event": SealerEvent.CONFLICT, "found": conflict.found})
            return Step.SEALED
        except TreeIntegrityError:
            raise
        except Exception as error:  # noqa: BLE001 - database unreachable: report, keep trying
            self.report({"event": SealerEvent.ERROR, "error": str(error)})
            self._stop.wait(self.retry_after)
            return Step.IDLE
        if result is None:
            return Step.IDLE
        self._sealed(result, pending, schedule)
        return Step.SEALED

    def _watch(self) -> HeadWatch | None:
        return self.store.watch()

    def _pending(self) -> int:
        """Entries waiting: from the announced heads (PostgreSQL notifications: no query) while they are
        fresh, else read from the store (every ``FALLBACK_SECONDS`` at least, after a miss, and when the
        checkpoint head passes the log's: a foreign announcement, which costs a look, not a stall)."""
        watch = self._watch()
        if watch is not None and time.monotonic() < self._read_by:
            log, sealed = watch.head(Head.LOG), watch.head(Head.CHECKPOINT)
            if log is not None and sealed is not None and log >= sealed:
                self._pending_hint = log - sealed
                return self._pending_hint
        generation = 0 if watch is None else watch.generation()
        integrated, log_size = self.sealer.sizes()
        if watch is not None and watch.connected():
            watch.correct({Head.LOG: log_size, Head.CHECKPOINT: integrated}, generation)
            self._read_by = time.monotonic() + FALLBACK_SECONDS
        self._pending_hint = log_size - integrated
        return self._pending_hint

    def _idle(self) -> None:
        """Nothing due: with announcements and nothing waiting, sleep until the log or the checkpoint head
        grows (the fallback read, or a stop, ends the sleep within a few tenths of a second); else one poll
        interval."""
        watch = self._watch()
        sealed = None if watch is None or self._pending_hint else watch.head(Head.CHECKPOINT)
        if watch is None or sealed is None:
            self._stop.wait(self.poll_interval)
            return
        remaining = self._read_by - time.monotonic()
        if remaining > 0:
            watch.wait_any({Head.LOG: sealed, Head.CHECKPOINT: sealed}, min(remaining, 0.2))

    def _sealed(self, result: SealResult, pending: int, schedule: SealSchedule) -> None:
        self.seals += 1
        size = result.checkpoint.size
        watch = self._watch()
        if watch is not None:
            watch.observe(Head.CHECKPOINT, size)
        schedule.sealed(time.monotonic(), pending - (size - result.old_size))
        self.waiter.remember(result.old_size, result.checkpoint)
        self.waiter.notify(size)
        for observer in self.observers:
            try:
                observer.sealed(result.checkpoint)
            except Exception as error:  # noqa: BLE001 - the checkpoint is committed: report, keep sealing
                self.report({"event": SealerEvent.ERROR, "observer": type(observer).__name__, "error": str(error)})
        self.report(
            {
                "event": SealerEvent.SEALED,
                "size": size,
                "from": result.old_size,
                "nodes": result.nodes_written,
                "root": result.checkpoint.root_hash.hex(),
            }
        )

    # -- own process: until SIGTERM / SIGINT -----------------------------------------------------------
    def run_until_signalled(self) -> None:
        """Run in the foreground; SIGTERM or SIGINT finishes the current seal and returns."""

        def handle(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
