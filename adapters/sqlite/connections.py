"""SQLite plumbing shared by every table owner of this backend: per-thread connections, the writer lock.

* :class:`ThreadConnections` gives each thread its own connection to one file (WAL: readers never block
  the writer or each other), translates driver errors into eventsourcing's ``PersistenceError`` family,
  and closes every connection it handed out.
* :class:`WriterLock` is the file lock (``<db>.writer-lock``) every writer of the file takes before
  ``BEGIN IMMEDIATE``: a blocking ``flock`` hands the write lock straight to the next process, where
  SQLite's own busy handler would sleep in steps of up to 100 ms.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eventsourcing.persistence import IntegrityError, OperationalError, PersistenceError, ProgrammingError

Fetch = Callable[[str, Sequence[object]], list[tuple[Any, ...]]]
"""Runs one read-only statement on some connection and returns every row (how table owners lend their reads)."""


def translate(error: sqlite3.Error) -> PersistenceError:
    """Map a driver error to eventsourcing's ``PersistenceError`` family."""
    if isinstance(error, sqlite3.IntegrityError):
        return IntegrityError(str(error))
    if isinstance(error, sqlite3.OperationalError):
        return OperationalError(str(error))
    return ProgrammingError(str(error))


class ThreadConnections:
    """One connection per thread to ``path`` (``synchronous=FULL``, 30 s busy timeout)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection; driver errors raised inside become ``PersistenceError``."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        except sqlite3.Error as error:
            raise translate(error) from error

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class WriterLock:
    """The cross-process writer lock of one database file (see the module docstring)."""

    def __init__(self, database: Path) -> None:
        self._descriptor = os.open(f"{database}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def held(self) -> Iterator[None]:
        fcntl.flock(self._descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1
