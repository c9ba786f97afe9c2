"""Who is the writer: one holder per ledger, the others stand by and take over when it dies.

PostgreSQL: a session advisory lock (:class:`~adapters.postgres.session_lock.SessionLock`, class
``WRTR``, per schema), released by PostgreSQL when the holder's connection ends (a crash, a SIGKILL).
SQLite (one host): an exclusive ``flock`` on ``<socket>.lock``, released by the kernel when the holder dies.
"""

from __future__ import annotations

import fcntl
import os
from typing import Protocol

from adapters.storage import StorageConfig

WRITER_LOCK_CLASS = 0x57525452  # "WRTR"


class Election(Protocol):
    """Try (never wait) to lead; ask whether the lead is still held; give it up."""

    def try_acquire(self) -> bool: ...

    def held(self) -> bool: ...

    def release(self) -> None: ...


class FileElection:
    """An exclusive ``flock`` on one file: the kernel drops it with its holder."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def open_election(config: StorageConfig, socket_path: str) -> Election:
    """The writer election of the ledger ``config`` names (PostgreSQL: advisory lock; SQLite: flock)."""
    url = config.postgres_url()
    if url is not None:
        from adapters.postgres.session_lock import SessionLock  # psycopg only when asked for

        return SessionLock(url, WRITER_LOCK_CLASS)
    return FileElection(socket_path + ".lock")
