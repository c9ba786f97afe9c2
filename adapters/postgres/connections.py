"""PostgreSQL plumbing shared by every table owner of this backend: error translation, schema creation, pools.

* :func:`translate` maps psycopg errors to eventsourcing's ``PersistenceError`` family, so callers see
  one error hierarchy whatever the driver.
* :func:`create_schema` runs idempotent DDL under a session advisory lock (``SCHEMA_LOCK``): two processes
  creating the tables at once otherwise fail with "tuple concurrently updated".
* :func:`open_pool` opens a ``psycopg_pool`` pool; :func:`pooled` lends one of its connections and
  translates driver errors raised while it is held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from psycopg_pool import ConnectionPool

from ledger_core.engine.errors import LedgerError

# Advisory lock key (arbitrary, fixed) of schema creation.
SCHEMA_LOCK = 0x4C45444745520000

Pool = ConnectionPool[psycopg.Connection[Any]]
Fetch = Callable[[str, Sequence[object]], list[tuple[Any, ...]]]
"""Runs one read-only statement on some connection and returns every row (how table owners lend their reads)."""


def translate(error: psycopg.Error) -> PersistenceError:
    """Map a driver error to eventsourcing's ``PersistenceError`` family."""
    if isinstance(error, psycopg.errors.IntegrityError):
        return IntegrityError(str(error))
    if isinstance(error, psycopg.errors.DataError):
        return DataError(str(error))
    if isinstance(error, psycopg.errors.OperationalError):
        return OperationalError(str(error))
    if isinstance(error, psycopg.errors.InterfaceError):
        return InterfaceError(str(error))
    return ProgrammingError(str(error))


class DatabaseSchemaMissing(LedgerError):
    """The connection's ``search_path`` names no schema that exists, so the ledger's tables have nowhere to go
    (PostgreSQL's SQLSTATE 3F000, "no schema has been selected to create in")."""

    code = "DATABASE_SCHEMA_MISSING"

    def __init__(self, search_path: str) -> None:
        super().__init__(
            f"the database URL's search_path ({search_path or 'empty'}) names no existing schema: "
            "create it first (CREATE SCHEMA name) or point search_path at one",
            search_path=search_path,
        )


def create_schema(conninfo: str, schema: str) -> None:
    """Run ``schema`` (idempotent DDL) under an advisory lock: several processes may start together.

    Raises :class:`DatabaseSchemaMissing` when the search path names no existing schema."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            conn.execute(schema.encode())
        except psycopg.errors.InvalidSchemaName as missing:
            search_path = conn.execute("SHOW search_path").fetchone()
            raise DatabaseSchemaMissing(str(search_path[0]) if search_path else "") from missing
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def open_pool(conninfo: str, *, name: str, size: int, schema: str | None = None, autocommit: bool = True) -> Pool:
    """Create ``schema`` (if given) and open a pool of up to ``size`` connections; driver errors translated."""
    try:
        if schema is not None:
            create_schema(conninfo, schema)
        kwargs: dict[str, Any] = {"autocommit": True} if autocommit else {}
        return ConnectionPool(conninfo, min_size=1, max_size=size, open=True, name=name, kwargs=kwargs)
    except psycopg.Error as error:
        raise translate(error) from error


@contextmanager
def pooled(pool: Pool) -> Iterator[psycopg.Connection[Any]]:
    """One connection of ``pool``; driver errors raised while it is held become ``PersistenceError``."""
    try:
        with pool.connection() as conn:
            yield conn
    except psycopg.Error as error:
        raise translate(error) from error
