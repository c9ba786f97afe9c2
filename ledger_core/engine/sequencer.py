"""Sequencing: giving a batch of saves their positions in the one global log (pure; no I/O).

The storage adapter takes its write lock, reads the log head and the heads of the aggregates named in
the batch, calls :func:`sequence_batch`, writes the returned rows and commits; then it acknowledges each
save. One call sequences many callers' saves (group commit). A save is all-or-nothing: if any of its
events does not follow its aggregate's current version, the whole save is refused with
:class:`ConcurrencyConflict` and the others in the batch go ahead. An :class:`AnchoredDrafts` save must
also start at the position it names, else it is refused with :class:`LogMoved` (a bulk writer that
computed its events from the log as of that position: ``ledger_core.claims.batch.bulk``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ledger_core.engine.envelope import EventDraft, encode_entry
from ledger_core.engine.errors import ConcurrencyConflict, LogMoved
from proofs.hashing import LEAF_PREFIX

# SHA-256 already fed the RFC 9162 leaf prefix; each entry hashes a copy of it (= proofs.hashing.leaf_hash).
_LEAF_STATE = hashlib.sha256(LEAF_PREFIX)


@dataclass(frozen=True, slots=True)
class LogHead:
    """The end of the log: its size (= next position), last leaf hash and last ``recordedAt``."""

    size: int
    last_leaf_hash: bytes | None
    last_recorded_at: str | None


EMPTY_LOG = LogHead(size=0, last_leaf_hash=None, last_recorded_at=None)


@dataclass(frozen=True, slots=True)
class AggregateHead:
    """An aggregate's latest stored version and that event's position."""

    version: int
    position: int


class SequencedEntry(NamedTuple):
    """A row to store: the entry bytes plus the columns indexed for queries.

    A named tuple whose field order is the storage column order, so adapters bind it as it is
    (one tuple per event instead of a dataclass plus a parameter tuple).
    """

    position: int
    event_id: str
    aggregate_id: str
    aggregate_version: int
    type: str
    partner_id: str | None
    recorded_at: str
    entry: bytes
    leaf_hash: bytes


class AnchoredDrafts(list[EventDraft]):
    """One save's drafts that must take positions ``start, start + 1, ...`` or not be written at all.

    For a writer whose events quote the log as of ``start`` (the facts a verification used): if any
    other save reached the log first, the save is refused with :class:`LogMoved` and nothing is written.
    """

    __slots__ = ("start",)

    def __init__(self, start: int, drafts: Iterable[EventDraft]) -> None:
        super().__init__(drafts)
        self.start = start


@dataclass(frozen=True, slots=True)
class SequencedBatch:
    """Rows to write, the new head, and per save either its positions or the conflict refusing it."""

    entries: list[SequencedEntry]
    head: LogHead
    outcomes: list[list[int] | ConcurrencyConflict | LogMoved]


def created_in(saves: Sequence[Sequence[EventDraft]]) -> set[str]:
    """The aggregates whose first event in ``saves`` is version 1: the ones the batch creates, if they are new.

    A writer need not read their heads: :func:`sequence_batch` takes an aggregate without a head as new, and
    the storage's uniqueness of (aggregate, version) refuses the batch's rows if one existed after all; the
    writer then writes the batch again with every head read, and that save is refused with
    :class:`ConcurrencyConflict` as it would have been (the others in the batch go ahead)."""
    first: dict[str, int] = {}
    for save in saves:
        for draft in save:
            first.setdefault(draft.aggregate_id, draft.aggregate_version)
    return {aggregate_id for aggregate_id, version in first.items() if version == 1}


def sequence_batch(
    head: LogHead,
    saves: Sequence[Sequence[EventDraft]],
    aggregate_heads: Mapping[str, AggregateHead],
    now: str,
) -> SequencedBatch:
    """Assign positions, ``prev`` links and aggregate back-links to ``saves`` after ``head``.

    ``aggregate_heads`` holds the stored head of every aggregate named in ``saves`` that exists, except
    perhaps those :func:`created_in` the batch (taken as new: see there).
    ``now`` (RFC 3339, as :func:`format_recorded_at` makes it) is clamped so ``recordedAt`` never goes
    backwards along the log.
    """
    recorded_at = now if head.last_recorded_at is None or now > head.last_recorded_at else head.last_recorded_at
    # Per aggregate: (version, position) of its latest event, stored or sequenced in this batch.
    heads = {aggregate_id: (stored.version, stored.position) for aggregate_id, stored in aggregate_heads.items()}
    position = head.size
    prev = head.last_leaf_hash
    entries: list[SequencedEntry] = []
    outcomes: list[list[int] | ConcurrencyConflict | LogMoved] = []
    for save in saves:
        conflict: ConcurrencyConflict | LogMoved | None = None
        if isinstance(save, AnchoredDrafts) and save.start != position:
            conflict = LogMoved(save.start, position)
        else:
            conflict = _first_conflict(save, heads)
        if conflict is not None:
            outcomes.append(conflict)
            continue
        first = position
        position, prev = _sequence_save(save, position, prev, recorded_at, heads, entries)
        outcomes.append(list(range(first, position)))
    return SequencedBatch(
        entries=entries,
        head=LogHead(
            size=position, last_leaf_hash=prev, last_recorded_at=recorded_at if entries else head.last_recorded_at
        ),
        outcomes=outcomes,
    )


def _sequence_save(
    save: Sequence[EventDraft],
    position: int,
    prev: bytes | None,
    recorded_at: str,
    heads: dict[str, tuple[int, int]],
    entries: list[SequencedEntry],
) -> tuple[int, bytes | None]:
    """Append the rows of one accepted save to ``entries`` and move ``heads``; return the next position and
    the last leaf hash."""
    leaf_state = _LEAF_STATE
    for draft in save:
        aggregate_id = draft.aggregate_id
        current = heads.get(aggregate_id)
        entry = encode_entry(
            draft,
            position=position,
            prev=prev,
            aggregate_prev_position=None if current is None else current[1],
            recorded_at=recorded_at,
        )
        hasher = leaf_state.copy()  # leaf_hash(entry): SHA-256(0x00 || entry) without copying the entry
        hasher.update(entry)
        prev = hasher.digest()
        entries.append(
            SequencedEntry(
                position,
                draft.event_id,
                aggregate_id,
                draft.aggregate_version,
                draft.type,
                draft.partner_id,
                recorded_at,
                entry,
                prev,
            )
        )
        heads[aggregate_id] = (draft.aggregate_version, position)
        position += 1
    return position, prev


def _first_conflict(save: Sequence[EventDraft], heads: Mapping[str, tuple[int, int]]) -> ConcurrencyConflict | None:
    """The conflict refusing ``save``, if one of its events does not follow its aggregate's head."""
    expected: dict[str, int] = {}
    for draft in save:
        current = expected.get(draft.aggregate_id)
        if current is None:
            stored = heads.get(draft.aggregate_id)
            current = 0 if stored is None else stored[0]
        if draft.aggregate_version != current + 1:
            return ConcurrencyConflict(draft.aggregate_id, draft.aggregate_version - 1, current or None)
        expected[draft.aggregate_id] = draft.aggregate_version
    return None
