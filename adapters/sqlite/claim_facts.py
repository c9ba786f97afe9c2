"""The claim facts tables (``claim_facts_*``) in the ledger's SQLite file: the one module that writes SQL for
them on this backend (implements :class:`adapters.table_claim_facts.FactTables`).

A catch-up batch is one write transaction under the file's writer lock and ``BEGIN IMMEDIATE`` (like every
writer of the file, ``adapters/sqlite/connections.py``), which serialises processes: the progress row is
checked and advanced in it. Commits use ``synchronous=NORMAL``: the tables are derived from the log, and
WAL keeps the facts and the progress row together, so a power loss only loses the last batches (taken in
again on the next question). Reads use this thread's WAL connection and never wait for writers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from adapters.claim_facts_rows import AmountGroup, FactBatch, FactsRead, FactsRequest, ReferenceKey
from adapters.sqlite.connections import ThreadConnections, WriterLock

SCHEMA = """
CREATE TABLE IF NOT EXISTS claim_facts_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL
);
INSERT INTO claim_facts_progress (id, size) VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS claim_facts_claims (
    claim_id TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS claim_facts_uses (
    hash TEXT NOT NULL,
    position BIGINT NOT NULL,
    ordinal INTEGER NOT NULL,
    claim_id TEXT NOT NULL,
    partner_id TEXT NOT NULL,
    PRIMARY KEY (hash, position, ordinal)
);
CREATE TABLE IF NOT EXISTS claim_facts_amounts (
    partner_id TEXT NOT NULL,
    claim_type TEXT NOT NULL,
    currency TEXT NOT NULL,
    position BIGINT NOT NULL,
    claim_id TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (partner_id, claim_type, currency, position)
);
CREATE TABLE IF NOT EXISTS claim_facts_references (
    partner_id TEXT NOT NULL,
    ref_key TEXT NOT NULL,
    ref_value TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    position BIGINT NOT NULL,
    claim_id TEXT NOT NULL,
    PRIMARY KEY (ref_value, partner_id, ref_key, epoch, position)
);
CREATE TABLE IF NOT EXISTS claim_facts_registrations (
    partner_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    position BIGINT NOT NULL,
    document_type TEXT NOT NULL,
    metadata TEXT,
    PRIMARY KEY (hash, partner_id)
);
"""
PROGRESS = "SELECT size FROM claim_facts_progress WHERE id = 1"
ADVANCE = "UPDATE claim_facts_progress SET size = ? WHERE id = 1"
INSERT_CLAIM = "INSERT INTO claim_facts_claims (claim_id, position) VALUES (?, ?)"
INSERT_USE = "INSERT INTO claim_facts_uses (hash, position, ordinal, claim_id, partner_id) VALUES (?, ?, ?, ?, ?)"
INSERT_AMOUNT = (
    "INSERT INTO claim_facts_amounts (partner_id, claim_type, currency, position, claim_id, amount)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_REFERENCE = (
    "INSERT INTO claim_facts_references (partner_id, ref_key, ref_value, epoch, position, claim_id)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
INSERT_REGISTRATION = (
    "INSERT INTO claim_facts_registrations (partner_id, hash, position, document_type, metadata)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
KNOWN_CLAIMS = "SELECT claim_id FROM claim_facts_claims WHERE claim_id IN ({})"
EXISTING = "SELECT claim_id FROM claim_facts_claims WHERE claim_id IN ({}) AND position < ?"
USES = (
    "SELECT hash, claim_id, partner_id FROM claim_facts_uses WHERE hash IN ({}) AND position < ?"
    " ORDER BY position, ordinal"
)
REGISTRATIONS = (
    "SELECT partner_id, hash, document_type, metadata FROM claim_facts_registrations"
    " WHERE hash IN ({}) AND position < ?"
)
AMOUNTS = (
    "SELECT claim_id, amount FROM claim_facts_amounts WHERE partner_id = ? AND claim_type = ? AND currency = ?"
    " AND position < ? ORDER BY position DESC LIMIT ?"
)
REFERENCES = (
    "SELECT partner_id, ref_key, ref_value, claim_id, epoch FROM claim_facts_references"
    " WHERE ref_value IN ({}) AND epoch >= ? AND epoch <= ? AND position < ? ORDER BY position"
)
LISTING = (
    "SELECT claim_id FROM claim_facts_uses WHERE hash = ? AND partner_id = ? AND position < ?"
    " ORDER BY position, ordinal"
)
IN_CHUNK = 500
"""Values per ``IN (...)`` list (well under SQLite's limit of bound variables)."""


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def _select_in(conn: sqlite3.Connection, sql: str, values: Sequence[str], *tail: Any) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for part in _chunks(values):
        rows.extend(conn.execute(sql.format(", ".join("?" * len(part))), (*part, *tail)).fetchall())
    return rows


class SQLiteFactTables:
    """The ``claim_facts_*`` tables of the SQLite file at ``path`` (created if missing)."""

    def __init__(self, path: Path) -> None:
        self._connections = ThreadConnections(path)
        self._writer_lock = WriterLock(path)
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.executescript(SCHEMA)

    def progress(self) -> int:
        with self._connections.connection() as conn:
            return int(conn.execute(PROGRESS).fetchone()[0])

    def take_in(self, batch: FactBatch) -> int:
        with self._connections.connection() as conn, self._writer_lock.held():
            conn.execute("PRAGMA synchronous=NORMAL")  # derived tables: see the module docstring
            conn.execute("BEGIN IMMEDIATE")
            try:
                size = int(conn.execute(PROGRESS).fetchone()[0])
                if size != batch.start:
                    conn.execute("ROLLBACK")
                    return size
                known = [str(row[0]) for row in _select_in(conn, KNOWN_CLAIMS, batch.claim_ids)]
                rows = batch.rows(known)
                conn.executemany(INSERT_CLAIM, rows.claims)
                conn.executemany(INSERT_USE, rows.uses)
                conn.executemany(INSERT_AMOUNT, rows.amounts)
                conn.executemany(INSERT_REFERENCE, rows.references)
                conn.executemany(INSERT_REGISTRATION, rows.registrations)
                conn.execute(ADVANCE, (batch.end,))
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return batch.end

    def read(self, as_of: int, request: FactsRequest) -> FactsRead:
        uses: dict[str, list[tuple[str, str]]] = {}
        registrations: dict[tuple[str, str], tuple[str, str | None]] = {}
        amounts: dict[AmountGroup, list[tuple[str, str]]] = {}
        references: dict[ReferenceKey, list[tuple[str, int]]] = {}
        with self._connections.connection() as conn:
            for digest, claim_id, partner_id in _select_in(conn, USES, request.hashes, as_of):
                uses.setdefault(digest, []).append((claim_id, partner_id))
            for partner_id, digest, document_type, metadata in _select_in(conn, REGISTRATIONS, request.hashes, as_of):
                registrations[(partner_id, digest)] = (document_type, metadata)
            existing = frozenset(str(row[0]) for row in _select_in(conn, EXISTING, request.claim_ids, as_of))
            for group, newest in request.amount_groups.items():
                found = conn.execute(AMOUNTS, (*group, as_of, newest)).fetchall()
                amounts[group] = [(str(claim_id), str(amount)) for claim_id, amount in reversed(found)]
            bounds = (request.epoch_low, request.epoch_high, as_of)
            for partner_id, key, value, claim_id, epoch in _select_in(
                conn, REFERENCES, request.reference_values, *bounds
            ):
                references.setdefault((partner_id, key, value), []).append((claim_id, int(epoch)))
            listing: tuple[str, ...] = ()
            if request.listing is not None:
                partner_id, sha256 = request.listing
                listing = tuple(str(row[0]) for row in conn.execute(LISTING, (sha256, partner_id, as_of)))
        return FactsRead(as_of, uses, registrations, existing, amounts, references, listing)

    def close(self) -> None:
        self._connections.close()
        self._writer_lock.close()
