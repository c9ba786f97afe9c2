"""The claim facts tables (``claim_facts_*``) in the ledger's PostgreSQL database: the one module that writes
SQL for them on this backend (implements :class:`adapters.table_claim_facts.FactTables`).

A catch-up batch is one transaction that first locks the progress row (``SELECT ... FOR UPDATE``): a second
process taking in the same entries waits, then finds the row moved and starts again from there, so no
entry is inserted twice. Commits use ``synchronous_commit = off`` (the tables are derived from the log and
the progress row commits with its facts: a crash only loses the last batches, taken in again on the next
question). Reads are single statements on an autocommit connection, every one limited to the entries
before the answer's ``as_of``, so they never wait for a catch-up.
"""

from __future__ import annotations

from typing import Any

import psycopg

from adapters.claim_facts_rows import AmountGroup, FactBatch, FactsRead, FactsRequest, ReferenceKey
from adapters.postgres.connections import Pool, open_pool, pooled

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
LOCK_PROGRESS = f"{PROGRESS} FOR UPDATE"
ADVANCE = "UPDATE claim_facts_progress SET size = %s WHERE id = 1"
INSERT_CLAIM = "INSERT INTO claim_facts_claims (claim_id, position) VALUES (%s, %s)"
INSERT_USE = "INSERT INTO claim_facts_uses (hash, position, ordinal, claim_id, partner_id) VALUES (%s, %s, %s, %s, %s)"
INSERT_AMOUNT = (
    "INSERT INTO claim_facts_amounts (partner_id, claim_type, currency, position, claim_id, amount)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
INSERT_REFERENCE = (
    "INSERT INTO claim_facts_references (partner_id, ref_key, ref_value, epoch, position, claim_id)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
INSERT_REGISTRATION = (
    "INSERT INTO claim_facts_registrations (partner_id, hash, position, document_type, metadata)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
KNOWN_CLAIMS = "SELECT claim_id FROM claim_facts_claims WHERE claim_id = ANY(%s)"
EXISTING = "SELECT claim_id FROM claim_facts_claims WHERE claim_id = ANY(%s) AND position < %s"
USES = (
    "SELECT hash, claim_id, partner_id FROM claim_facts_uses WHERE hash = ANY(%s) AND position < %s"
    " ORDER BY position, ordinal"
)
REGISTRATIONS = (
    "SELECT partner_id, hash, document_type, metadata FROM claim_facts_registrations"
    " WHERE hash = ANY(%s) AND position < %s"
)
AMOUNTS = (
    "SELECT claim_id, amount FROM claim_facts_amounts WHERE partner_id = %s AND claim_type = %s AND currency = %s"
    " AND position < %s ORDER BY position DESC LIMIT %s"
)
REFERENCES = (
    "SELECT partner_id, ref_key, ref_value, claim_id, epoch FROM claim_facts_references"
    " WHERE ref_value = ANY(%s) AND epoch >= %s AND epoch <= %s AND position < %s ORDER BY position"
)
LISTING = (
    "SELECT claim_id FROM claim_facts_uses WHERE hash = %s AND partner_id = %s AND position < %s"
    " ORDER BY position, ordinal"
)


class PostgresFactTables:
    """The ``claim_facts_*`` tables of the PostgreSQL database ``conninfo`` names (created if missing)."""

    def __init__(self, conninfo: str, *, pool_size: int = 2) -> None:
        self.pool: Pool = open_pool(conninfo, name="ledger-claim-facts", size=pool_size, schema=SCHEMA)

    def progress(self) -> int:
        with pooled(self.pool) as conn:
            row = conn.execute(PROGRESS).fetchone()
        return 0 if row is None else int(row[0])

    def take_in(self, batch: FactBatch) -> int:
        with pooled(self.pool) as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")  # derived tables: see the module docstring
            row = cursor.execute(LOCK_PROGRESS).fetchone()
            size = 0 if row is None else int(row[0])
            if size != batch.start:
                return size
            claim_ids = batch.claim_ids
            known = [str(found[0]) for found in cursor.execute(KNOWN_CLAIMS, (claim_ids,))] if claim_ids else []
            rows = batch.rows(known)
            _insert(cursor, INSERT_CLAIM, rows.claims)
            _insert(cursor, INSERT_USE, rows.uses)
            _insert(cursor, INSERT_AMOUNT, rows.amounts)
            _insert(cursor, INSERT_REFERENCE, rows.references)
            _insert(cursor, INSERT_REGISTRATION, rows.registrations)
            cursor.execute(ADVANCE, (batch.end,))
        return batch.end

    def read(self, as_of: int, request: FactsRequest) -> FactsRead:
        uses: dict[str, list[tuple[str, str]]] = {}
        registrations: dict[tuple[str, str], tuple[str, str | None]] = {}
        amounts: dict[AmountGroup, list[tuple[str, str]]] = {}
        references: dict[ReferenceKey, list[tuple[str, int]]] = {}
        hashes = list(request.hashes)
        with pooled(self.pool) as conn:
            if hashes:
                for digest, claim_id, partner_id in conn.execute(USES, (hashes, as_of)).fetchall():
                    uses.setdefault(digest, []).append((claim_id, partner_id))
                for partner_id, digest, document_type, metadata in conn.execute(REGISTRATIONS, (hashes, as_of)):
                    registrations[(partner_id, digest)] = (document_type, metadata)
            found = conn.execute(EXISTING, (list(request.claim_ids), as_of)).fetchall()
            existing = frozenset(str(row[0]) for row in found)
            for group, newest in request.amount_groups.items():
                newest_first = conn.execute(AMOUNTS, (*group, as_of, newest)).fetchall()
                amounts[group] = [(str(claim_id), str(amount)) for claim_id, amount in reversed(newest_first)]
            if request.reference_values:
                bounds = (list(request.reference_values), request.epoch_low, request.epoch_high, as_of)
                for partner_id, key, value, claim_id, epoch in conn.execute(REFERENCES, bounds):
                    references.setdefault((partner_id, key, value), []).append((claim_id, int(epoch)))
        return FactsRead(as_of, uses, registrations, existing, amounts, references)

    def claims_listing(self, partner_id: str, sha256: str, as_of: int) -> list[str]:
        with pooled(self.pool) as conn:
            return [str(row[0]) for row in conn.execute(LISTING, (sha256, partner_id, as_of)).fetchall()]

    def close(self) -> None:
        self.pool.close()


def _insert(cursor: psycopg.Cursor[Any], statement: str, rows: list[Any]) -> None:
    if rows:
        cursor.executemany(statement, rows)
