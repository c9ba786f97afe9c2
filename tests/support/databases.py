"""Fresh databases per example (for hypothesis), and raw SQL for tampering tests."""

from __future__ import annotations

import sqlite3
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from adapters.sqlite.keys import keys_file_of


@contextmanager
def fresh_database(kind: str, postgres_server: str | None = None) -> Iterator[str]:
    """A database URL nobody else uses: a temp SQLite file, or a new PostgreSQL schema (dropped after)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{Path(directory) / 'ledger.db'}"
        return
    assert postgres_server is not None
    schema = f"h_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in postgres_server else "?"
    try:
        yield f"{postgres_server}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def key_store_url(url: str) -> str:
    """The URL of the database holding the subject keys of the ledger at ``url``: on SQLite the key store's
    own file (``ledger.db`` -> ``ledger.keys.db``), on PostgreSQL the same database."""
    if url.startswith("sqlite:///"):
        return f"sqlite:///{keys_file_of(Path('/' + url.removeprefix('sqlite:///')))}"
    return url


def execute(url: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement directly against the database behind ``url`` (bypassing the ledger).

    Write SQL with ``?`` placeholders; they are converted for PostgreSQL.
    """
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect("/" + url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url, autocommit=True) as pg:
        cursor = pg.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []
