"""Every byte a ledger database holds, for erasure tests that search storage for plaintext and keys."""

from __future__ import annotations

from pathlib import Path

import psycopg

from adapters.storage import StorageConfig


def database_dump(config: StorageConfig) -> bytes:
    """The SQLite files (the ledger's and the key store's) with their WAL and journal, or every row of every
    table of the PostgreSQL schema as text."""
    if config.backend == "sqlite":
        paths = (config.sqlite_path(), config.sqlite_keys_path())
        parts = [Path(f"{path}{suffix}") for path in paths for suffix in ("", "-wal", "-journal")]
        return b"".join(part.read_bytes() for part in parts if part.exists())
    assert config.database_url is not None
    chunks: list[bytes] = []
    with psycopg.connect(config.database_url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        ]
        assert tables, "no tables found in the schema"
        for table in tables:
            for (text,) in conn.execute(f'SELECT t::text FROM "{table}" t'):
                chunks.append(text.encode("utf-8"))
    return b"\n".join(chunks)


def found(dump: bytes, needle: bytes) -> bool:
    """``needle`` raw or hex-encoded (PostgreSQL renders bytea as ``\\x<hex>``)."""
    return needle in dump or needle.hex().encode() in dump
