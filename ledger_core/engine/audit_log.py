"""What partners and auditors read of the log: entries page by page, an entry with its inclusion proof,
signed checkpoints and consistency proofs (the driving side serves them, e.g. the HTTP audit routes).

A partner only ever sees its own entries: another partner's position is :class:`NotFound` (kind
``entry``), exactly like a missing one. Checkpoints and consistency proofs describe the whole log and
are the same for everyone. Pure: ports only (:class:`LogReader` + :class:`PartnerLogReader`, and the
tree through :class:`ProofService`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ledger_core.engine.auditing import ProofService
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.engine.merkle import CheckpointNotFound, CheckpointRecord, NotSealed
from ledger_core.engine.ports import LogReader, PartnerLogReader
from proofs.bundle import ConsistencyProof, InclusionProof

SCAN_CHUNK = 500
MAX_POSITION = 2**63 - 1
"""Log positions and tree sizes are signed 64-bit integers in storage (the API refuses larger ones)."""


class PositionNotFound(NotFound):
    """No entry at this position: the log is shorter (kind ``entry``, like any missing entry)."""

    def __init__(self, position: int, log_size: int) -> None:
        super().__init__("entry", str(position))
        held = "is empty" if log_size == 0 else f"holds positions 0 to {log_size - 1}"
        self.message = f"position {position} does not exist: the log {held}"
        self.args = (self.message,)
        self.details["log_size"] = log_size


@dataclass(frozen=True, slots=True)
class LogQuery:
    """A page of a partner's entries: at most ``limit`` after the cursor ``starting_after``, optionally of one
    event ``type`` or one aggregate, recorded in ``[since, until]`` (normalized ``recordedAt`` strings)."""

    limit: int
    starting_after: int | None = None
    type: str | None = None
    aggregate_id: str | None = None
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True, slots=True)
class LogPage:
    """The entries of a page, oldest first, and whether more follow."""

    rows: tuple[StoredRow, ...]
    has_more: bool


@dataclass(frozen=True, slots=True)
class ProvenEntry:
    """A log entry, its inclusion proof and the signed checkpoint the proof is against."""

    row: StoredRow
    inclusion: InclusionProof
    checkpoint: CheckpointRecord

    def document(self) -> InclusionProof:
        """The proof document every producer serves (docs/proofs.md): the proof with the entry's bytes,
        the signed checkpoint, its root, and the entry's event id and time."""
        envelope = decode_entry(self.row.entry)
        proof = self.inclusion
        extra = {
            "merkleRoot": self.checkpoint.root_hash.hex(),
            "ledgerEventId": envelope.event_id,
            "timestamp": envelope.recorded_at,
        }
        return InclusionProof(
            proof.leaf_index, proof.tree_size, proof.leaf_hash, proof.path, self.row.entry, self.checkpoint.note, extra
        )


@dataclass(frozen=True, slots=True)
class Consistency:
    """An RFC 9162 consistency proof and the checkpoints at its two ends (none for a tree of size 0)."""

    proof: ConsistencyProof
    old: CheckpointRecord | None
    new: CheckpointRecord


class PartnerLog:
    """A partner's entries, page by page (reads only the log: no tree, no proofs)."""

    def __init__(self, reader: LogReader) -> None:
        if not isinstance(reader, PartnerLogReader):
            raise TypeError("the log reader must read a partner's entries")
        self.reader = reader
        self.partner_log: PartnerLogReader = reader

    def page(self, partner_id: str, query: LogQuery) -> LogPage:
        """Up to ``query.limit`` of the partner's entries after the cursor, and whether more follow."""
        start = 0 if query.starting_after is None else query.starting_after + 1
        if query.since is not None:
            start = max(start, self._first_position_at(query.since))
        if start > MAX_POSITION:  # past the last possible position (a 64-bit column): nothing follows
            return LogPage((), False)
        found: list[StoredRow] = []
        for row in self._candidates(partner_id, query, start):
            if query.until is not None and _recorded_at(row) > query.until:
                break  # recordedAt never decreases along the log: nothing later matches
            if _matches(row, query):
                found.append(row)
                if len(found) > query.limit:
                    break
        return LogPage(tuple(found[: query.limit]), len(found) > query.limit)

    def _candidates(self, partner_id: str, query: LogQuery, start: int) -> Iterator[StoredRow]:
        """The partner's rows from ``start`` on, in order (one aggregate's when the query names it)."""
        if query.aggregate_id is not None:
            for row in self.reader.read_aggregate_rows(query.aggregate_id):
                if row.position >= start and row.partner_id == partner_id:
                    yield row
            return
        position = start
        while position <= MAX_POSITION and (
            rows := self.partner_log.read_partner_rows(partner_id, position, SCAN_CHUNK)
        ):
            yield from rows
            position = rows[-1].position + 1

    def _first_position_at(self, since: str) -> int:
        """The first position whose ``recordedAt`` is >= ``since`` (binary search: times never decrease)."""
        low, high = 0, self.reader.log_size()
        while low < high:
            middle = (low + high) // 2
            rows = self.reader.read_rows(middle, 1)
            if rows and _recorded_at(rows[0]) < since:
                low = middle + 1
            else:
                high = middle
        return low


