"""How the tree is laid out in storage, for every backend's tree module: node ids grouped by level,
the ranges of nodes an integration completed, statement-sized chunks, checkpoint rows as records.

No SQL here: each backend's tree module (``adapters/<backend>/tree.py``) writes its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger_core.engine.merkle import CheckpointRecord
from proofs.tree import NodeId


def checkpoint_record(row: Any) -> CheckpointRecord | None:
    """A ``(size, root_hash, note, signed_at)`` row as a record (None for no row)."""
    return None if row is None else CheckpointRecord(int(row[0]), bytes(row[1]), row[2], row[3])


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
