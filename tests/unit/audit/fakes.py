"""In-memory fakes of the tree and log ports: what the SQLite and PostgreSQL adapters do, in dicts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from adapters.tree_layout import TileKey, TileNodes, implied_nodes, tile_writes
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.merkle import CheckpointRecord, SealConflict
from ledger_core.engine.sequencer import EMPTY_LOG, AggregateHead, LogHead, sequence_batch
from proofs.tree import NodeId, StoredNode


class StepClock:
    """A clock one millisecond further on every call."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


class MemoryLog:
    """A log of real envelopes (sequenced by the pure sequencer) plus the read ports over it."""

    def __init__(self) -> None:
        self.rows: list[StoredRow] = []
        self.head: LogHead = EMPTY_LOG
        self.heads: dict[str, AggregateHead] = {}
        self.versions: dict[str, int] = {}

    def append(self, aggregate: str, partner: str | None = "acme", payload: dict[str, object] | None = None) -> int:
        """Append the next event of ``aggregate``; return its position."""
        version = self.versions.get(aggregate, 0) + 1
        draft = EventDraft(f"e-{aggregate}-{version}", "t.noted", "T", aggregate, version, partner, payload or {})
        batch = sequence_batch(self.head, [[draft]], self.heads, "2026-01-01T00:00:00.000000Z")
        entry = batch.entries[0]
        self.rows.append(
            StoredRow(entry.position, aggregate, version, entry.type, partner, entry.entry, entry.leaf_hash)
        )
        self.head = batch.head
        self.heads[aggregate] = AggregateHead(version, entry.position)
        self.versions[aggregate] = version
        return entry.position

    def log_size(self) -> int:
        return len(self.rows)

    def read_rows(self, start: int, limit: int) -> Sequence[StoredRow]:
        return self.rows[start : start + limit]

    def read_aggregate_rows(self, aggregate_id: str) -> Sequence[StoredRow]:
        return [row for row in self.rows if row.aggregate_id == aggregate_id]

    def read_partner_rows(self, partner_id: str, start: int, limit: int) -> Sequence[StoredRow]:
        return [row for row in self.rows[start:] if row.partner_id == partner_id][:limit]

    def partner_rows_of_types(
        self, partner_id: str, types: Sequence[str], *, start: int, stop: int, limit: int, descending: bool = False
    ) -> Sequence[StoredRow]:
        rows = [row for row in self.rows[start:stop] if row.partner_id == partner_id and row.type in types]
        return (rows[::-1] if descending else rows)[:limit]


class MemoryTreeStore:
    """A :class:`~ledger_core.engine.ports.TreeStore` over a :class:`MemoryLog`, tiles in a dict; counts reads."""

    def __init__(self, log: MemoryLog) -> None:
        self.log = log
        self.tiles: dict[TileKey, bytes] = {}
        self.records: dict[int, CheckpointRecord] = {}
        self.fetches: list[tuple[NodeId, ...]] = []
        self.fail_next_commit = False
        self._nodes = TileNodes(self._read_tiles)

    def _read_tiles(self, keys: Sequence[TileKey]) -> dict[TileKey, bytes]:
        return {key: self.tiles[key] for key in keys if key in self.tiles}

    def corrupt_tile(self, key: TileKey, data: bytes) -> None:
        """Overwrite a stored tile (and forget cached ones), as an attacker editing the database would."""
        self.tiles[key] = data
        self._nodes.cache.clear()

    def log_size(self) -> int:
        return self.log.log_size()

    def integrated_size(self) -> int:
        return max(self.records, default=0)

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        return [row.leaf_hash for row in self.log.rows[start:stop]]

    def fetch_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        self.fetches.append(tuple(ids))
        return self._nodes.fetch_nodes(ids)

    def nodes_completed_in(self, begin: int, end: int) -> Mapping[NodeId, bytes]:
        return self._nodes.nodes_completed_in(begin, end)

    def count_nodes(self) -> int:
        return sum(implied_nodes(len(data) // 32) for data in self.tiles.values())

    def read_tile(self, level: int, index: int, width: int = 256) -> bytes | None:
        data = self.tiles.get((level, index))
        return data if data is not None and len(data) >= 32 * width else None

    def commit_integration(self, old_size: int, nodes: Sequence[StoredNode], checkpoint: CheckpointRecord) -> None:
        if self.integrated_size() != old_size:
            raise SealConflict(old_size, self.integrated_size())
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise OSError("disk on fire")
        for row in tile_writes(old_size, nodes, lambda level, index: self.tiles.get((level, index))):
            held = self.tiles.get((row.level, row.index), b"")
            if len(held) == 32 * 256 or not row.data.startswith(held):
                raise AssertionError(
                    f"tile {row.level}/{row.index} rewritten: full tiles are immutable, partial ones grow"
                )
            self.tiles[(row.level, row.index)] = row.data
        self.records[checkpoint.size] = checkpoint

    def latest_checkpoint(self) -> CheckpointRecord | None:
        return self.records[max(self.records)] if self.records else None

    def checkpoint_at(self, size: int) -> CheckpointRecord | None:
        return self.records.get(size)

    def update_checkpoint_note(self, size: int, expected: str, note: str) -> bool:
        record = self.records.get(size)
        if record is None or record.note != expected:
            return False
        self.records[size] = dataclasses.replace(record, note=note)
        return True

    def first_checkpoint_after(self, position: int) -> CheckpointRecord | None:
        sizes = [size for size in self.records if size > position]
        return self.records[min(sizes)] if sizes else None

    def checkpoints(self, after_size: int, limit: int) -> Sequence[CheckpointRecord]:
        return [self.records[size] for size in sorted(self.records) if size > after_size][:limit]

    # leadership, as the SQLite store: everyone may try
    def try_acquire_leadership(self) -> bool:
        return True

    def holds_leadership(self) -> bool:
        return True

    def release_leadership(self) -> None:
        pass

    def watch(self, log: bool = True) -> None:  # announces nothing, like SQLite: followers poll
        return None

    def close(self) -> None:
        pass
