"""Running the sealer: embedded in a thread (``start()``/``stop()``) or as its own process (``ledger sealer``).

The runner loops: hold leadership (PostgreSQL: the session advisory lock; a follower retries every
``poll_interval`` and takes over when the leader's connection goes away), ask
:class:`~ledger_core.engine.sealing.SealSchedule` whether a seal is due (N entries waiting, or T ms since
entries started waiting), and if so run :meth:`~ledger_core.engine.sealing.Sealer.seal_once`. Stopping waits
for the current transaction: nothing is ever half-written (nodes and checkpoint commit together).

Errors: a :class:`~ledger_core.engine.merkle.TreeIntegrityError` (truncated log, damaged tree) stops the
runner for good, since signing on top of damage would make it worse; other errors (a lost database
connection) are reported and retried after ``retry_after`` seconds.

:class:`SealWaiter` lets a request wait until its position is covered by a checkpoint (the HTTP layer
returns the proof with the response); the in-process runner wakes waiters at once, otherwise they
poll the store, at most one query per ``poll_interval`` shared by all waiters. Coroutines wait on
futures (no thread each): one poller task per event loop reads the sealed size while any wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
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
from adapters.postgres.notifications import CHECKPOINT_CHANNEL, FALLBACK_SECONDS, LOG_CHANNEL, HeadWatch
from adapters.storage import StorageConfig
from ledger_core.engine.merkle import CheckpointRecord, NotSealed, SealConflict, TreeIntegrityError
from ledger_core.engine.ports import Clock
from ledger_core.engine.sealing import Sealer, SealPolicy, SealResult, SealSchedule

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
        self._checked_at = float("-inf")  # never read: the first look queries the store
        self._loops: dict[asyncio.AbstractEventLoop, _LoopWaiters] = {}  # guarded by _condition
        self._watch: HeadWatch | None = None
        self._watching = False
        self._found: dict[int, tuple[int, CheckpointRecord]] = {}  # size -> (lowest position asked, record)
        self._reading = threading.Lock()

    def _ensure_watch(self) -> None:
        """Listen for checkpoint announcements where the store offers it (PostgreSQL), once."""
        if self._watching:
            return
        self._watching = True
        watch = self.store.watch(log=False)
        if watch is not None:
            watch.subscribe(CHECKPOINT_CHANNEL, self._announced)
            self._watch = watch

    def _interval(self) -> float:
        """Seconds between reads of the sealed size: the fallback while announcements arrive."""
        watch = self._watch
        return max(self.poll_interval, FALLBACK_SECONDS) if watch and watch.connected() else self.poll_interval

    def _announced(self, size: int) -> None:
        """A checkpoint of ``size`` was announced (maybe of another schema): read the store now, once."""
        with self._condition:
            if size <= self._sealed:
                return
            self._checked_at = float("-inf")
            self._condition.notify_all()
            loops = list(self._loops.values())
        for waiters in loops:
            waiters.poke_threadsafe()

    def first_checkpoint_after(self, position: int) -> CheckpointRecord | None:
        """The store's first checkpoint containing ``position``, remembered: checkpoints are only ever added
        above the newest, so a found record answers every position from the one asked up to its size."""
        with self._reading:  # waiters woken together (lowest position first) read once, not each
            with self._condition:
                for low, known in self._found.values():
                    if low <= position < known.size:
                        return known
            record = self.store.first_checkpoint_after(position)
            if record is not None:
                with self._condition:
                    low, _ = self._found.get(record.size, (position, record))
                    self._found[record.size] = (min(low, position), record)
                    while len(self._found) > 16:
                        del self._found[min(self._found)]
            return record

    def notify(self, size: int) -> None:
        """Tell waiters the tree now has ``size`` leaves (called by an in-process runner, or a poll)."""
        with self._condition:
            self._sealed = max(self._sealed, size)
            self._condition.notify_all()
            sealed, loops = self._sealed, list(self._loops.values())
        for waiters in loops:
            waiters.wake_threadsafe(sealed)

    def _observed(self) -> int:
        interval = self._interval()
        with self._condition:
            stale = time.monotonic() - self._checked_at >= interval
            if stale:
                self._checked_at = time.monotonic()
        if stale:
            self.notify(self.store.integrated_size())
        return self._sealed

    def _record(self, position: int) -> CheckpointRecord | None:
        return self.first_checkpoint_after(position) if self._observed() > position else None

    def wait_until_sealed(self, position: int, timeout: float) -> CheckpointRecord:
        """Block until ``position`` is in a checkpoint; raise :class:`NotSealed` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        self._ensure_watch()
        while (record := self._record(position)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotSealed(f"position {position} was not sealed within {timeout}s", position=position)
            with self._condition:
                if self._sealed <= position:
                    self._condition.wait(min(remaining, self._interval()))
        return record

    async def wait_until_sealed_async(self, position: int, timeout: float) -> CheckpointRecord:
        """As :meth:`wait_until_sealed`, from a coroutine, without a thread per waiter.

        The coroutine sleeps on a future until the sealed size passes ``position``: woken at once by
        :meth:`notify` (the in-process runner), or by the loop's one poller task, which reads the
        sealed size at most once per ``poll_interval`` for all waiters of the loop. Only then is the
        checkpoint read (one query, in a worker thread).
        """
        deadline = time.monotonic() + timeout
        while True:
            await self.wait_until_covered(position, deadline - time.monotonic())
            record = await asyncio.to_thread(self.first_checkpoint_after, position)
            if record is not None:
                return record
            if time.monotonic() >= deadline:  # a size was announced before its checkpoint was readable
                raise NotSealed(f"position {position} was not sealed within {timeout}s", position=position)
            await asyncio.sleep(self.poll_interval)

    async def wait_until_covered(self, position: int, timeout: float) -> None:
        """Return once the sealed size exceeds ``position`` (no database read of its own when it already
        does); :class:`NotSealed` after ``timeout`` seconds. The caller then reads the checkpoint."""
        deadline = time.monotonic() + timeout
        while self._sealed <= position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotSealed(f"position {position} was not sealed within {timeout}s", position=position)
            waiters = self._waiters_of_this_loop()
            try:
                await asyncio.wait_for(waiters.add(position), remaining)
            except TimeoutError:
                waiters.settle()

    def _waiters_of_this_loop(self) -> _LoopWaiters:
        loop = asyncio.get_running_loop()
        self._ensure_watch()
        with self._condition:
            waiters = self._loops.get(loop)
            if waiters is None:
                waiters = self._loops[loop] = _LoopWaiters(self, loop)
            return waiters

    def _forget_loop(self, waiters: _LoopWaiters) -> None:
        with self._condition:
            if self._loops.get(waiters.loop) is waiters:
                del self._loops[waiters.loop]


class _LoopWaiters:
    """The coroutines of one event loop waiting for positions to be sealed, and the loop's poller task."""

    def __init__(self, waiter: SealWaiter, loop: asyncio.AbstractEventLoop) -> None:
        self.waiter = waiter
        self.loop = loop
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []  # (position, sequence, future)
        self._sequence = itertools.count()
        self._poller: asyncio.Task[None] | None = None
        self._poked = asyncio.Event()  # a checkpoint was announced: read the sealed size now

    def add(self, position: int) -> asyncio.Future[None]:
        """A future resolved once the sealed size exceeds ``position`` (call on the loop's thread)."""
        future: asyncio.Future[None] = self.loop.create_future()
        heapq.heappush(self._heap, (position, next(self._sequence), future))
        if self._poller is None or self._poller.done():
            self._poller = self.loop.create_task(self._poll())
        return future

    def pending(self) -> bool:
        return any(not future.done() for _, _, future in self._heap)

    def poke_threadsafe(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting there any more
            self.loop.call_soon_threadsafe(self._poked.set)

    def wake_threadsafe(self, sealed: int) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting there any more
            self.loop.call_soon_threadsafe(self.release, sealed)

    def release(self, sealed: int) -> None:
        """Resolve every waiter whose position is below ``sealed`` (on the loop's thread)."""
        while self._heap and (self._heap[0][0] < sealed or self._heap[0][2].done()):
            future = heapq.heappop(self._heap)[2]
            if not future.done():
                future.set_result(None)
        self.settle()

    def settle(self) -> None:
        """Once nobody waits (all woken, timed out or cancelled): unregister and stop the poller."""
        if self.pending():
            return
        self.waiter._forget_loop(self)
        poller, self._poller = self._poller, None
        if poller is not None and poller is not asyncio.current_task(self.loop):
            poller.cancel()

    async def _poll(self) -> None:
        """Read the sealed size (at most once per poll interval, shared with other readers; at once when a
        checkpoint is announced, then the interval is only a fallback) while anyone waits;
        :meth:`SealWaiter.notify` wakes the waiters in between."""
        me = asyncio.current_task(self.loop)
        while self._poller is me:
            self._poked.clear()  # before the read: an announcement during it triggers the next one
            self.release(await asyncio.to_thread(self.waiter._observed))
            if self._poller is me:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poked.wait(), self.waiter._interval())


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
        self._pending_hint = 0
        self._read_by = float("-inf")  # when the store must be read again (not only the announced heads)
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
                    self._idle()
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
            pending = self._pending()
            if not schedule.due(pending, time.monotonic()):
                return "idle"
            if not self.store.holds_leadership():
                return "lost"
            result = self.sealer.seal_once()
            if result is None:
                self._read_by = float("-inf")  # an announcement misled us: read the store next time
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

    def _watch(self) -> HeadWatch | None:
        return self.store.watch()

    def _pending(self) -> int:
        """Entries waiting: from the announced heads (PostgreSQL notifications: no query) while they are
        fresh, else read from the store (every ``FALLBACK_SECONDS`` at least, and after a miss)."""
        watch = self._watch()
        if watch is not None and time.monotonic() < self._read_by:
            log, sealed = watch.head(LOG_CHANNEL), watch.head(CHECKPOINT_CHANNEL)
            if log is not None and sealed is not None:
                self._pending_hint = max(0, log - sealed)
                return self._pending_hint
        generation = 0 if watch is None else watch.generation()
        integrated, log_size = self.sealer.sizes()
        if watch is not None and watch.connected():
            watch.correct({LOG_CHANNEL: log_size, CHECKPOINT_CHANNEL: integrated}, generation)
            self._read_by = time.monotonic() + FALLBACK_SECONDS
        self._pending_hint = log_size - integrated
        return self._pending_hint

    def _idle(self) -> None:
        """Nothing due: with announcements and nothing waiting, sleep until the log grows (the fallback
        read, or a stop, ends the sleep within a few tenths of a second); else one poll interval."""
        watch = self._watch()
        sealed = None if watch is None or self._pending_hint else watch.head(CHECKPOINT_CHANNEL)
        if watch is None or sealed is None:
            self._stop.wait(self.poll_interval)
            return
        remaining = self._read_by - time.monotonic()
        if remaining > 0:
            watch.wait(LOG_CHANNEL, sealed, min(remaining, 0.2))

    def _sealed(self, result: SealResult, pending: int, schedule: SealSchedule) -> None:
        self.seals += 1
        size = result.checkpoint.size
        watch = self._watch()
        if watch is not None:
            watch.observe(CHECKPOINT_CHANNEL, size)
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
    poll_interval: float = 0.05,
) -> SealerRunner:
    """The embedded default: open the tree store and key of ``config`` and seal in a thread. ``stop()`` it.

    ``poll_interval``: how often the idle runner asks whether a seal is due (and a follower whether it
    can lead), and how often its waiter reads the sealed size when another process seals.
    """
    signer = ensure_signing_key(config.data_dir, signing_key, origin)
    store = open_tree_store(config)
    sealer = Sealer(store, signer, clock, policy=policy)
    return SealerRunner(store, sealer, poll_interval=poll_interval, report=report).start()
