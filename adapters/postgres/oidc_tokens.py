"""Sealed OIDC refresh tokens in the ledger's PostgreSQL database (``sso_oidc_tokens``): the one module that
writes SQL for them on this backend. Implements :class:`~adapters.ports.OidcTokenStore`; the bytes arrive
sealed (:class:`~adapters.oidc.token_vault.RefreshTokenVault`) and are never opened here.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from adapters.postgres.connections import create_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS sso_oidc_tokens (
    account_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account_id, provider_id)
);
"""


class PostgresOidcTokenStore:
    """Sealed refresh tokens in the ledger's PostgreSQL database."""

    def __init__(self, conninfo: str) -> None:
        self._lock = threading.Lock()
        create_schema(conninfo, SCHEMA)
        self._conn: psycopg.Connection[Any] = psycopg.connect(conninfo, autocommit=True)

    def put(self, account_id: str, provider_id: str, partner_id: str, sealed: bytes, at: float) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO sso_oidc_tokens (account_id, provider_id, partner_id, sealed, updated_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (account_id, provider_id)"
                " DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
                (account_id, provider_id, partner_id, sealed, at),
            )

    def get(self, account_id: str, provider_id: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT sealed FROM sso_oidc_tokens WHERE account_id = %s AND provider_id = %s",
                (account_id, provider_id),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def forget(self, account_id: str) -> int:
        with self._lock:
            cursor = self._conn.execute("DELETE FROM sso_oidc_tokens WHERE account_id = %s", (account_id,))
            return int(cursor.rowcount)

    def close(self) -> None:
        self._conn.close()
