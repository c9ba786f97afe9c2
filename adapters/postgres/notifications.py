"""Followers woken by PostgreSQL notifications instead of polling: :class:`PostgresHeadWatch`.

The log writer sends ``pg_notify`` on its channel (:data:`adapters.postgres.log.LOG_HEADS`) and the
sealer on the checkpoints' (:data:`adapters.postgres.tree.CHECKPOINT_HEADS`) inside their transactions,
so a notification arrives only after its commit. A watch LISTENs on one dedicated connection in a daemon
thread and keeps, per head, the highest size announced (after each (re)connect it reads the current
heads once with each :class:`Channel`'s query, then takes what was announced during those reads, so
nothing committed while it was away or while it read is missed) and wakes whoever waits. It implements
:class:`adapters.ports.HeadWatch`, whose contract applies: a head is a **hint** (channels are
database-wide, so a ledger in another schema of the same database announces its own sizes);
correctness never depends on a notification arriving.

This module writes no SQL of its own: each table's module (log, tree) owns its channel and head query.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from adapters.ports import Head

logger = logging.getLogger("adapters.notifications")

REMEMBERED_SIZES = 256
"""Sizes learned (announced or observed) a watch remembers for :meth:`PostgresHeadWatch.correct`; a read
that began before the oldest of them corrects nothing (its heads are kept: they cost a look)."""


@dataclass(frozen=True, slots=True)
class Channel:
    """A ``NOTIFY`` channel whose payload is a size, and the query that reads that size now."""

    name: str
    head_query: str


class PostgresHeadWatch:
    """The latest announced size per head, kept by a LISTEN thread on its own connection.

    ``head(which)`` is None while the watch is not connected (callers then poll as before);
    :meth:`wait` blocks until a head passes a value or a timeout; ``subscribe`` calls a
    function (on the watch's thread; it must be quick and not raise) with every size announced.
    """

    def __init__(
        self,
        conninfo: str,
        channels: Mapping[Head, Channel],
        *,
        retry_after: float = 1.0,
        tick: float = 0.1,
    ) -> None:
        self.conninfo = conninfo
        self.channels = dict(channels)
        self._by_name = {channel.name: head for head, channel in self.channels.items()}
        self.retry_after = retry_after
        self.tick = tick
        self._heads: dict[Head, int] = {}
        self._generation = 0  # bumped by every size learned and every correction
        # (generation, head, size) of the latest sizes learned, so a correction keeps those newer than its read
        self._learned: deque[tuple[int, Head, int]] = deque(maxlen=REMEMBERED_SIZES)
        self._forgotten = 0  # the generation of the newest size dropped from ``_learned``
        self._corrected: dict[Head, int] = {}  # per head, the generation of its latest correction
        self._connected = False
        self._condition = threading.Condition()
        self._subscribers: dict[Head, list[Callable[[int], None]]] = {}
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-notifications", daemon=True)
        self._thread.start()

    # -- reading ---------------------------------------------------------------------------------------
    def head(self, which: Head) -> int | None:
        """The highest size announced (or read) for ``which``; None while not connected."""
        with self._condition:
            return self._heads.get(which) if self._connected else None

    def generation(self) -> int:
        """A counter bumped by every size learned (announced or observed, higher or not) and every correction:
        read it before a real read and pass it to :meth:`correct`."""
        with self._condition:
            return self._generation

    def wait(self, which: Head, beyond: int, timeout: float) -> int | None:
        """Block until ``which`` exceeds ``beyond`` or ``timeout`` passes; the head then (None:
        not connected)."""
        with self._condition:
            self._wait_until(lambda: self._connected and self._heads.get(which, -1) > beyond, timeout)
            return self._heads.get(which) if self._connected and not self._closed.is_set() else None

    def wait_any(self, beyond: Mapping[Head, int], timeout: float) -> None:
        """Block until any head exceeds its value in ``beyond``, ``timeout`` passes, or the watch
        is not connected (the caller then polls)."""
        with self._condition:
            self._wait_until(
                lambda: not self._connected or any(self._heads.get(c, -1) > n for c, n in beyond.items()), timeout
            )

    def _wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        """With the condition held: wait until ``ready()``, ``timeout`` seconds, or :meth:`close`."""
        deadline = time.monotonic() + timeout
        while not self._closed.is_set() and not ready():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._condition.wait(remaining)

    def connected(self) -> bool:
        with self._condition:
            return self._connected

    # -- feeding ---------------------------------------------------------------------------------------
    def observe(self, which: Head, size: int) -> None:
        """A size learned otherwise (e.g. this process's own commit): raise the head to it."""
        self._set(which, size, announce=False)

    def correct(self, sizes: Mapping[Head, int], since_generation: int) -> None:
        """A real read that began at ``since_generation`` found ``sizes``: each head becomes the larger of the size
        read and every size learned since the read began. A foreign announcement from before the read is thus
        forgotten, one during it kept (it costs a look), and a commit announced during the read (which the read
        may have missed) never undone, even when a higher foreign head had hidden its announcement.

        A head corrected since by a later read is left alone; nothing is corrected once sizes learned since the
        read began were forgotten (:data:`REMEMBERED_SIZES`): the heads stay hints, which costs a look.
        """
        with self._condition:
            if since_generation < self._forgotten:
                return
            learned: dict[Head, int] = {}
            for generation, which, size in self._learned:
                if generation > since_generation:
                    learned[which] = max(learned.get(which, -1), size)
            changed: dict[Head, int] = {}
            for which, size in sizes.items():
                head = max(size, learned.get(which, -1))
                if self._corrected.get(which, 0) <= since_generation and self._heads.get(which) != head:
                    changed[which] = head
            if not changed:
                return
            self._heads.update(changed)
            self._generation += 1
            self._corrected.update(dict.fromkeys(changed, self._generation))
            self._condition.notify_all()

    def subscribe(self, which: Head, callback: Callable[[int], None]) -> None:
        with self._condition:
            self._subscribers.setdefault(which, []).append(callback)

    def close(self) -> None:
        """Stop listening (the thread leaves within ``tick`` seconds and closes its connection)."""
        self._closed.set()
        with self._condition:
            self._connected = False
            self._condition.notify_all()

    def _set(self, which: Head, size: int, *, announce: bool) -> None:
        """Learn ``size`` for ``which``: raise the head to it and remember it for corrections, even when it is
        not higher (a higher foreign head may hide a real commit that a read in progress missed)."""
        with self._condition:
            self._generation += 1
            if len(self._learned) == self._learned.maxlen:
                self._forgotten = self._learned[0][0]
            self._learned.append((self._generation, which, size))
            if size > self._heads.get(which, -1):
                self._heads[which] = size
                self._condition.notify_all()
            callbacks = list(self._subscribers.get(which, ())) if announce else []
        for callback in callbacks:
            callback(size)

    # -- the thread ------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    self._listen(conn)
            except psycopg.Error as error:  # database unreachable: callers poll meanwhile; reconnect
                logger.warning("notification listener lost its connection: %s", error)
            with self._condition:
                self._connected = False
            self._closed.wait(self.retry_after)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        for channel in self.channels.values():
            conn.execute(f"LISTEN {channel.name}")
        for which, channel in self.channels.items():  # after LISTEN: nothing committed later can be missed
            try:
                row = conn.execute(channel.head_query).fetchone()
            except psycopg.errors.UndefinedTable:  # not created yet: every later commit is announced
                continue
            self._set(which, 0 if row is None or row[0] is None else int(row[0]), announce=True)
        # What arrived while psycopg ran those statements it kept in its own backlog, which the libpq loop below
        # never sees: among it, commits made after a head query's snapshot, announced nowhere else.
        self._announce((note.channel, note.payload) for note in conn.notifies(timeout=0))
        with self._condition:
            self._connected = True
            self._condition.notify_all()
        # libpq directly (select, consume, drain): a fraction of ``Connection.notifies``'s cost per wake-up,
        # and one update per channel for everything that arrived together.
        pgconn = conn.pgconn
        socket = pgconn.socket
        while not self._closed.is_set():
            readable, _, _ = select.select([socket], [], [], self.tick)
            if not readable:
                continue
            pgconn.consume_input()
            self._announce((note.relname.decode(), note.extra.decode()) for note in iter(pgconn.notifies, None))

    def _announce(self, notes: Iterable[tuple[str, str]]) -> None:
        """Raise the heads to the sizes announced in ``notes`` (channel, payload): one update per channel for
        everything that arrived together; other channels and payloads that are not sizes are ignored."""
        sizes: dict[Head, int] = {}
        for name, payload in notes:
            named = self._by_name.get(name)
            if named is not None and payload.isdigit():
                sizes[named] = max(sizes.get(named, -1), int(payload))
        for named, size in sizes.items():
            self._set(named, size, announce=True)
