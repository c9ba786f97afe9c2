"""The log on SQLite (``ledger_log``): the one module that writes SQL for that table on this backend.

:class:`SQLiteLogRecorder` writes (one file, WAL, ``synchronous=FULL``, one writer thread per process);
:class:`SQLiteLogReader` holds every read, over any connection: the recorder's, the tree store's, an
outbox transaction's (which then reads in its own snapshot). :func:`leaves_select` is the statement
the tree store puts into its single proof query.

Durability and locking (see README.md beside this file): a batch is written inside ``BEGIN IMMEDIATE``
(SQLite's write lock, which also serialises other processes), the head is read inside that lock, and
the futures of the batch complete only after ``COMMIT`` returned with an fsync of the WAL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

from adapters.group_commit import Outcome
from adapters.log_recorder import SequencedRecorder, stored_row, system_clock
from adapters.sqlite.connections import Fetch, ThreadConnections, WriterLock
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.ports import Clock
from ledger_core.engine.sequencer import (
    EMPTY_LOG,
    AggregateHead,
    LogHead,
    SequencedBatch,
    SequencedEntry,
    created_in,
)

WRITER_CACHE_MIB = 32
"""The log writer's page cache. A batch of new aggregates inserts into random pages of the (aggregate,
version) index (ids are UUIDs): at SQLite's default 2 MiB, a batch of a few thousand entries no longer fits
and SQLite spills dirty pages to the WAL in the middle of the transaction and reads them back. 32 MiB holds
a whole group-commit batch (up to 4,096 events); only the pages a batch touches are held (a commit by
the sealer's connection empties the cache), measured +8.5 MiB of peak RSS over a 1M-row bulk load."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_log (
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    originator_id TEXT NOT NULL,
    originator_version INTEGER NOT NULL,
    topic TEXT NOT NULL,
    partner_id TEXT,
    recorded_at TEXT NOT NULL,
    entry BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    UNIQUE (originator_id, originator_version)
);
CREATE INDEX IF NOT EXISTS ledger_log_partner ON ledger_log (partner_id, position);
CREATE INDEX IF NOT EXISTS ledger_log_partner_topic ON ledger_log (partner_id, topic, position);
"""
INSERT_PREFIX = (
    "INSERT INTO ledger_log (position, event_id, originator_id, originator_version, topic, partner_id,"
    " recorded_at, entry, leaf_hash) VALUES "
)
# Rows: (NULL, position, leaf_hash, recorded_at) for the head, (id, version, position, NULL) per aggregate.
# Each part is an indexed probe (``ORDER BY ... DESC LIMIT 1``): O(log n) however long the history.
LOG_HEAD = (
    "SELECT * FROM (SELECT NULL, position, leaf_hash, recorded_at FROM ledger_log ORDER BY position DESC LIMIT 1)"
)
AGGREGATE_HEAD = (
    "SELECT * FROM (SELECT originator_id, originator_version, position, NULL FROM ledger_log"
    " WHERE originator_id = ? ORDER BY originator_version DESC LIMIT 1)"
)
ROW_COLUMNS = "position, originator_id, originator_version, topic, partner_id, entry, leaf_hash"
# Parts per compound SELECT stay under SQLite's default limit of 500.
_IN_CHUNK = 400
_ENTRIES_CHUNK = 10_000
_INSERT_CHUNK = 1000
_HEAD_CACHE_SIZE = 65_536


@lru_cache(maxsize=64)
def _insert_sql(rows: int) -> str:
    """The multi-row INSERT of ``rows`` entries (the same text each time, so sqlite3's statement cache hits)."""
    return INSERT_PREFIX + ",".join(["(?,?,?,?,?,?,?,?,?)"] * rows)


class HeadCache:
    """Aggregate heads this writer has seen, valid while the log still ends where this writer left it.

    Reading an aggregate's head is an index probe per aggregate per batch (~4 us each); with one event
    per caller and many callers that is most of a batch's reads. The log is append-only and every
    writer, in any process, appends under the write lock, so if the log head read under that lock is
    the head this writer committed last, nobody has written since and the remembered heads are the
    stored ones. Anything else (another writer, a failed transaction) empties the cache.
    """

    def __init__(self, max_size: int = _HEAD_CACHE_SIZE) -> None:
        self._max_size = max_size
        self._heads: dict[str, AggregateHead] = {}
        self._valid_for: LogHead | None = None

    def lookup(self, ids: set[str]) -> dict[str, AggregateHead]:
        """The remembered heads among ``ids`` (check :meth:`holds_for` before trusting them)."""
        if self._valid_for is None:
            return {}
        heads = self._heads
        return {aggregate_id: heads[aggregate_id] for aggregate_id in ids if aggregate_id in heads}

    def holds_for(self, head: LogHead) -> bool:
        """True if ``head`` (read under the write lock) is the head this writer committed last."""
        return head == self._valid_for

    def remember(self, heads: dict[str, AggregateHead], batch: SequencedBatch) -> None:
        """After a commit: the heads read for it, updated by what it wrote; valid at the new log head."""
        if len(self._heads) + len(heads) > self._max_size:
            self._heads.clear()
        self._heads.update(heads)
        for entry in batch.entries:
            self._heads[entry.aggregate_id] = AggregateHead(entry.aggregate_version, entry.position)
        self._valid_for = batch.head

    def clear(self) -> None:
        self._heads.clear()
        self._valid_for = None


class SQLiteLogReader:
    """Every read of ``ledger_log`` (:class:`~adapters.ports.LogRows`), run through ``fetch``."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch

    def log_size(self) -> int:
        rows = self._fetch("SELECT MAX(position) FROM ledger_log", ())
        return 0 if not rows or rows[0][0] is None else int(rows[0][0]) + 1

    def read_rows(self, start: int, limit: int) -> Sequence[StoredRow]:
        sql = f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE position >= ? ORDER BY position LIMIT ?"
        return [stored_row(row) for row in self._fetch(sql, (start, limit))]

    def read_partner_rows(self, partner_id: str, start: int, limit: int) -> Sequence[StoredRow]:
        sql = f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE partner_id = ? AND position >= ? ORDER BY position LIMIT ?"
        return [stored_row(row) for row in self._fetch(sql, (partner_id, start, limit))]

    def read_aggregate_rows(self, aggregate_id: str) -> Sequence[StoredRow]:
        return self.aggregate_rows(aggregate_id, gt=None, lte=None, desc=False, limit=None)

    def aggregate_rows(
        self, aggregate_id: str, *, gt: int | None, lte: int | None, desc: bool, limit: int | None
    ) -> Sequence[StoredRow]:
        clauses = ["originator_id = ?"]
        params: list[object] = [aggregate_id]
        if gt is not None:
            clauses.append("originator_version > ?")
            params.append(gt)
        if lte is not None:
            clauses.append("originator_version <= ?")
            params.append(lte)
        sql = (
            f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE {' AND '.join(clauses)}"
            f" ORDER BY originator_version {'DESC' if desc else 'ASC'}"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [stored_row(row) for row in self._fetch(sql, params)]

    def aggregate_rows_before(self, aggregate_id: str, position: int) -> Sequence[StoredRow]:
        sql = (
            f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE originator_id = ? AND position < ? ORDER BY originator_version"
        )
        return [stored_row(row) for row in self._fetch(sql, (aggregate_id, position))]

    def rows_of_types(self, start: int, stop: int, types: Sequence[str]) -> Sequence[StoredRow]:
        marks = ",".join("?" * len(types))
        sql = (
            f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE position >= ? AND position < ?"
            f" AND topic IN ({marks}) ORDER BY position"
        )
        return [stored_row(row) for row in self._fetch(sql, (start, stop, *types))]

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        sql = "SELECT leaf_hash FROM ledger_log WHERE position >= ? AND position < ? ORDER BY position"
        return [bytes(row[0]) for row in self._fetch(sql, (start, stop))]

    def rows_of_aggregates(self, aggregate_ids: Sequence[str]) -> Sequence[StoredRow]:
        rows: list[StoredRow] = []
        for start in range(0, len(aggregate_ids), _IN_CHUNK):
            chunk = aggregate_ids[start : start + _IN_CHUNK]
            sql = (
                f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE originator_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY position"
            )
            rows.extend(stored_row(row) for row in self._fetch(sql, chunk))
        return rows

    def entries_of_aggregates(self, aggregate_ids: Sequence[str]) -> Sequence[tuple[str, str, bytes]]:
        """Walks the ``(originator_id, originator_version)`` index in its order (no sort), up to
        :data:`_ENTRIES_CHUNK` ids per statement (SQLite's limit on parameters is 32,766)."""
        found: list[tuple[str, str, bytes]] = []
        for start in range(0, len(aggregate_ids), _ENTRIES_CHUNK):
            chunk = aggregate_ids[start : start + _ENTRIES_CHUNK]
            found.extend(self._fetch(_entries_sql(len(chunk)), chunk))
        return found

    def partner_aggregates_of_type(
        self, partner_id: str, event_type: str, *, start: int, stop: int, limit: int
    ) -> Sequence[tuple[int, str]]:
        sql = (
            "SELECT position, originator_id FROM ledger_log WHERE partner_id = ? AND topic = ?"
            " AND position >= ? AND position < ? ORDER BY position LIMIT ?"
        )
        return [(row[0], row[1]) for row in self._fetch(sql, (partner_id, event_type, start, stop, limit))]

    def existing_aggregates(self, aggregate_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(aggregate_ids), _IN_CHUNK):
            chunk = aggregate_ids[start : start + _IN_CHUNK]
            sql = (
                "SELECT originator_id FROM ledger_log WHERE originator_version = 1"
                f" AND originator_id IN ({','.join('?' * len(chunk))})"
            )
            found.update(row[0] for row in self._fetch(sql, chunk))
        return found

    def partner_rows_of_types(
        self, partner_id: str, types: Sequence[str], *, start: int, stop: int, limit: int, descending: bool = False
    ) -> Sequence[StoredRow]:
        """One ordered range of ``ledger_log_partner_topic`` per type, merged by SQLite (a compound SELECT's
        ORDER BY is a merge of its arms, https://sqlite.org/optoverview.html): the partner's other rows are
        never read, and the LIMIT stops the merge."""
        distinct = tuple(dict.fromkeys(types))
        if not distinct:
            return []
        sql = _partner_types_sql(len(distinct), descending)
        params: list[object] = []
        for topic in distinct:
            params += (partner_id, topic, start, stop)
        params.append(limit)
        return [stored_row(row) for row in self._fetch(sql, params)]


@lru_cache(maxsize=8)
def _entries_sql(ids: int) -> str:
    return (
        f"SELECT originator_id, topic, entry FROM ledger_log WHERE originator_id IN ({','.join('?' * ids)})"
        " ORDER BY originator_id, originator_version"
    )


@lru_cache(maxsize=32)
def _partner_types_sql(types: int, descending: bool) -> str:
    arm = f"SELECT {ROW_COLUMNS} FROM ledger_log WHERE partner_id = ? AND topic = ? AND position >= ? AND position < ?"
    return " UNION ALL ".join([arm] * types) + f" ORDER BY position {'DESC' if descending else 'ASC'} LIMIT ?"


class _TakenAsNew(Exception):
    """An aggregate a batch creates existed: its rows were refused, the batch is written again."""


class SQLiteLogRecorder(SequencedRecorder):
    """Ledger recorder on a SQLite file (created with its parent directory if missing)."""

    def __init__(self, path: str | Path, *, clock: Clock = system_clock, max_batch_events: int = 4096) -> None:
        super().__init__(SQLiteLogReader(self._fetch), clock=clock, max_batch_events=max_batch_events)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = ThreadConnections(self.path)
        self._writer_lock = WriterLock(self.path)
        self._head_cache = HeadCache()  # used by the writer thread only
        with self._connection() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    def _connection(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._connections.connection()

    def _write_batch(self, saves: Sequence[Sequence[EventDraft]]) -> Sequence[Outcome]:
        """One transaction for the batch. The heads of the aggregates the batch creates are not read
        (:func:`~ledger_core.engine.sequencer.created_in`): if one existed after all, the unique (aggregate,
        version) index refuses the rows and the batch is written again with every head read."""
        try:
            return self._write(saves, created_in(saves))
        except _TakenAsNew:
            return self._write(saves, set())

    def _write(self, saves: Sequence[Sequence[EventDraft]], created: set[str]) -> Sequence[Outcome]:
        """Write the batch reading the heads of its aggregates but ``created`` (raises :class:`_TakenAsNew`
        when one of those existed)."""
        ids = {draft.aggregate_id for save in saves for draft in save}
        cache = self._head_cache
        with self._connections.connection(cache_mib=WRITER_CACHE_MIB) as conn, self._writer_lock.held():
            conn.execute("BEGIN IMMEDIATE")
            try:
                known = cache.lookup(ids)
                head, heads = self._heads(conn, sorted(ids.difference(known, created)))
                if cache.holds_for(head):
                    heads.update(known)
                else:  # first batch, or another writer appended since: forget, and ask the database
                    cache.clear()
                    if known:
                        heads.update(self._heads(conn, sorted(known))[1])
                batch = self.sequence(head, saves, heads)
                self._insert(conn, batch.entries)
                conn.execute("COMMIT")
            except sqlite3.IntegrityError as error:
                cache.clear()
                conn.execute("ROLLBACK")
                if created:
                    raise _TakenAsNew from error
                raise
            except BaseException:
                cache.clear()
                conn.execute("ROLLBACK")
                raise
        cache.remember(heads, batch)
        return batch.outcomes

    @staticmethod
    def _heads(conn: sqlite3.Connection, ids: list[str]) -> tuple[LogHead, dict[str, AggregateHead]]:
        """The log head and the heads of ``ids``, in as few statements as possible (one for most batches)."""
        head = EMPTY_LOG
        heads: dict[str, AggregateHead] = {}
        for start in range(0, max(len(ids), 1), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            parts = [AGGREGATE_HEAD] * len(chunk)
            if start == 0:
                parts.insert(0, LOG_HEAD)
            sql = " UNION ALL ".join(parts)
            for key, first, second, third in conn.execute(sql, chunk):
                if key is None:
                    head = LogHead(first + 1, second, third)
                else:
                    heads[key] = AggregateHead(first, second)
        return head, heads

    @staticmethod
    def _insert(conn: sqlite3.Connection, entries: Sequence[SequencedEntry]) -> None:
        """Insert with multi-row VALUES: one statement step per chunk instead of one per row."""
        for start in range(0, len(entries), _INSERT_CHUNK):
            chunk = entries[start : start + _INSERT_CHUNK]
            # A SequencedEntry is a named tuple in INSERT_PREFIX's column order: its fields are the parameters.
            conn.execute(_insert_sql(len(chunk)), list(chain.from_iterable(chunk)))

    def _fetch(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(sql, params).fetchall()

    def close(self) -> None:
        super().close()
        self._writer_lock.close()
        self._connections.close()
