"""Sign-in outcome counters in the ledger's PostgreSQL database (``sso_login_stats``): the one module that
writes SQL for them on this backend. Implements :class:`~adapters.ports.SsoHealthStore`.

One row per (partner, provider); each outcome is one ``INSERT ... ON CONFLICT DO UPDATE`` (atomic across
workers). Only counts, times and a reason code are kept: never who tried.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from adapters.ports import SsoHealthRow
from adapters.postgres.connections import create_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS sso_login_stats (
    partner_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    protocol TEXT NOT NULL,
    successes BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    last_success_at DOUBLE PRECISION,
    last_failure_at DOUBLE PRECISION,
    last_failure_reason TEXT,
    PRIMARY KEY (partner_id, provider_id)
);
"""

_UPSERT = (
    "INSERT INTO sso_login_stats (partner_id, provider_id, protocol, successes, failures, last_success_at,"
    " last_failure_at, last_failure_reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (partner_id, provider_id) DO UPDATE SET protocol = excluded.protocol,"
    " successes = sso_login_stats.successes + excluded.successes,"
    " failures = sso_login_stats.failures + excluded.failures,"
    " last_success_at = COALESCE(excluded.last_success_at, sso_login_stats.last_success_at),"
    " last_failure_at = COALESCE(excluded.last_failure_at, sso_login_stats.last_failure_at),"
    " last_failure_reason = COALESCE(excluded.last_failure_reason, sso_login_stats.last_failure_reason)"
)


class PostgresSsoHealthStore:
    """Sign-in counters in the ledger's PostgreSQL database."""

    def __init__(self, conninfo: str) -> None:
        self._lock = threading.Lock()
        create_schema(conninfo, SCHEMA)
        self._conn: psycopg.Connection[Any] = psycopg.connect(conninfo, autocommit=True)

    def record(
        self, partner_id: str, provider_id: str, protocol: str, succeeded: bool, reason: str | None, at: float
    ) -> None:
        row = (
            (partner_id, provider_id, protocol, 1, 0, at, None, None)
            if succeeded
            else (partner_id, provider_id, protocol, 0, 1, None, at, reason)
        )
        with self._lock:
            self._conn.execute(_UPSERT, row)

    def rows(self) -> list[SsoHealthRow]:
        with self._lock:
            found = self._conn.execute(
                "SELECT partner_id, provider_id, protocol, successes, failures, last_success_at, last_failure_at,"
                " last_failure_reason FROM sso_login_stats ORDER BY partner_id, provider_id"
            ).fetchall()
        return [SsoHealthRow(*row) for row in found]

    def close(self) -> None:
        self._conn.close()
