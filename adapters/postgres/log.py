"""The log on PostgreSQL (``ledger_log``): the one module that writes SQL for that table on this backend.

:class:`PostgresLogRecorder` writes (psycopg 3, pooled, safe with many writer processes);
:class:`PostgresLogReader` holds every read, over any connection: the recorder's pool, the tree
store's, an outbox transaction's. :data:`LEAVES_BY_POSITION` is the statement the tree store puts into
its single proof query; :data:`LOG_HEADS` (channel and head query) is what a
:class:`~adapters.postgres.notifications.PostgresHeadWatch` listens on and reads.

Durability and locking (see README.md beside this file): a batch is one transaction that first takes
``pg_advisory_xact_lock(LOG_LOCK)`` (every writer process serialises on it; readers never block), reads
the head inside the lock, inserts the rows with one ``INSERT ... SELECT FROM unnest(arrays)`` and
commits, in three round trips (pipeline mode); only then are the callers' futures completed. A batch of
:data:`COPY_MIN_ENTRIES` entries or more (a bulk load's) is written with a binary ``COPY`` instead, one
round trip more and about a fifth less of PostgreSQL's CPU per row (:data:`COPY_MIN_ENTRIES`).
``pg_notify('ledger_log', size)`` tells followers that the log grew.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg import postgres, sql
from psycopg.adapt import Dumper
from psycopg.pq import Format

from adapters.group_commit import Outcome
from adapters.log_recorder import SequencedRecorder, stored_row, system_clock
from adapters.postgres.connections import Fetch, Pool, open_pool, pooled, translate
from adapters.postgres.notifications import Channel
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.ports import Clock
from ledger_core.engine.sequencer import EMPTY_LOG, AggregateHead, LogHead, SequencedEntry, created_in


def log_table_exists(conninfo: str) -> bool:
    """Whether the database (on its search path) holds a ledger's log; driver errors translated."""
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SELECT to_regclass('ledger_log') IS NOT NULL").fetchone()
    except psycopg.Error as error:
        raise translate(error) from error
    return bool(row and row[0])


