"""The :class:`~ledger_core.claims.facts.ClaimFacts` port backed by tables in the ledger's own database.

Unlike :class:`adapters.memory.claim_facts.LogDerivedClaimFacts` (an index in every process), the facts live
in ``claim_facts_*`` tables beside the log, shared by every process of the deployment (API workers, CLI,
feeds worker, batch import): a process holds none of them, and a new one reads no log on its first
verification when another has caught the tables up.

A question writes nothing. Before each answer the process reads the log rows after its :class:`FactTail`
through the :class:`~ledger_core.engine.ports.LogReader` port (only ``claim.submitted`` /
``document.registered`` decoded: what the in-process index reads too) and answers from the tables *as of the
tail's start* plus the tail, so the answer's ``as_of`` is the log size reached and it is exactly "the facts
of the entries before ``as_of``": the answer :class:`~ledger_core.claims.facts.ClaimFactsIndex` gives for
the same log prefix (the contract tests).

Once the tail spans :data:`FLUSH_ENTRIES` entries it is written in ONE transaction: lock the progress row
(PostgreSQL ``FOR UPDATE``; SQLite: the writer lock and ``BEGIN IMMEDIATE``), check it still names the tail's
start (another process may have written the same entries meanwhile: then the tail is dropped and the next
read starts at the row), insert the facts and advance the row. A process killed mid-write leaves the tables
as they were, two processes never insert the same entry twice, and a process holds at most about
:data:`FLUSH_ENTRIES` entries' facts (plus a read chunk when it starts far behind the row).

With ``flush_in_background`` the write runs on a thread of its own while questions go on: the tail being
written stays in memory until its transaction ends, questions read the tables as of *its* start and add it
and the new tail after it, and a process holds up to about three times :data:`FLUSH_ENTRIES` entries' facts
(beyond that a question waits for the write and writes the rest itself). A write that fails is raised by the
next question (or :meth:`catch_up`, :meth:`close`), and the tail starts again at the flushed tail's start: the
facts are re-read from the log.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol

from adapters.claim_facts_rows import NOTHING, FactBatch, FactsRead, FactsRequest, answer, decode_batch, request_of
from adapters.claim_facts_tail import FactTail
from ledger_core.claims.facts import BulkFacts, ClaimFactsSnapshot, FactsQuery
from ledger_core.engine.ports import LogReader

CATCH_UP_CHUNK = 5_000
FLUSH_ENTRIES = 1_024
"""A tail spanning this many log entries is written to the tables (a question writes nothing before)."""


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
        """The rows ``request`` names (its ``listing`` included), from the entries before ``as_of``."""
        ...

    def close(self) -> None: ...


class TableClaimFacts:
    """Claim facts in the database, answered from the tables plus this process's :class:`FactTail`
    (thread-safe)."""

    def __init__(
        self,
        reader: LogReader,
        tables: FactTables,
        chunk: int = CATCH_UP_CHUNK,
        flush_entries: int = FLUSH_ENTRIES,
        *,
        flush_in_background: bool = False,
    ) -> None:
        self._reader = reader
        self._tables = tables
        self._chunk = chunk
        self._flush_entries = flush_entries
        self._lock = threading.Lock()
        """One question at a time in this process (other processes are kept out by the progress row)."""
        self._tail = FactTail(tables.progress())
        """The facts after the progress row as this process last saw it (every entry below is in the tables,
        or in :attr:`_flushing`'s tail)."""
        self._flusher = ThreadPoolExecutor(1, thread_name_prefix="ledger-facts-flush") if flush_in_background else None
        self._flushing: tuple[FactTail, Future[int]] | None = None
        """The tail being written by :attr:`_flusher` (it ends where :attr:`_tail` starts) and its write."""
        self._hold_entries = 2 * flush_entries if flush_in_background else flush_entries
        """A read spanning this many entries past the tables' content is written in the asking thread."""

    def catch_up(self) -> int:
        """Write every entry committed so far into the tables (the tail included); return the progress
        size reached."""
        with self._lock:
            self._settle(wait=True)
            while True:
                pending = self._read_new()
                end = pending[-1].end if pending else self._tail.end
                self._flush(pending)
                if self._tail.start >= end:
                    return self._tail.start

    def snapshot(self, query: FactsQuery) -> ClaimFactsSnapshot:
        return self.bulk_snapshot([query]).snapshots[0]

    def bulk_snapshot(self, queries: Sequence[FactsQuery]) -> BulkFacts:
        request = request_of(queries)
        with self._lock:
            read = self._read(request)
        return BulkFacts(
            as_of=read.as_of,
            snapshots=tuple(answer(read, query) for query in queries),
            existing=frozenset(query.claim_id for query in queries if query.claim_id in read.existing),
        )

    def claims_listing(self, partner_id: str, sha256: str) -> Sequence[str]:
        with self._lock:
            return list(self._read(replace(NOTHING, listing=(partner_id, sha256))).listing)

    def close(self) -> None:
        """Wait for a write in flight (its failure is raised), then close the tables."""
        try:
            with self._lock:
                self._settle(wait=True)
        finally:
            if self._flusher is not None:
                self._flusher.shutdown()
            self._tables.close()

    def _read(self, request: FactsRequest) -> FactsRead:
        """Catch the tail up and read ``request`` from the tables as of its start, the tail after it (and the
        tail being written in between, if any); start writing the tail in the background once it is long."""
        self._settle(wait=False)
        pending = self._read_new()
        fresh = [fact.claim_id for batch in pending for fact in batch.claims]
        if fresh:  # which of them the tables already hold (a repeated claim id): asked in the same read
            request_here = replace(request, claim_ids=tuple(dict.fromkeys((*request.claim_ids, *fresh))))
        else:
            request_here = request
        tail = self._tail
        flushed = self._flushing[0] if self._flushing is not None else None
        as_of = tail.start if flushed is None else flushed.start
        read = self._tables.read(as_of, request_here) if _reads_anything(request_here) else NO_ROWS
        if flushed is not None:
            read = flushed.over(read, request_here)
        for batch in pending:
            tail.take(batch, read.existing)
        answered = tail.over(read, request)
        if self._flusher is not None and self._flushing is None and tail.end - tail.start >= self._flush_entries:
            self._flushing = (tail, self._flusher.submit(self._tables.take_in, tail.batch_with(())))
            self._tail = FactTail(tail.end)
        return answered

    def _settle(self, *, wait: bool) -> bool:
        """Take in the end of the write in flight, if it has ended (or ``wait`` for it): True if the tail
        had to start again elsewhere (another process moved the progress row, or the write failed: then the
        failure is raised after the tail is reset to the flushed tail's start)."""
        if self._flushing is None:
            return False
        flushed, write = self._flushing
        if not wait and not write.done():
            return False
        self._flushing = None
        try:
            progress = write.result()
        except BaseException:
            self._tail = FactTail(flushed.start)  # its facts, and the tail's after them, re-read from the log
            raise
        if progress == flushed.end:
            return False
        self._tail = FactTail(progress)
        return True

    def _read_new(self) -> list[FactBatch]:
        """The facts committed after the tail, in batches; written to the tables with the tail, in this
        thread, whenever the two span :attr:`_hold_entries` entries or more."""
        pending: list[FactBatch] = []
        while rows := self._reader.read_rows(pending[-1].end if pending else self._tail.end, self._chunk):
            pending.append(decode_batch(rows[0].position, rows))
            read_to = pending[-1].end
            if read_to - self._tail.start >= self._hold_entries:
                if self._settle(wait=True):  # the tail moved: what was read may not follow on from it
                    pending = []
                    continue
                self._flush(pending)
                pending = []
            # A short read is the log's end as of now; after a flush the tail may restart elsewhere (another
            # process moved the progress row), and then it reads on from there.
            if len(rows) < self._chunk and (pending or self._tail.end == read_to):
                break
        return pending

    def _flush(self, pending: list[FactBatch]) -> None:
        """Write the tail and ``pending`` to the tables in one batch and start a new, empty tail at the
        progress row reached: after them, or wherever another process moved the row (the next read takes up
        from there). A failed write changes nothing here."""
        batch = self._tail.batch_with(pending)
        if batch.end > batch.start:
            self._tail = FactTail(self._tables.take_in(batch))


NO_ROWS = FactsRead(0, {}, {}, frozenset(), {}, {})


def _reads_anything(request: FactsRequest) -> bool:
    return bool(
        request.hashes or request.claim_ids or request.amount_groups or request.reference_values or request.listing
    )
