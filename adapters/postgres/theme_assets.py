"""Partner theme files in the ledger's PostgreSQL database (``theme_assets``): the one module that writes
SQL for them on this backend. Implements :class:`~ledger_core.partners.ports.ThemeAssetStore`.

Content-addressed: the key is the SHA-256 of the bytes, so a file is stored once however many themes use
it, and a row never changes (``ON CONFLICT DO NOTHING``, safe across workers).
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from adapters.postgres.connections import create_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS theme_assets (
    sha256 TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    content BYTEA NOT NULL,
    stored_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


class PostgresThemeAssets:
    """Theme files in the ledger's PostgreSQL database."""

    def __init__(self, conninfo: str) -> None:
        self._lock = threading.Lock()
        create_schema(conninfo, SCHEMA)
        self._conn: psycopg.Connection[Any] = psycopg.connect(conninfo, autocommit=True)

    def put(self, sha256: str, media_type: str, data: bytes) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO theme_assets (sha256, media_type, content) VALUES (%s, %s, %s)"
                " ON CONFLICT (sha256) DO NOTHING",
                (sha256, media_type, data),
            )

    def get(self, sha256: str) -> tuple[str, bytes] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT media_type, content FROM theme_assets WHERE sha256 = %s", (sha256,)
            ).fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))

    def close(self) -> None:
        self._conn.close()