# Advisory lock key (arbitrary, fixed) of the log writer.
LOG_LOCK = 0x4C45444745520001

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_log (
    position BIGINT PRIMARY KEY,
    event_id UUID NOT NULL,
    originator_id UUID NOT NULL,
    originator_version INTEGER NOT NULL,
    topic TEXT NOT NULL,
    partner_id TEXT,
    recorded_at TEXT NOT NULL,
    entry BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    UNIQUE (originator_id, originator_version)
);
CREATE INDEX IF NOT EXISTS ledger_log_partner ON ledger_log (partner_id, position);
CREATE INDEX IF NOT EXISTS ledger_log_partner_topic ON ledger_log (partner_id, topic, position);
"""
HEAD = "SELECT position, leaf_hash, recorded_at FROM ledger_log ORDER BY position DESC LIMIT 1"
# One backward index probe per aggregate (a plan that cannot degrade into a sequential scan). Arrays of ids
# go in binary as text[] and are cast on the server: psycopg's text-format list dumper costs ~2.5 us per id,
# the binary one ~0.45.
AGGREGATE_HEADS = (
    "SELECT k.id::text, h.originator_version, h.position FROM unnest(%b::text[]::uuid[]) AS k(id)"
    " CROSS JOIN LATERAL (SELECT originator_version, position FROM ledger_log WHERE originator_id = k.id"
    " ORDER BY originator_version DESC LIMIT 1) AS h"
)
INDEX_ONLY_PLAN = "SET LOCAL enable_seqscan = off; SET LOCAL jit = off; SET LOCAL max_parallel_workers_per_gather = 0"
"""Set in the transaction of a bulk read by ids: one bitmap of the unique index, in the backend itself (no
parallel workers started per call), whatever the statistics say."""
ENTRIES_OF_AGGREGATES = (
    "SELECT position, originator_id::text, topic, entry FROM ledger_log WHERE originator_id = ANY(%b::text[]::uuid[])"
)
INSERT = (
    "INSERT INTO ledger_log (position, event_id, originator_id, originator_version, topic, partner_id,"
    " recorded_at, entry, leaf_hash)"
    " SELECT * FROM unnest(%b::int8[], %b::uuid[], %b::uuid[], %b::int4[], %b::text[], %b::text[],"
    " %b::text[], %b::bytea[], %b::bytea[])"
)
COPY = (
    "COPY ledger_log (position, event_id, originator_id, originator_version, topic, partner_id, recorded_at, entry,"
    " leaf_hash) FROM STDIN (FORMAT BINARY)"
)
COPY_TYPES = ("int8", "uuid", "uuid", "int4", "text", "text", "text", "bytea", "bytea")
COPY_MIN_ENTRIES = 256
"""Batches of at least this many entries are written with :data:`COPY` instead of :data:`INSERT`, one round trip
more: ``benchmarks/log_copy.py`` (batches of 2,000 new entries of ~1 KB) measured the PostgreSQL backend's CPU
per row 14.2 -> 11.3 us (-20 %) and the writer's wall time 31.5 -> 26.0 us (-17 %), the writer's own CPU -4 %."""
LOG_CHANNEL = "ledger_log"
NOTIFY = "SELECT pg_notify('ledger_log', %s)"
"""Sent in every batch's transaction: followers learn the new log size once it is committed."""
LOG_HEADS = Channel(LOG_CHANNEL, "SELECT COALESCE(MAX(position) + 1, 0) FROM ledger_log")
ROW_COLUMNS = "position, originator_id::text, originator_version, topic, partner_id, entry, leaf_hash"
_PARTNER_TYPE_ARM = sql.SQL(
    "(SELECT " + ROW_COLUMNS + " FROM ledger_log WHERE partner_id = {partner} AND topic = {topic}"
    " AND position >= {start} AND position < {stop} ORDER BY position {order} LIMIT {limit})"
)
_PARTNER_AGGREGATES = sql.SQL(
    "SELECT position, originator_id::text FROM ledger_log WHERE partner_id = {partner} AND topic = {topic}"
    " AND position >= {start} AND position < {stop} ORDER BY position LIMIT {limit}"
)
_PARTNER_TYPES = sql.SQL("SELECT * FROM ({arms}) AS arms ORDER BY position {order} LIMIT {limit}")


