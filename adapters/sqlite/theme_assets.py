"""Partner theme files in the ledger's SQLite file (``theme_assets``): the one module that writes SQL for
them on this backend. Implements :class:`~ledger_core.partners.ports.ThemeAssetStore`.

Content-addressed: the key is the SHA-256 of the bytes, so a file is stored once however many themes use
it, and a row never changes (``INSERT OR IGNORE``). Files are small (a logo is at most 200 KB, a font
300 KB: :mod:`ledger_core.partners.theme_assets`).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from adapters.sqlite.connections import private_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS theme_assets (
    sha256 TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    content BLOB NOT NULL,
    stored_at TEXT NOT NULL
);
"""


class SQLiteThemeAssets:
    """Theme files in a SQLite file (normally the ledger's own)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        private_database(path)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.executescript(SCHEMA)

    def put(self, sha256: str, media_type: str, data: bytes) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO theme_assets (sha256, media_type, content, stored_at)"
                " VALUES (?, ?, ?, datetime('now'))",
                (sha256, media_type, data),
            )

    def get(self, sha256: str) -> tuple[str, bytes] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT media_type, content FROM theme_assets WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))

    def close(self) -> None:
        self._conn.close()