class AuditLog:
    """Reads and proofs over one log (``reader``) and its tree (``proofs``)."""

    def __init__(self, reader: LogReader, proofs: ProofService) -> None:
        if not isinstance(reader, PartnerLogReader):
            raise TypeError("the log reader must read a partner's entries")
        self.reader = reader
        self.partner_log: PartnerLogReader = reader
        self.proofs = proofs

    # -- entries and their proofs ----------------------------------------------------------------------
    def entry(self, position: int) -> StoredRow:
        """The entry at ``position``, or :class:`NotFound` (kind ``entry``)."""
        rows = self.reader.read_rows(position, 1)
        if not rows or rows[0].position != position:
            raise NotFound("entry", str(position))
        return rows[0]

    def partner_entry(self, partner_id: str, position: int) -> StoredRow:
        """The partner's entry at ``position``; someone else's (or none) is :class:`NotFound`."""
        rows = self.partner_log.read_partner_rows(partner_id, position, 1)
        if not rows or rows[0].position != position:
            raise NotFound("entry", str(position))
        return rows[0]

    def prove(self, position: int, size: int | None = None) -> ProvenEntry:
        """The entry at ``position`` proven against the checkpoint of ``size`` (default: the latest):
        :class:`PositionNotFound` past the end of the log, :class:`NotSealed` while no such checkpoint
        covers it."""
        log_size = self.reader.log_size()
        if not 0 <= position < log_size:
            raise PositionNotFound(position, log_size)
        inclusion, record = self.proofs.inclusion(position, size)
        return ProvenEntry(self.entry(position), inclusion, record)

    def prove_in(self, position: int, record: CheckpointRecord) -> ProvenEntry:
        """The entry at ``position`` proven against ``record``, a checkpoint known to contain it (a write's
        first checkpoint): no log size or checkpoint read; nodes near the right edge come from memory."""
        if not 0 <= position < record.size:
            raise NotSealed(f"position {position} is not in the checkpoint of size {record.size}", position=position)
        proof = self.proofs.prove_many([position], record.size)[0]
        return ProvenEntry(self.entry(position), proof, record)

    def prove_partner_entry(self, partner_id: str, position: int, size: int | None = None) -> ProvenEntry:
        """The partner's entry proven against the checkpoint of ``size`` (default: the latest):
        :class:`NotFound` for another partner's entry, :class:`CheckpointNotFound` for an unsigned size,
        :class:`NotSealed` when the checkpoint does not cover the entry."""
        row = self.partner_entry(partner_id, position)
        record = self.checkpoint(size)
        inclusion, _ = self.proofs.inclusion(position, record.size)
        return ProvenEntry(row, inclusion, record)

    # -- checkpoints -----------------------------------------------------------------------------------
    def checkpoint(self, size: int | None = None) -> CheckpointRecord:
        """The signed checkpoint of ``size`` leaves (default: the latest), or :class:`CheckpointNotFound`."""
        try:
            return self.proofs.checkpoint(size)
        except NotSealed:
            raise CheckpointNotFound(size) from None

    def consistency(self, from_size: int, to_size: int) -> Consistency:
        """The consistency proof between the checkpoints of ``from_size`` (0: the empty tree) and ``to_size``."""
        if from_size > to_size:
            raise InvalidCommand("from must not exceed to", field="from")
        old = None if from_size == 0 else self.checkpoint(from_size)
        new = self.checkpoint(to_size)
        proof, _, _ = self.proofs.consistency(from_size, to_size)
        document = ConsistencyProof(
            proof.from_size, proof.to_size, proof.path, None if old is None else old.note, new.note
        )
        return Consistency(document, old, new)

    # -- a partner's entries, page by page -------------------------------------------------------------
    def page(self, partner_id: str, query: LogQuery) -> LogPage:
        """Up to ``query.limit`` of the partner's entries after the cursor, and whether more follow."""
        return PartnerLog(self.reader).page(partner_id, query)


def _matches(row: StoredRow, query: LogQuery) -> bool:
    if query.type is not None and row.type != query.type:
        return False
    return query.since is None or _recorded_at(row) >= query.since


def _recorded_at(row: StoredRow) -> str:
    return decode_entry(row.entry).recorded_at
