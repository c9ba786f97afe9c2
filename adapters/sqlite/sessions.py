"""Sign-in state in the ledger's SQLite file (``sso_sessions``, ``sso_session_tokens``, ``sso_one_time``): the
one module that writes SQL for them on this backend. Implements the accounts context's
:class:`~ledger_core.accounts.ports.SessionStore` and :class:`~ledger_core.accounts.ports.OneTimeStore`.

Every worker of the server opens the same file, so a refresh token used by one is used for all: marking a
token used and remembering a one-time value are single conditional statements (``UPDATE ... WHERE used_at
IS NULL``, ``INSERT ... ON CONFLICT DO NOTHING``) whose row count says who won. Times are Unix seconds.
Tokens are stored by SHA-256 digest only. Expired rows are deleted by :meth:`purge` and on the way.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger_core.accounts.ports import SessionFamily, SessionToken, TokenKind

SCHEMA = """
CREATE TABLE IF NOT EXISTS sso_sessions (
    family_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    user_kind TEXT NOT NULL,
    role TEXT,
    provider_id TEXT NOT NULL,
    session_ref TEXT,
    csrf_digest TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL
);
CREATE INDEX IF NOT EXISTS sso_sessions_account ON sso_sessions (account_id);
CREATE INDEX IF NOT EXISTS sso_sessions_ref ON sso_sessions (partner_id, provider_id, session_ref);
CREATE TABLE IF NOT EXISTS sso_session_tokens (
    digest TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
);
CREATE INDEX IF NOT EXISTS sso_session_tokens_family ON sso_session_tokens (family_id);
CREATE TABLE IF NOT EXISTS sso_one_time (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL,
    PRIMARY KEY (kind, key)
);
"""

_FAMILY_COLUMNS = (
    "family_id, account_id, partner_id, user_kind, role, provider_id, session_ref, csrf_digest,"
    " created_at, expires_at, revoked_at"
)


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _dt(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _family(row: Sequence[Any]) -> SessionFamily:
    created, expires = _dt(row[8]), _dt(row[9])
    if created is None or expires is None:  # NOT NULL columns
        raise ValueError("sso_sessions row without times")
    return SessionFamily(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], created, expires, _dt(row[10]))


class SQLiteSsoStore:
    """Sessions and one-time values in a SQLite file (normally the ledger's own)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    # -- SessionStore ---------------------------------------------------------------------------------
    def open_family(self, family: SessionFamily, tokens: Sequence[SessionToken]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    f"INSERT INTO sso_sessions ({_FAMILY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        family.family_id,
                        family.account_id,
                        family.partner_id,
                        family.user_kind,
                        family.role,
                        family.provider_id,
                        family.session_ref,
                        family.csrf_digest,
                        _ts(family.created_at),
                        _ts(family.expires_at),
                        None,
                    ),
                )
                self._insert_tokens(tokens)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def add_tokens(self, tokens: Sequence[SessionToken]) -> None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._insert_tokens(tokens)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _insert_tokens(self, tokens: Sequence[SessionToken]) -> None:
        self._conn.executemany(
            "INSERT INTO sso_session_tokens (digest, family_id, kind, expires_at, used_at) VALUES (?, ?, ?, ?, NULL)",
            [(t.digest, t.family_id, t.kind.value, _ts(t.expires_at)) for t in tokens],
        )

    def find(self, digest: str) -> tuple[SessionToken, SessionFamily] | None:
        with self._lock:
            token = self._conn.execute(
                "SELECT digest, family_id, kind, expires_at, used_at FROM sso_session_tokens WHERE digest = ?",
                (digest,),
            ).fetchone()
            if token is None:
                return None
            family = self._conn.execute(
                f"SELECT {_FAMILY_COLUMNS} FROM sso_sessions WHERE family_id = ?", (token[1],)
            ).fetchone()
        if family is None:
            return None
        expires = _dt(token[3])
        if expires is None:
            return None
        return SessionToken(token[0], token[1], TokenKind(token[2]), expires, _dt(token[4])), _family(family)

    def mark_used(self, digest: str, at: datetime) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sso_session_tokens SET used_at = ? WHERE digest = ? AND used_at IS NULL", (_ts(at), digest)
            )
        return cursor.rowcount == 1

    def revoke_family(self, family_id: str, at: datetime) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sso_sessions SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
                (_ts(at), family_id),
            )
        return cursor.rowcount

    def revoke_account(self, account_id: str, at: datetime) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sso_sessions SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL AND expires_at > ?",
                (_ts(at), account_id, _ts(at)),
            )
        return cursor.rowcount

    def revoke_by_ref(self, partner_id: str, provider_id: str, session_ref: str, at: datetime) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sso_sessions SET revoked_at = ? WHERE partner_id = ? AND provider_id = ? AND session_ref = ?"
                " AND revoked_at IS NULL",
                (_ts(at), partner_id, provider_id, session_ref),
            )
        return cursor.rowcount

    def purge(self, before: datetime) -> int:
        cutoff = _ts(before)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("DELETE FROM sso_session_tokens WHERE expires_at < ?", (cutoff,))
            count = self._conn.execute("DELETE FROM sso_sessions WHERE expires_at < ?", (cutoff,)).rowcount
            self._conn.execute("DELETE FROM sso_one_time WHERE expires_at < ?", (cutoff,))
            self._conn.execute("COMMIT")
        return int(count)

    # -- OneTimeStore ---------------------------------------------------------------------------------
    def put(self, kind: str, key: str, expires_at: datetime) -> bool:
        now = datetime.now(UTC).timestamp()
        with self._lock:
            self._conn.execute(
                "DELETE FROM sso_one_time WHERE kind = ? AND key = ? AND expires_at < ?", (kind, key, now)
            )
            cursor = self._conn.execute(
                "INSERT INTO sso_one_time (kind, key, expires_at, used_at) VALUES (?, ?, ?, NULL)"
                " ON CONFLICT (kind, key) DO NOTHING",
                (kind, key, _ts(expires_at)),
            )
        return cursor.rowcount == 1

    def exists(self, kind: str, key: str, now: datetime) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM sso_one_time WHERE kind = ? AND key = ? AND expires_at > ?", (kind, key, _ts(now))
            ).fetchone()
        return row is not None

    def use(self, kind: str, key: str, now: datetime) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sso_one_time SET used_at = ? WHERE kind = ? AND key = ? AND used_at IS NULL AND expires_at > ?",
                (_ts(now), kind, key, _ts(now)),
            )
        return cursor.rowcount == 1

    def close(self) -> None:
        self._conn.close()
