"""The rows just committed, kept in memory: their followers read them from there.

The writer pushes every committed batch to every connected worker (:class:`~adapters.writer.wire.Committed`,
sent after the commit and before the batch's replies); a process that commits its own saves keeps them itself
(``SequencedRecorder.keep_committed``). :class:`RecentRows` keeps the newest ``capacity`` rows and the
contiguous run they end with; a batch that does not follow on (a missed push: the writer changed; another
process committed in between) starts a new run. :meth:`RecentRows.read` answers a range only inside the run
and returns None otherwise, so the caller
reads the database: in particular a read at the run's end always goes to the database, which is how a
follower still sees rows committed but not yet pushed (a follower stops at its first empty read).

A read of ONE row (an entry looked up by position: its proof) is also answered from rows kept before the run
restarted (the newest ``capacity`` rows added, whatever the gaps between them): the row at a position is the
same wherever it was read. A process that commits its own saves beside others (two API workers) has runs of
one batch each, and reads back the entry it just wrote to prove it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from itertools import islice

from ledger_core.engine.chain import StoredRow
from ledger_core.engine.sequencer import SequencedEntry


class RecentRows:
    """The newest committed rows, and the contiguous run they end with (thread-safe)."""

    def __init__(self, capacity: int = 8192) -> None:
        self._capacity = capacity
        self._rows: dict[int, StoredRow] = {}
        """The newest ``capacity`` rows added, by position, in the order added (positions only grow)."""
        self._run_start = 0
        """The first position of the run: every position from it to the newest was added."""
        self._lock = threading.Lock()
        self.hits = 0

    def add(self, entries: Sequence[SequencedEntry]) -> None:
        """Add a committed batch (positions consecutive); a gap before it restarts the run."""
        if not entries:
            return
        rows = self._rows
        with self._lock:
            if not rows or next(reversed(rows)) + 1 != entries[0].position:
                self._run_start = entries[0].position
            for e in entries:
                rows[e.position] = StoredRow(
                    e.position, e.aggregate_id, e.aggregate_version, e.type, e.partner_id, e.entry, e.leaf_hash
                )
            for position in list(islice(rows, max(len(rows) - self._capacity, 0))):
                del rows[position]

    def read(self, start: int, limit: int) -> list[StoredRow] | None:
        """Up to ``limit`` rows from ``start`` if ``start`` lies inside the run (or, for one row, if the row at
        ``start`` is kept), else None (read the database)."""
        with self._lock:
            rows = self._rows
            if limit == 1 and (kept := rows.get(start)) is not None:
                found = [kept]
            else:
                if not rows or limit <= 0:
                    return None
                first = max(self._run_start, next(iter(rows)))  # the run's oldest rows may have fallen off
                end = next(reversed(rows)) + 1
                if not first <= start < end:
                    return None
                found = [rows[position] for position in range(start, min(start + limit, end))]
            self.hits += len(found)
        return found
