"""One process at a time: a PostgreSQL session advisory lock held on a dedicated connection.

Used to elect the one sealer (:mod:`adapters.postgres.tree`) and the one webhook projector
(:mod:`adapters.postgres.outbox`) per schema: the lock key is ``(lock_class,
hashtext(current_schema()))``, so ledgers in different schemas of one database do not block each other.
The lock lives as long as its connection: when the holder dies or its connection breaks, PostgreSQL
releases it and the next :meth:`SessionLock.try_acquire` elsewhere succeeds.
"""

from __future__ import annotations

from typing import Any

import psycopg

from adapters.postgres.connections import translate


class SessionLock:
    """Try (never wait) for the session advisory lock ``lock_class`` of the connection's schema."""

    def __init__(self, conninfo: str, lock_class: int) -> None:
        self.conninfo = conninfo
        self.lock_class = lock_class
        self._holder: psycopg.Connection[Any] | None = None
        self._candidate: psycopg.Connection[Any] | None = None  # kept between tries: one statement per try

    def try_acquire(self) -> bool:
        """True if this lock is held now (already, or taken by this try); a database error is raised."""
        if self.held():
            return True
        try:
            conn = self._candidate if self._candidate is not None and not self._candidate.closed else None
            if conn is None:
                conn = self._candidate = psycopg.connect(self.conninfo, autocommit=True)
            row = conn.execute(
                "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (self.lock_class,)
            ).fetchone()
        except psycopg.Error as error:
            self._close_candidate()
            raise translate(error) from error
        if row is not None and row[0]:
            self._holder, self._candidate = conn, None
            return True
        return False

    def held(self) -> bool:
        """Whether the holding connection is still alive (if it died, the lock went with it)."""
        conn = self._holder
        if conn is None:
            return False
        try:
            conn.execute("SELECT 1")
        except psycopg.Error:
            conn.close()
            self._holder = None
            return False
        return True

    def release(self) -> None:
        """Close the holding connection (which releases the lock) and a follower's waiting one."""
        if self._holder is not None:
            self._holder.close()
            self._holder = None
        self._close_candidate()

    def _close_candidate(self) -> None:
        if self._candidate is not None:
            self._candidate.close()
            self._candidate = None
