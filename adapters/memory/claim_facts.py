"""The :class:`~ledger_core.claims.facts.ClaimFacts` port, derived from the stored log (SQLite or PostgreSQL).

Each process keeps a :class:`~ledger_core.claims.facts.ClaimFactsIndex` in memory and, before answering,
catches it up by reading the log rows after the last position it has seen (one range query on the
primary key through the :class:`~ledger_core.engine.ports.LogReader` port; only ``claim.submitted`` and
``document.registered`` entries are decoded). The answer's ``as_of`` is the log size the catch-up
reached, so it is exactly "the facts of the entries before ``as_of``", the same answer an auditor gets
from the log alone. Several API workers, the CLI and feeds may write the same database: each reader
sees every committed entry on its next catch-up (positions become visible in order, see
``docs/architecture.md``, group commit).

Trade-off (``docs/verification.md``): memory grows with the number of claims and registrations (about
0.7 KiB per claim with one registered document, measured in ``docs/performance.md``, "Soak"; each
amount series is capped at :data:`AMOUNTS_KEPT`) and a new process reads the whole log once on its first
verification.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ledger_core.claims.facts import FACT_EVENT_TYPES, BulkFacts, ClaimFactsIndex, ClaimFactsSnapshot, FactsQuery
from ledger_core.claims.risk_rules import RULE_SETS
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.ports import LogReader

CATCH_UP_CHUNK = 5_000
AMOUNTS_KEPT = max(params.amount_history_size for params in RULE_SETS.values()) + 1
"""Newest amounts kept per (partner, claim type, currency): every rule set's history plus the claim itself
(this index only answers as of its own size, so older amounts are never asked for)."""


class LogDerivedClaimFacts:
    """Claim facts kept in memory, caught up from ``reader`` before every question (thread-safe)."""

    def __init__(self, reader: LogReader, chunk: int = CATCH_UP_CHUNK) -> None:
        self._reader = reader
        self._chunk = chunk
        self._index = ClaimFactsIndex(amounts_kept=AMOUNTS_KEPT)
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Every log entry below this position has been taken in."""
        return self._index.size

    def catch_up(self) -> int:
        """Take in every entry committed since the last call; return the new :attr:`size`."""
        with self._lock:
            return self._catch_up()

    def snapshot(self, query: FactsQuery) -> ClaimFactsSnapshot:
        with self._lock:
            self._catch_up()
            return self._index.snapshot(query)

    def bulk_snapshot(self, queries: Sequence[FactsQuery]) -> BulkFacts:
        with self._lock:
            self._catch_up()
            return self._index.bulk_snapshot(queries)

    def claims_listing(self, partner_id: str, sha256: str) -> Sequence[str]:
        with self._lock:
            self._catch_up()
            return self._index.claims_listing(partner_id, sha256)

    def _catch_up(self) -> int:
        index = self._index
        while rows := self._reader.read_rows(index.size, self._chunk):
            for row in rows:
                if row.type in FACT_EVENT_TYPES:
                    envelope = decode_entry(row.entry)
                    index.feed(row.position, row.type, row.aggregate_id, row.partner_id, envelope.payload)
                else:
                    index.skip_to(row.position + 1)
            if len(rows) < self._chunk:
                break
        return index.size
