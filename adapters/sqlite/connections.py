"""SQLite plumbing shared by every table owner of this backend: per-thread connections, the writer lock.

* :class:`ThreadConnections` gives each thread its own connection to one file (WAL: readers never block
  the writer or each other), translates driver errors into eventsourcing's ``PersistenceError`` family,
  and closes every connection it handed out.
* :func:`private_database` creates the database file owner-only (0600, like the key files beside it)
  before SQLite opens it, and tightens an existing one: SQLite gives the ``-wal`` and ``-shm`` files
  the database file's permissions, so they are 0600 too.
* :class:`WriterLock` is the file lock (``<db>.writer-lock``) every writer of the file takes before
  ``BEGIN IMMEDIATE``: a blocking ``flock`` hands the write lock straight to the next process, where
  SQLite's own busy handler would sleep in steps of up to 100 ms.
"""

from __future__ import annotations

import contextlib
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


PRIVATE_MODE = 0o600
_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def private_database(path: Path) -> None:
    """Create ``path`` with mode 0600 if it does not exist; remove group and other permissions from it and
    its ``-wal``/``-shm``/``-journal`` files if it does (an in-memory database is left alone)."""
    if str(path) in ("", ":memory:") or str(path).startswith("file:"):
        return
    # O_EXCL: never open (and close) a descriptor of an existing database: closing any descriptor of a file
    # drops every POSIX lock this process holds on it, SQLite's included (sqlite.org/howtocorrupt.html 2.2).
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    for suffix in _SIDE_FILES:
        side = Path(f"{path}{suffix}")
        try:
            mode = side.stat().st_mode & 0o777
        except FileNotFoundError:
            continue
        if mode & 0o077:
            side.chmod(mode & 0o700)


class ThreadConnections:
    """One connection per thread to ``path`` (``synchronous=FULL``, 30 s busy timeout), a private file."""

    def __init__(self, path: Path) -> None:
        private_database(path)
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self, *, cache_mib: int | None = None) -> Iterator[sqlite3.Connection]:
        """This thread's connection; driver errors raised inside become ``PersistenceError``.

        ``cache_mib``: the most this connection's page cache may hold (SQLite's default is 2 MiB), set the
        first time it is asked for. The cache grows only with the pages a transaction touches, and a commit
        by any other connection empties it."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            self._local.cache_mib = None
            with self._lock:
                self._all.append(conn)
        if cache_mib is not None and self._local.cache_mib != cache_mib:
            conn.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")  # negative: KiB (SQLite docs)
            self._local.cache_mib = cache_mib
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
