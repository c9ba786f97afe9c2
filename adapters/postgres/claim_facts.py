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
INSERT_CLAIM = "INSERT INTO claim_facts_claims (claim_id, position) SELECT * FROM unnest(%b::text[], %b::int8[])"
INSERT_USE = (
    "INSERT INTO claim_facts_uses (hash, position, ordinal, claim_id, partner_id)"
    " SELECT * FROM unnest(%b::text[], %b::int8[], %b::int4[], %b::text[], %b::text[])"
)
INSERT_AMOUNT = (
    "INSERT INTO claim_facts_amounts (partner_id, claim_type, currency, position, claim_id, amount)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::int8[], %b::text[], %b::text[])"
)
INSERT_REFERENCE = (
    "INSERT INTO claim_facts_references (partner_id, ref_key, ref_value, epoch, position, claim_id)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::int8[], %b::int8[], %b::text[])"
)
INSERT_REGISTRATION = (
    "INSERT INTO claim_facts_registrations (partner_id, hash, position, document_type, metadata)"
    " SELECT * FROM unnest(%b::text[], %b::text[], %b::int8[], %b::text[], %b::text[]) ON CONFLICT DO NOTHING"
)
"""One statement per table and batch, its rows as columns: arrays in psycopg's binary format (a text-format
list costs several microseconds per element to dump in the client, a binary one well under one). ``unnest``
yields the rows in array order, so of two registrations of the same (hash, partner) in one batch the first
(in log order) is kept, as row-by-row inserts kept it."""
KNOWN_CLAIMS = "SELECT claim_id FROM claim_facts_claims WHERE claim_id = ANY(%b::text[])"
READ = """
SELECT 1 AS kind, position, ordinal, hash, claim_id::text, partner_id::text, NULL::text, NULL::bigint
  FROM claim_facts_uses WHERE hash = ANY(%(hashes)b::text[]) AND position < %(as_of)s
UNION ALL
SELECT 2, position, 0, hash, partner_id, document_type, metadata, NULL
  FROM claim_facts_registrations WHERE hash = ANY(%(hashes)b::text[]) AND position < %(as_of)s
UNION ALL
SELECT 3, position, 0, claim_id, NULL, NULL, NULL, NULL
  FROM claim_facts_claims WHERE claim_id = ANY(%(claim_ids)b::text[]) AND position < %(as_of)s
UNION ALL
SELECT 4, newest.position, series.ordinal::integer, newest.claim_id, newest.amount, NULL, NULL, NULL
  FROM unnest(%(partners)b::text[], %(types)b::text[], %(currencies)b::text[], %(counts)b::int4[])
       WITH ORDINALITY AS series (partner_id, claim_type, currency, count, ordinal)
  CROSS JOIN LATERAL (
      SELECT position, claim_id, amount FROM claim_facts_amounts AS amounts
       WHERE amounts.partner_id = series.partner_id AND amounts.claim_type = series.claim_type
         AND amounts.currency = series.currency AND amounts.position < %(as_of)s
       ORDER BY amounts.position DESC LIMIT series.count) AS newest
UNION ALL
SELECT 5, position, 0, partner_id, ref_key, ref_value, claim_id, epoch
  FROM claim_facts_references
 WHERE ref_value = ANY(%(values)b::text[]) AND epoch >= %(low)s AND epoch <= %(high)s AND position < %(as_of)s
UNION ALL
SELECT 6, position, ordinal, claim_id, NULL, NULL, NULL, NULL
  FROM claim_facts_uses WHERE hash = %(listed)s AND partner_id = %(lister)s AND position < %(as_of)s
ORDER BY 1, 2, 3
"""
"""Everything a :class:`FactsRequest` names in ONE statement (one round trip, one plan), rows by kind in log
order: 1 uses, 2 registrations, 3 claims that exist, 4 the newest amounts of each series (its ordinal in
the request), 5 references, 6 the listing."""
USES, REGISTRATION, EXISTS, AMOUNT, REFERENCE, LISTED = range(1, 7)


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
        groups = list(request.amount_groups.items())
        listed, lister = (None, None) if request.listing is None else (request.listing[1], request.listing[0])
        parameters = {
            "as_of": as_of,
            "hashes": list(request.hashes),
            "claim_ids": list(request.claim_ids),
            "partners": [group[0] for group, _ in groups],
            "types": [group[1] for group, _ in groups],
            "currencies": [group[2] for group, _ in groups],
            "counts": [count for _, count in groups],
            "values": list(request.reference_values),
            "low": request.epoch_low,
            "high": request.epoch_high,
            "listed": listed,
            "lister": lister,
        }
        with pooled(self.pool) as conn:
            rows = conn.execute(READ, parameters).fetchall()
        return _read_of(as_of, rows, [group for group, _ in groups])

    def close(self) -> None:
        self.pool.close()


def _read_of(as_of: int, rows: list[tuple[Any, ...]], groups: list[AmountGroup]) -> FactsRead:
    """The :class:`FactsRead` of :data:`READ`'s rows (``groups``: the amount series in request order)."""
    uses: dict[str, list[tuple[str, str]]] = {}
    registrations: dict[tuple[str, str], tuple[str, str | None]] = {}
    existing: set[str] = set()
    amounts: dict[AmountGroup, list[tuple[str, str]]] = {group: [] for group in groups}
    references: dict[ReferenceKey, list[tuple[str, int]]] = {}
    listing: list[str] = []
    for kind, _, ordinal, first, second, third, fourth, epoch in rows:
        if kind == USES:
            uses.setdefault(first, []).append((second, third))
        elif kind == REGISTRATION:
            registrations[(second, first)] = (third, fourth)
        elif kind == EXISTS:
            existing.add(first)
        elif kind == AMOUNT:
            amounts[groups[ordinal - 1]].append((first, second))
        elif kind == REFERENCE:
            references.setdefault((first, second, third), []).append((fourth, int(epoch)))
        else:
            listing.append(first)
    return FactsRead(as_of, uses, registrations, frozenset(existing), amounts, references, tuple(listing))


def _insert(cursor: psycopg.Cursor[Any], statement: str, rows: list[Any]) -> None:
    """``rows`` (tuples in the statement's column order) in ONE statement, one array per column."""
    if rows:
        cursor.execute(statement, [list(column) for column in zip(*rows, strict=True)])
