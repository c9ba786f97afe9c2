"""Backend-independent parts of the tree stores: grouping node ids, ranging completed nodes, and the
checkpoint reads (the same SQL on both drivers but for the placeholder)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from ledger_core.engine.merkle import CheckpointRecord
from proofs.tree import NodeId

_CHECKPOINT = "SELECT size, root_hash, note, signed_at FROM checkpoints"


def checkpoint_record(row: Any) -> CheckpointRecord | None:
    """A ``checkpoints`` row as a record (None for no row)."""
    return None if row is None else CheckpointRecord(int(row[0]), bytes(row[1]), row[2], row[3])


class CheckpointReads(ABC):
    """Reading signed checkpoints; subclasses supply the placeholder and two query helpers."""

    PARAM = "?"

    @abstractmethod
    def _one(self, sql: str, params: Sequence[object] = ()) -> Any: ...

    @abstractmethod
    def _all(self, sql: str, params: Sequence[object] = ()) -> list[Any]: ...

    def latest_checkpoint(self) -> CheckpointRecord | None:
        return checkpoint_record(self._one(f"{_CHECKPOINT} ORDER BY size DESC LIMIT 1"))

    def checkpoint_at(self, size: int) -> CheckpointRecord | None:
        return checkpoint_record(self._one(f"{_CHECKPOINT} WHERE size = {self.PARAM}", (size,)))

    def first_checkpoint_after(self, position: int) -> CheckpointRecord | None:
        sql = f"{_CHECKPOINT} WHERE size > {self.PARAM} ORDER BY size LIMIT 1"
        return checkpoint_record(self._one(sql, (position,)))

    def checkpoints(self, after_size: int, limit: int) -> Sequence[CheckpointRecord]:
        sql = f"{_CHECKPOINT} WHERE size > {self.PARAM} ORDER BY size LIMIT {self.PARAM}"
        return [CheckpointRecord(int(s), bytes(r), n, t) for s, r, n, t in self._all(sql, (after_size, limit))]


MAX_IDS_PER_QUERY = 8000
"""Node ids per fetch statement (SQLite allows 32766 host parameters; proofs need ~2 log n)."""


def split_ids(ids: Sequence[NodeId]) -> tuple[list[int], dict[int, list[int]]]:
    """Leaf positions (level 0, read from the log) and the other ids grouped by level."""
    leaves: list[int] = []
    upper: dict[int, list[int]] = {}
    for level, index in ids:
        if level == 0:
            leaves.append(index)
        else:
            upper.setdefault(level, []).append(index)
    return leaves, upper


def completed_ranges(begin: int, end: int) -> list[tuple[int, int, int]]:
    """``(level, first, last)`` index ranges of the nodes (level >= 1) whose last leaf is in [begin, end).

    A node (L, i) covers leaves [i * 2**L, (i + 1) * 2**L); it is completed by appending leaf
    (i + 1) * 2**L - 1, so it belongs here when begin < (i + 1) * 2**L <= end.
    """
    ranges = []
    for level in range(1, max(end, 1).bit_length() + 1):
        first, last = begin >> level, (end >> level) - 1
        if last >= first:
            ranges.append((level, first, last))
    return ranges


def chunks(ids: Sequence[NodeId], size: int = MAX_IDS_PER_QUERY) -> list[Sequence[NodeId]]:
    """``ids`` cut into statements' worth (one chunk for any single proof)."""
    return [ids[start : start + size] for start in range(0, len(ids), size)] if ids else []
