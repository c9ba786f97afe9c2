"""Waiting until a log position is sealed: :class:`SealWaiter` (the HTTP layer returns the proof with
the response).

The in-process runner (:class:`~adapters.workers.sealer.SealerRunner`) wakes waiters at once; otherwise
they poll the store, at most one query per ``poll_interval`` shared by all waiters, or, where the store
announces checkpoints (:meth:`~adapters.ports.ManagedTreeStore.watch`), read the sealed size when one is
announced. Coroutines wait on futures (no thread each): one poller task per event loop reads the sealed
size while any wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
import time

from adapters.ports import FALLBACK_SECONDS, Head, HeadWatch, ManagedTreeStore
from ledger_core.engine.merkle import CheckpointRecord, NotSealed


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
            watch.subscribe(Head.CHECKPOINT, self._announced)
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

    def remember(self, old_size: int, record: CheckpointRecord) -> None:
        """A checkpoint this process just committed over ``old_size``: the first one containing the
        positions ``[old_size, record.size)``, so their waiters need no read to find it."""
        with self._condition:
            self._found[record.size] = (old_size, record)
            while len(self._found) > 16:
                del self._found[min(self._found)]

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
        """Block until ``position`` is in a checkpoint; raise :class:`NotSealed` after ``timeout`` seconds.

        Sleeps at most until the next read is due: a checkpoint announced while the sealed size was being
        read (which the read may have missed) makes that read due at once, not after a poll interval.
        """
        deadline = time.monotonic() + timeout
        self._ensure_watch()
        while (record := self._record(position)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotSealed(f"position {position} was not sealed within {timeout}s", position=position)
            interval = self._interval()
            with self._condition:
                pause = min(remaining, self._checked_at + interval - time.monotonic())
                if self._sealed <= position and pause > 0:
                    self._condition.wait(pause)
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
