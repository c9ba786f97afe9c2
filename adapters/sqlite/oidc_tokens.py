"""Sealed OIDC refresh tokens in the ledger's SQLite file (``sso_oidc_tokens``): the one module that writes
SQL for them on this backend. Implements :class:`~adapters.ports.OidcTokenStore`; the bytes arrive sealed
(:class:`~adapters.oidc.token_vault.RefreshTokenVault`) and are never opened here.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sso_oidc_tokens (
    account_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (account_id, provider_id)
);
"""


class SQLiteOidcTokenStore:
    """Sealed refresh tokens in a SQLite file (normally the ledger's own)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.executescript(SCHEMA)

    def put(self, account_id: str, provider_id: str, partner_id: str, sealed: bytes, at: float) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO sso_oidc_tokens (account_id, provider_id, partner_id, sealed, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, provider_id)"
                " DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
                (account_id, provider_id, partner_id, sealed, at),
            )

    def get(self, account_id: str, provider_id: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT sealed FROM sso_oidc_tokens WHERE account_id = ? AND provider_id = ?",
                (account_id, provider_id),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def forget(self, account_id: str) -> int:
        with self._lock:
            return int(self._conn.execute("DELETE FROM sso_oidc_tokens WHERE account_id = ?", (account_id,)).rowcount)

    def close(self) -> None:
        self._conn.close()
