"""Sign-in state in the ledger's PostgreSQL database (``sso_sessions``, ``sso_session_tokens``,
``sso_one_time``): the one module that writes SQL for them on this backend. Implements the accounts
context's :class:`~ledger_core.accounts.ports.SessionStore` and :class:`~ledger_core.accounts.ports.OneTimeStore`.

Every API worker shares these tables, so a refresh token used by one is used for all: marking a token used
and remembering a one-time value are single conditional statements (``UPDATE ... WHERE used_at IS NULL``,
``INSERT ... ON CONFLICT DO NOTHING``) whose row count says which worker won, in autocommit. Tokens are
stored by SHA-256 digest only. Expired rows are deleted by :meth:`purge`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from adapters.postgres.connections import create_schema
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
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS sso_sessions_account ON sso_sessions (account_id);
CREATE INDEX IF NOT EXISTS sso_sessions_ref ON sso_sessions (partner_id, provider_id, session_ref);
CREATE TABLE IF NOT EXISTS sso_session_tokens (
    digest TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS sso_session_tokens_family ON sso_session_tokens (family_id);
CREATE TABLE IF NOT EXISTS sso_one_time (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    PRIMARY KEY (kind, key)
);
"""

_FAMILY_COLUMNS = (
    "family_id, account_id, partner_id, user_kind, role, provider_id, session_ref, csrf_digest,"
    " created_at, expires_at, revoked_at"
)


class PostgresSsoStore:
    """Sessions and one-time values in the ledger's PostgreSQL database."""

    def __init__(self, conninfo: str) -> None:
        self._lock = threading.Lock()
        create_schema(conninfo, SCHEMA)
        self._conn: psycopg.Connection[Any] = psycopg.connect(conninfo, autocommit=True)

    # -- SessionStore ---------------------------------------------------------------------------------
    def open_family(self, family: SessionFamily, tokens: Sequence[SessionToken]) -> None:
        with self._lock, self._conn.transaction():
            self._conn.execute(
                f"INSERT INTO sso_sessions ({_FAMILY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL)",
                (
                    family.family_id,
                    family.account_id,
                    family.partner_id,
                    family.user_kind,
                    family.role,
                    family.provider_id,
                    family.session_ref,
                    family.csrf_digest,
                    family.created_at,
                    family.expires_at,
                ),
            )
            self._insert_tokens(tokens)

    def add_tokens(self, tokens: Sequence[SessionToken]) -> None:
        with self._lock, self._conn.transaction():
            self._insert_tokens(tokens)

    def _insert_tokens(self, tokens: Sequence[SessionToken]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO sso_session_tokens (digest, family_id, kind, expires_at, used_at)"
                " VALUES (%s, %s, %s, %s, NULL)",
                [(t.digest, t.family_id, t.kind.value, t.expires_at) for t in tokens],
            )

    def find(self, digest: str) -> tuple[SessionToken, SessionFamily] | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT t.digest, t.family_id, t.kind, t.expires_at, t.used_at, {_prefixed()}"
                " FROM sso_session_tokens t JOIN sso_sessions s ON s.family_id = t.family_id WHERE t.digest = %s",
                (digest,),
            ).fetchone()
        if row is None:
            return None
        token = SessionToken(row[0], row[1], TokenKind(row[2]), row[3], row[4])
        f = row[5:]
        family = SessionFamily(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10])
        return token, family

    def mark_used(self, digest: str, at: datetime) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sso_session_tokens SET used_at = %s WHERE digest = %s AND used_at IS NULL", (at, digest)
            )
        return cursor.rowcount == 1

    def revoke_family(self, family_id: str, at: datetime) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sso_sessions SET revoked_at = %s WHERE family_id = %s AND revoked_at IS NULL", (at, family_id)
            )
        return cursor.rowcount

    def revoke_account(self, account_id: str, at: datetime) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sso_sessions SET revoked_at = %s WHERE account_id = %s AND revoked_at IS NULL"
                " AND expires_at > %s",
                (at, account_id, at),
            )
        return cursor.rowcount

    def revoke_by_ref(self, partner_id: str, provider_id: str, session_ref: str, at: datetime) -> int:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sso_sessions SET revoked_at = %s WHERE partner_id = %s AND provider_id = %s"
                " AND session_ref = %s AND revoked_at IS NULL",
                (at, partner_id, provider_id, session_ref),
            )
        return cursor.rowcount

    def purge(self, before: datetime) -> int:
        with self._lock, self._conn.transaction():
            self._conn.execute("DELETE FROM sso_session_tokens WHERE expires_at < %s", (before,))
            count = self._conn.execute("DELETE FROM sso_sessions WHERE expires_at < %s", (before,)).rowcount
            self._conn.execute("DELETE FROM sso_one_time WHERE expires_at < %s", (before,))
        return count

    # -- OneTimeStore ---------------------------------------------------------------------------------
    def put(self, kind: str, key: str, expires_at: datetime) -> bool:
        now = datetime.now(UTC)
        with self._lock, self._conn.transaction():
            self._conn.execute(
                "DELETE FROM sso_one_time WHERE kind = %s AND key = %s AND expires_at < %s", (kind, key, now)
            )
            cursor = self._conn.execute(
                "INSERT INTO sso_one_time (kind, key, expires_at, used_at) VALUES (%s, %s, %s, NULL)"
                " ON CONFLICT (kind, key) DO NOTHING",
                (kind, key, expires_at),
            )
        return cursor.rowcount == 1

    def exists(self, kind: str, key: str, now: datetime) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM sso_one_time WHERE kind = %s AND key = %s AND expires_at > %s", (kind, key, now)
            ).fetchone()
        return row is not None

    def use(self, kind: str, key: str, now: datetime) -> bool:
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sso_one_time SET used_at = %s WHERE kind = %s AND key = %s AND used_at IS NULL"
                " AND expires_at > %s",
                (now, kind, key, now),
            )
        return cursor.rowcount == 1

    def close(self) -> None:
        self._conn.close()


def _prefixed() -> str:
    return ", ".join(f"s.{column.strip()}" for column in _FAMILY_COLUMNS.split(","))
