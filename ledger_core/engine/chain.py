"""Verifying the hash chain and every aggregate's back-links from the stored rows (pure; no I/O).

Feed :class:`ChainVerifier` the stored rows in position order; it raises :class:`ChainBroken` at the
first position where the stored data disagrees with what the chain commits to:

* positions are gapless from 0 (a deleted row breaks here);
* the entry bytes parse as an envelope whose ``position`` is the row's position (reordering breaks);
* the stored leaf hash is SHA-256(0x00 || entry) (a flipped byte breaks);
* ``prev`` is the leaf hash of the previous entry, recomputed here, never read from storage;
* the aggregate's ``version`` follows its previous one and ``prevPosition`` points at it;
* the indexed columns agree with the envelope (queries cannot be misled by edited columns).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.errors import ChainBroken, MalformedEntry
from proofs.hashing import leaf_hash


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A row as read back from storage: the entry bytes plus the indexed columns."""

    position: int
    aggregate_id: str
    aggregate_version: int
    type: str
    partner_id: str | None
    entry: bytes
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class ChainSummary:
    """What an intact chain proved: its size, head hash and how many aggregates it holds."""

    size: int
    head_leaf_hash: bytes | None
    aggregates: int


class ChainVerifier:
    """Incremental verifier; call :meth:`feed` with rows in order, then :meth:`summary`."""

    def __init__(self) -> None:
        self._next_position = 0
        self._prev: bytes | None = None
        self._aggregates: dict[str, tuple[int, int]] = {}

    def feed(self, rows: Iterable[StoredRow]) -> None:
        """Check ``rows`` (continuing from the previous call); raise :class:`ChainBroken` on the first fault."""
        for row in rows:
            self._check(row)

    def summary(self) -> ChainSummary:
        return ChainSummary(self._next_position, self._prev, len(self._aggregates))

    def _check(self, row: StoredRow) -> None:
        position = self._next_position
        if row.position != position:
            raise ChainBroken(position, f"entry at position {position}", f"position {row.position}", "missing entry")
        computed = leaf_hash(row.entry)
        if computed != row.leaf_hash:
            raise ChainBroken(position, computed.hex(), row.leaf_hash.hex(), "stored leaf hash")
        try:
            envelope = decode_entry(row.entry)
        except MalformedEntry as error:
            raise ChainBroken(position, "a version-1 envelope", str(error), "malformed entry") from error
        if envelope.position != position:
            raise ChainBroken(position, str(position), str(envelope.position), "envelope position")
        expected_prev = None if self._prev is None else self._prev.hex()
        if envelope.prev != expected_prev:
            raise ChainBroken(position, str(expected_prev), str(envelope.prev), "prev link")
        previous = self._aggregates.get(envelope.aggregate_id)
        expected_version, expected_back = (1, None) if previous is None else (previous[0] + 1, previous[1])
        if envelope.aggregate_version != expected_version:
            raise ChainBroken(position, str(expected_version), str(envelope.aggregate_version), "aggregate version")
        if envelope.aggregate_prev_position != expected_back:
            raise ChainBroken(
                position, str(expected_back), str(envelope.aggregate_prev_position), "aggregate back-link"
            )
        columns = (row.aggregate_id, row.aggregate_version, row.type, row.partner_id)
        committed = (envelope.aggregate_id, envelope.aggregate_version, envelope.type, envelope.partner_id)
        if columns != committed:
            raise ChainBroken(position, repr(committed), repr(columns), "indexed columns")
        self._aggregates[envelope.aggregate_id] = (envelope.aggregate_version, position)
        self._prev = computed
        self._next_position = position + 1