class PostgresLogReader:
    """Every read of ``ledger_log`` (:class:`~adapters.ports.LogRows`), run through ``fetch``; the bulk reads of
    entries through ``fetch_binary`` when given: results in binary format (no hex encoding of ``bytea`` on the
    server and decoding in the client, a third of the CPU of such a read on each side), planned with index
    scans only and no JIT (:data:`INDEX_ONLY_PLAN`); the reads of the log in order (:meth:`read_rows`) through
    ``fetch_rows`` when given: binary results too, one statement (no plan settings: a range of the primary key)."""

    def __init__(self, fetch: Fetch, fetch_binary: Fetch | None = None, fetch_rows: Fetch | None = None) -> None:
        self._fetch = fetch
        self._fetch_binary = fetch_binary or fetch
        self._fetch_rows = fetch_rows or fetch

    def log_size(self) -> int:
        rows = self._fetch("SELECT MAX(position) FROM ledger_log", ())
        return 0 if not rows or rows[0][0] is None else int(rows[0][0]) + 1

    def read_rows(self, start: int, limit: int) -> Sequence[StoredRow]:
        sql = f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE position >= %s ORDER BY position LIMIT %s"
        return [stored_row(row) for row in self._fetch_rows(sql, (start, limit))]

    def read_partner_rows(self, partner_id: str, start: int, limit: int) -> Sequence[StoredRow]:
        sql = (
            f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE partner_id = %s AND position >= %s ORDER BY position LIMIT %s"
        )
        return [stored_row(row) for row in self._fetch(sql, (partner_id, start, limit))]

    def read_aggregate_rows(self, aggregate_id: str) -> Sequence[StoredRow]:
        return self.aggregate_rows(aggregate_id, gt=None, lte=None, desc=False, limit=None)

    def aggregate_rows(
        self, aggregate_id: str, *, gt: int | None, lte: int | None, desc: bool, limit: int | None
    ) -> Sequence[StoredRow]:
        clauses = ["originator_id = %s::uuid"]
        params: list[object] = [aggregate_id]
        if gt is not None:
            clauses.append("originator_version > %s")
            params.append(gt)
        if lte is not None:
            clauses.append("originator_version <= %s")
            params.append(lte)
        sql = (
            f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE {' AND '.join(clauses)}"
            f" ORDER BY originator_version {'DESC' if desc else 'ASC'}"
        )
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return [stored_row(row) for row in self._fetch(sql, params)]

    def aggregate_rows_before(self, aggregate_id: str, position: int) -> Sequence[StoredRow]:
        sql = (
            f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE originator_id = %s::uuid"
            " AND position < %s ORDER BY originator_version"
        )
        return [stored_row(row) for row in self._fetch(sql, (aggregate_id, position))]

    def rows_of_types(self, start: int, stop: int, types: Sequence[str]) -> Sequence[StoredRow]:
        marks = ",".join(["%s"] * len(types))
        sql = (
            f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE position >= %s AND position < %s"
            f" AND topic IN ({marks}) ORDER BY position"
        )
        return [stored_row(row) for row in self._fetch(sql, (start, stop, *types))]

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        sql = "SELECT leaf_hash FROM ledger_log WHERE position >= %s AND position < %s ORDER BY position"
        return [bytes(row[0]) for row in self._fetch(sql, (start, stop))]

    def rows_of_aggregates(self, aggregate_ids: Sequence[str]) -> Sequence[StoredRow]:
        """With :data:`INDEX_ONLY_PLAN`, as :meth:`entries_of_aggregates` and :meth:`existing_aggregates`: on a
        table without statistics (a freshly loaded ledger) ``= ANY`` of a few hundred ids was planned as a
        parallel scan of the whole log per call (a 1M-claim import's results file never finished)."""
        if not aggregate_ids:
            return []
        sql = f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE originator_id = ANY(%b::text[]::uuid[]) ORDER BY position"
        return [stored_row(row) for row in self._fetch_binary(sql, (list(aggregate_ids),))]

    def entries_of_aggregates(self, aggregate_ids: Sequence[str]) -> Sequence[tuple[str, str, bytes]]:
        """Unordered on the server, put in position order here: an ``ORDER BY`` sorts the entries themselves
        (a few thousand spill to disk at the default ``work_mem``). Without statistics on the table (a fresh
        ledger, or autovacuum off) the planner takes ``= ANY`` of an array it cannot size for a large share of
        the table and scans all of it, in parallel, per call: hence :data:`INDEX_ONLY_PLAN`."""
        if not aggregate_ids:
            return []
        rows = self._fetch_binary(ENTRIES_OF_AGGREGATES, (list(aggregate_ids),))
        rows.sort(key=_position)
        return [(row[1], row[2], row[3]) for row in rows]

    def partner_aggregates_of_type(
        self, partner_id: str, event_type: str, *, start: int, stop: int, limit: int
    ) -> Sequence[tuple[int, str]]:
        """Literal values, as :meth:`partner_rows_of_types` (a generic plan may scan the primary key instead)."""
        query = _PARTNER_AGGREGATES.format(
            partner=sql.Literal(partner_id),
            topic=sql.Literal(event_type),
            start=sql.Literal(int(start)),
            stop=sql.Literal(int(stop)),
            limit=sql.Literal(int(limit)),
        )
        return [(row[0], row[1]) for row in self._fetch(query.as_string(), ())]

    def existing_aggregates(self, aggregate_ids: Sequence[str]) -> set[str]:
        sql = (
            "SELECT originator_id::text FROM ledger_log WHERE originator_version = 1"
            " AND originator_id = ANY(%b::text[]::uuid[])"
        )
        return {row[0] for row in self._fetch_binary(sql, (list(aggregate_ids),))} if aggregate_ids else set()

    def partner_rows_of_types(
        self, partner_id: str, types: Sequence[str], *, start: int, stop: int, limit: int, descending: bool = False
    ) -> Sequence[StoredRow]:
        """Per type, an ordered scan of its range of ``ledger_log_partner_topic`` (LIMIT each), the arms merged
        by a Merge Append under the outer LIMIT: the partner's other rows are never read.

        The values are composed into the text as literals (``psycopg.sql.Literal``), so every call is planned
        with them: a prepared statement's generic plan cannot see how many rows a range holds and may pick the
        primary key in position order, filtering the partner and type row by row (the whole range read for a
        type with few rows)."""
        distinct = tuple(dict.fromkeys(types))
        if not distinct:
            return []
        order = sql.SQL("DESC" if descending else "ASC")
        values = {"partner": sql.Literal(partner_id), "start": sql.Literal(int(start)), "stop": sql.Literal(int(stop))}
        values["limit"] = sql.Literal(int(limit))
        arms = [_PARTNER_TYPE_ARM.format(topic=sql.Literal(topic), order=order, **values) for topic in distinct]
        query = _PARTNER_TYPES.format(arms=sql.SQL(" UNION ALL ").join(arms), order=order, limit=values["limit"])
        return [stored_row(row) for row in self._fetch(query.as_string(), ())]


