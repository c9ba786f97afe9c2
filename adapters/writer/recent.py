"""The rows the writer just committed, kept by each API worker: its followers read them from memory.

The writer pushes every committed batch to every connected worker (:class:`~adapters.writer.wire.Committed`,
sent after the commit and before the batch's replies). :class:`RecentRows` keeps the newest ``capacity``
rows as one contiguous run; a batch that does not follow on (a missed push: the writer changed) starts
a new run. :meth:`RecentRows.read` answers only inside the run and returns None otherwise, so the caller
reads the database: in particular a read at the run's end always goes to the database, which is how a
follower still sees rows committed but not yet pushed (a follower stops at its first empty read).

A read of ONE row (an entry looked up by position: its proof) is also answered from rows kept before the run
restarted (the newest ``capacity`` rows added, whatever the gaps between them): the row at a position is the
same wherever it was read. A process that commits its own saves beside others (two API workers) has runs of
one batch each, and reads back the entry it just wrote to prove it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from itertools import islice

from ledger_core.engine.chain import StoredRow
from ledger_core.engine.sequencer import SequencedEntry


class RecentRows:
    """A contiguous run of the newest committed rows (thread-safe)."""

    def __init__(self, capacity: int = 8192) -> None:
        self._rows: deque[StoredRow] = deque(maxlen=capacity)
        self._capacity = capacity
        self._by_position: dict[int, StoredRow] = {}
        """The newest ``capacity`` rows added, runs or not, in the order added (the oldest first out)."""
        self._lock = threading.Lock()
        self.hits = 0

    def add(self, entries: Sequence[SequencedEntry]) -> None:
        """Append a committed batch (positions consecutive); a gap before it restarts the run."""
        if not entries:
            return
        rows = [
            StoredRow(e.position, e.aggregate_id, e.aggregate_version, e.type, e.partner_id, e.entry, e.leaf_hash)
            for e in entries
        ]
        with self._lock:
            if self._rows and self._rows[-1].position + 1 != rows[0].position:
                self._rows.clear()
            self._rows.extend(rows)
            kept = self._by_position
            kept.update((row.position, row) for row in rows)
            for position in list(islice(kept, max(len(kept) - self._capacity, 0))):
                del kept[position]

    def read(self, start: int, limit: int) -> list[StoredRow] | None:
        """Up to ``limit`` rows from ``start`` if ``start`` lies inside the run (or, for one row, if the row at
        ``start`` is kept), else None (read the database)."""
        with self._lock:
            if limit == 1 and (kept := self._by_position.get(start)) is not None:
                self.hits += 1
                return [kept]
            if not self._rows or limit <= 0:
                return None
            first = self._rows[0].position
            end = self._rows[-1].position + 1
            if not first <= start < end:
                return None
            offset = start - first
            rows = [self._rows[index] for index in range(offset, min(offset + limit, end - first))]
        self.hits += len(rows)
        return rows
