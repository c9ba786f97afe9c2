"""The :class:`~ledger_core.claims.facts.ClaimFacts` port backed by tables in the ledger's own database.

Unlike :class:`adapters.memory.claim_facts.LogDerivedClaimFacts` (an index in every process), the facts live
in ``claim_facts_*`` tables beside the log, shared by every process of the deployment (API workers, CLI,
feeds worker, batch import): a process holds none of them, and a new one reads no log on its first
verification when another has caught the tables up.

Catch-up (before every answer): read the log rows after the progress row through the
:class:`~ledger_core.engine.ports.LogReader` port (only ``claim.submitted`` / ``document.registered``
decoded), then in ONE transaction: lock the progress row (PostgreSQL ``FOR UPDATE``; SQLite: the writer
lock and ``BEGIN IMMEDIATE``), check it still names the size the rows were read from (another process may
have taken them in meanwhile: then start again from its size), insert the facts and advance the progress
row. A process killed mid-catch-up leaves the tables as they were, and two processes never insert the
same entry twice. The answer's ``as_of`` is the progress size reached and every read is limited to the
entries before it, so it is exactly "the facts of the entries before ``as_of``": the answer
:class:`~ledger_core.claims.facts.ClaimFactsIndex` gives for the same log prefix (the contract tests).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from adapters.claim_facts_rows import FactBatch, FactsRead, FactsRequest, answer, decode_batch, request_of
from ledger_core.claims.facts import BulkFacts, ClaimFactsSnapshot, FactsQuery
from ledger_core.engine.ports import LogReader

CATCH_UP_CHUNK = 5_000


class FactTables(Protocol):
    """The ``claim_facts_*`` tables of one backend (:mod:`adapters.sqlite.claim_facts`, ``postgres``)."""

    def progress(self) -> int:
        """The progress row: every log entry below it is in the tables."""
        ...

    def take_in(self, batch: FactBatch) -> int:
        """In one transaction: if the progress row still says ``batch.start``, insert the batch's facts (claims
        already in the tables left out) and set it to ``batch.end``. Return the progress row's size after."""
        ...

    def read(self, as_of: int, request: FactsRequest) -> FactsRead:
        """The rows ``request`` names, from the entries before ``as_of``."""
        ...

    def claims_listing(self, partner_id: str, sha256: str, as_of: int) -> list[str]:
        """Ids of the partner's claims (entries before ``as_of``) listing ``sha256``, in log order."""
        ...

    def close(self) -> None: ...


class TableClaimFacts:
    """Claim facts in the database, caught up from ``reader`` before every question (thread-safe)."""

    def __init__(self, reader: LogReader, tables: FactTables, chunk: int = CATCH_UP_CHUNK) -> None:
        self._reader = reader
        self._tables = tables
        self._chunk = chunk
        self._lock = threading.Lock()
        """One catch-up at a time in this process (other processes are kept out by the progress row)."""
        self._seen = tables.progress()
        """The progress row as this process last saw it (every entry below it is in the tables)."""

    def catch_up(self) -> int:
        """Take in every entry committed since the progress row; return the progress size reached.

        Starts from the progress this process last saw (the row only grows, and :meth:`FactTables.take_in`
        refuses a batch that does not start at the row's size, answering the size to start from)."""
        with self._lock:
            size = self._seen
            while rows := self._reader.read_rows(size, self._chunk):
                batch = decode_batch(size, rows)
                reached = self._tables.take_in(batch)
                size = self._seen = reached
                if reached == batch.end and len(rows) < self._chunk:
                    break
            return size

    def snapshot(self, query: FactsQuery) -> ClaimFactsSnapshot:
        return self.bulk_snapshot([query]).snapshots[0]

    def bulk_snapshot(self, queries: Sequence[FactsQuery]) -> BulkFacts:
        as_of = self.catch_up()
        read = self._tables.read(as_of, request_of(queries))
        return BulkFacts(
            as_of=as_of,
            snapshots=tuple(answer(read, query) for query in queries),
            existing=frozenset(query.claim_id for query in queries if query.claim_id in read.existing),
        )

    def claims_listing(self, partner_id: str, sha256: str) -> Sequence[str]:
        return self._tables.claims_listing(partner_id, sha256, self.catch_up())

    def close(self) -> None:
        self._tables.close()