def _position(row: tuple[Any, ...]) -> int:
    return int(row[0])


class _UuidBytesDumper(Dumper):
    """A uuid in COPY's binary format: its 16 bytes, given as they are (:func:`_uuid_bytes`)."""

    format = Format.BINARY
    oid = postgres.types["uuid"].oid

    def dump(self, obj: Any) -> bytes:
        return bytes(obj)


def _uuid_bytes(text: str) -> bytes | None:
    """The 16 bytes of a uuid in its usual text form (8-4-4-4-12 hex digits), or None when ``text`` is not one
    (then the rows go by :data:`INSERT`, whose cast gives PostgreSQL's own verdict)."""
    if len(text) != 36 or text[8] != "-" or text[13] != "-" or text[18] != "-" or text[23] != "-":
        return None
    try:
        raw = bytes.fromhex(text.replace("-", ""))
    except ValueError:
        return None
    return raw if len(raw) == 16 else None


class PostgresLogRecorder(SequencedRecorder):
    """Ledger recorder on PostgreSQL. ``conninfo`` is a libpq URL (``postgresql://...``)."""

    def __init__(
        self,
        conninfo: str,
        *,
        clock: Clock = system_clock,
        max_batch_events: int = 4096,
        pool_size: int = 8,
        create_tables: bool = True,
    ) -> None:
        super().__init__(
            PostgresLogReader(self._fetch, self._fetch_binary, self._fetch_rows),
            clock=clock,
            max_batch_events=max_batch_events,
        )
        self.conninfo = conninfo
        # Reads only, one statement each: autocommit saves the COMMIT round trip.
        self.pool: Pool = open_pool(conninfo, name="ledger", size=pool_size, schema=SCHEMA if create_tables else None)
        self._writer_conn: psycopg.Connection[Any] | None = None  # used by the writer thread only
        self.copy_min_entries = COPY_MIN_ENTRIES
        """Batches of at least this many entries go by :data:`COPY` (``benchmarks/log_copy.py`` compares)."""

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        return pooled(self.pool)

    def _writer_connection(self) -> psycopg.Connection[Any]:
        if self._writer_conn is None or self._writer_conn.closed:
            self._writer_conn = psycopg.connect(self.conninfo)
        return self._writer_conn

    def _write_batch(self, saves: Sequence[Sequence[EventDraft]]) -> Sequence[Outcome]:
        """One transaction for the batch. The heads of the aggregates the batch creates are not read
        (:func:`~ledger_core.engine.sequencer.created_in`): if one existed after all, the unique (aggregate,
        version) index refuses the rows and the batch is written again with every head read."""
        conn = self._writer_connection()
        ids = sorted({draft.aggregate_id for save in saves for draft in save})
        created = created_in(saves)
        probed = [aggregate_id for aggregate_id in ids if aggregate_id not in created]
        if len(probed) < len(ids):
            try:
                return self._write(conn, saves, probed)
            except psycopg.errors.UniqueViolation:
                pass  # rolled back: an aggregate taken as new existed; the sequencer now sees its head
        try:
            return self._write(conn, saves, ids)
        except psycopg.errors.UniqueViolation as error:
            raise translate(error) from error

    def _write(
        self, conn: psycopg.Connection[Any], saves: Sequence[Sequence[EventDraft]], ids: list[str]
    ) -> Sequence[Outcome]:
        """Write the batch with the heads of ``ids`` read (a unique violation is raised as it is)."""
        try:
            with conn.transaction():
                # Round trip 1: lock, head and aggregate heads, pipelined.
                with conn.pipeline():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOG_LOCK,))
                    head_cursor = conn.execute(HEAD)
                    heads_cursor = conn.execute(AGGREGATE_HEADS, (ids,)) if ids else None
                head_row = head_cursor.fetchone()
                head = EMPTY_LOG if head_row is None else LogHead(head_row[0] + 1, bytes(head_row[1]), head_row[2])
                rows = [] if heads_cursor is None else heads_cursor.fetchall()
                heads = {row[0]: AggregateHead(row[1], row[2]) for row in rows}
                batch = self.sequence(head, saves, heads)
                # Round trip 2: the rows (one INSERT over arrays) and the notification, pipelined; a bulk batch's
                # rows by COPY, then the notification.
                copied = len(batch.entries) >= self.copy_min_entries and self._copy(conn, batch.entries)
                if copied:
                    conn.execute(NOTIFY, (str(batch.head.size),))
                elif batch.entries:
                    # Entries are named tuples in INSERT's column order: transposed, one array per column.
                    columns = [list(column) for column in zip(*batch.entries, strict=True)]
                    with conn.pipeline():
                        conn.execute(INSERT, columns)
                        conn.execute(NOTIFY, (str(batch.head.size),))
            # Round trip 3: COMMIT (on leaving the transaction block).
        except psycopg.errors.UniqueViolation:
            raise
        except psycopg.Error as error:
            if conn.broken:
                conn.close()
            raise translate(error) from error
        return batch.outcomes

    @staticmethod
    def _copy(conn: psycopg.Connection[Any], entries: Sequence[SequencedEntry]) -> bool:
        """Write ``entries`` with one binary :data:`COPY`; False (nothing sent) when an id is not a uuid's
        usual text."""
        rows = []
        for entry in entries:
            event_id, originator_id = _uuid_bytes(entry.event_id), _uuid_bytes(entry.aggregate_id)
            if event_id is None or originator_id is None:
                return False
            rows.append((entry.position, event_id, originator_id, *entry[3:]))
        with conn.cursor() as cursor:
            # By oid only (psycopg's documented way for COPY after set_types), on this cursor's adapters only.
            cursor.adapters.register_dumper(None, _UuidBytesDumper)
            with cursor.copy(COPY) as copy:
                copy.set_types(list(COPY_TYPES))
                for row in rows:
                    copy.write_row(row)
        return True

    def _fetch(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(sql.encode(), params).fetchall()

    def _fetch_rows(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(sql.encode(), params, binary=True).fetchall()

    def _fetch_binary(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._connection() as conn, conn.transaction():
            conn.execute(INDEX_ONLY_PLAN)
            return conn.execute(sql.encode(), params, binary=True).fetchall()

    def close(self) -> None:
        super().close()
        if self._writer_conn is not None:
            self._writer_conn.close()
        self.pool.close()
