"""Running the sealer: embedded in a thread (``start()``/``stop()``) or as its own process (``ledger sealer``).

The runner loops: hold leadership (PostgreSQL: the session advisory lock; a follower retries every
``poll_interval`` and takes over when the leader's connection goes away), ask
:class:`~ledger_core.sealing.SealSchedule` whether a seal is due (N entries waiting, or T ms since
entries started waiting), and if so run :meth:`~ledger_core.sealing.Sealer.seal_once`. Stopping waits
for the current transaction: nothing is ever half-written (nodes and checkpoint commit together).

Errors: a :class:`~ledger_core.merkle.TreeIntegrityError` (truncated log, damaged tree) stops the
runner for good, since signing on top of damage would make it worse; other errors (a lost database
connection) are reported and retried after ``retry_after`` seconds.

:class:`SealWaiter` lets a request wait until its position is covered by a checkpoint (the HTTP layer
returns the proof with the response); the in-process runner wakes waiters at once, otherwise they
poll the store, at most one query per ``poll_interval`` shared by all waiters.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from adapters.keys.signing import ensure_signing_key
from adapters.log_recorder import system_clock
from adapters.merkle import ManagedTreeStore, open_tree_store
from adapters.storage import StorageConfig
from ledger_core.merkle import CheckpointRecord, NotSealed, SealConflict, TreeIntegrityError
from ledger_core.ports import Clock
from ledger_core.sealing import Sealer, SealPolicy, SealResult, SealSchedule

Report = Callable[[dict[str, Any]], None]


def _quiet(_: dict[str, Any]) -> None:
    """Default reporter: say nothing."""


class SealWaiter:
    """Wait until a log position is sealed; returns the first checkpoint that contains it."""

    def __init__(self, store: ManagedTreeStore, poll_interval: float = 0.05) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self._condition = threading.Condition()
        self._sealed = 0
        self._checked_at = 0.0

    def notify(self, size: int) -> None:
        """Tell waiters the tree now has ``size`` leaves (called by an in-process runner)."""
        with self._condition:
            self._sealed = max(self._sealed, size)
            self._condition.notify_all()

    def _observed(self) -> int:
        with self._condition:
            stale = time.monotonic() - self._checked_at >= self.poll_interval
            if stale:
                self._checked_at = time.monotonic()
        if stale:
            self.notify(self.store.integrated_size())
        return self._sealed

    def _record(self, position: int) -> CheckpointRecord | None:
        return self.store.first_checkpoint_after(position) if self._observed() > position else None

    def wait_until_sealed(self, position: int, timeout: float) -> CheckpointRecord:
        """Block until ``position`` is in a checkpoint; raise :class:`NotSealed` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (record := self._record(position)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotSealed(f"position {position} was not sealed within {timeout}s", position=position)
            with self._condition:
                if self._sealed <= position:
                    self._condition.wait(min(remaining, self.poll_interval))
        return record

    async def wait_until_sealed_async(self, position: int, timeout: float) -> CheckpointRecord:
        """As :meth:`wait_until_sealed`, from a coroutine (database reads run in a worker thread)."""
        deadline = time.monotonic() + timeout
        while (record := await asyncio.to_thread(self._record, position)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotSealed(f"position {position} was not sealed within {timeout}s", position=position)
            await asyncio.sleep(min(remaining, self.poll_interval))
        return record


class SealerRunner:
    """Drives a :class:`Sealer` over a store until stopped; reports events as dicts to ``report``."""

    def __init__(
        self,
        store: ManagedTreeStore,
        sealer: Sealer,
        *,
        poll_interval: float = 0.05,
        retry_after: float = 1.0,
        report: Report = _quiet,
        close_store: bool = True,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.poll_interval = poll_interval
        self.retry_after = retry_after
        self.report = report
        self.close_store = close_store
        self.waiter = SealWaiter(store, poll_interval)
        self.error: BaseException | None = None
        self.seals = 0
        self._state = ""
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
        except BaseException as error:  # kept for the owner to inspect; the thread must not die silently
            self.error = error
            self.report({"event": "failed", "error": str(error)})

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
                outcome = self._step(schedule)
                if outcome == "lost":
                    leading = False
                    self._announce("leadership-lost")
                elif outcome == "idle":
                    self._stop.wait(self.poll_interval)
        finally:
            self.store.release_leadership()
            if self.close_store:
                self.store.close()
            self.report({"event": "stopped", "seals": self.seals})

    def request_stop(self) -> None:
        """Set the stop flag (safe from a signal handler)."""
        self._stop.set()

    def _announce(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.report({"event": state})

    def _lead(self) -> bool:
        try:
            leading = self.store.try_acquire_leadership()
        except Exception as error:  # database unreachable: keep trying
            self.report({"event": "error", "error": str(error)})
            self._stop.wait(self.retry_after)
            return False
        self._announce("leader" if leading else "waiting")
        return leading

    def _step(self, schedule: SealSchedule) -> str:
        """One round: ``sealed`` (go straight on with any backlog), ``idle`` or ``lost`` (leadership gone).

        Leadership is re-checked only when a seal is due; were it lost unnoticed, the store's
        compare-and-set still lets only one of two sealers commit each size.
        """
        try:
            pending = self.sealer.pending()
            if not schedule.due(pending, time.monotonic()):
                return "idle"
            if not self.store.holds_leadership():
                return "lost"
            result = self.sealer.seal_once()
        except SealConflict as conflict:  # another sealer committed first: start over from its tree
            self.report({"event": "conflict", "found": conflict.found})
            return "sealed"
        except TreeIntegrityError:
            raise
        except Exception as error:
            self.report({"event": "error", "error": str(error)})
            self._stop.wait(self.retry_after)
            return "idle"
        if result is None:
            return "idle"
        self._sealed(result, pending, schedule)
        return "sealed"

    def _sealed(self, result: SealResult, pending: int, schedule: SealSchedule) -> None:
        self.seals += 1
        size = result.checkpoint.size
        schedule.sealed(time.monotonic(), pending - (size - result.old_size))
        self.waiter.notify(size)
        self.report(
            {
                "event": "sealed",
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


def start_embedded_sealer(
    config: StorageConfig,
    policy: SealPolicy | None = None,
    *,
    signing_key: Path | None = None,
    origin: str | None = None,
    clock: Clock = system_clock,
    report: Report = _quiet,
) -> SealerRunner:
    """The embedded default: open the tree store and key of ``config`` and seal in a thread. ``stop()`` it."""
    signer = ensure_signing_key(config.data_dir, signing_key, origin)
    store = open_tree_store(config)
    return SealerRunner(store, Sealer(store, signer, clock, policy=policy), report=report).start()
