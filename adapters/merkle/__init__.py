"""Merkle tree storage beside the log (SQLite and PostgreSQL): see README.md for durability and locking."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from adapters.storage import StorageConfig
from ledger_core.engine.ports import TreeStore

if TYPE_CHECKING:  # psycopg is imported only when PostgreSQL is asked for
    from adapters.postgres.notifications import HeadWatch


class ManagedTreeStore(TreeStore, Protocol):
    """A :class:`~ledger_core.engine.ports.TreeStore` with sealer leadership and a lifetime."""

    def try_acquire_leadership(self) -> bool:
        """Become the one sealer (PostgreSQL: session advisory lock); True when held."""
        ...

    def holds_leadership(self) -> bool:
        """Whether leadership is still held (False once the lock's connection is gone)."""
        ...

    def release_leadership(self) -> None: ...

    def watch(self, log: bool = True) -> HeadWatch | None:
        """Checkpoint (and, with ``log``, log) sizes announced by the database (PostgreSQL notifications), or
        None where the database announces nothing (SQLite): followers then poll."""
        ...

    def close(self) -> None: ...


def open_tree_store(config: StorageConfig) -> ManagedTreeStore:
    """Open (creating tables if missing) the tree store of the database ``config`` names."""
    if config.backend == "postgresql":
        from adapters.merkle.postgres import PostgresTreeStore  # psycopg only when asked for

        assert config.database_url is not None  # narrowed by backend; not a business rule
        return PostgresTreeStore(config.database_url)
    from adapters.merkle.sqlite import SQLiteTreeStore

    return SQLiteTreeStore(config.sqlite_path())


__all__ = ["ManagedTreeStore", "open_tree_store"]
