"""Webhook delivery: the outbox beside the log (SQLite, PostgreSQL), the projector and the dispatcher."""

from __future__ import annotations

from adapters.storage import StorageConfig
from adapters.webhooks.outbox import OutboxStore

__all__ = ["OutboxStore", "open_outbox"]


def open_outbox(config: StorageConfig) -> OutboxStore:
    """The outbox in the database ``config`` names (tables created if missing)."""
    if config.backend == "postgresql" and config.database_url is not None:
        from adapters.webhooks.postgres import PostgresOutboxStore

        return PostgresOutboxStore(config.database_url)
    from adapters.webhooks.sqlite import SQLiteOutboxStore

    return SQLiteOutboxStore(config.sqlite_path())
