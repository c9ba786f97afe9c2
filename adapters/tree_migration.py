"""``ledger migrate``: from one row per Merkle node (``merkle_nodes``) to C2SP tlog-tiles (``merkle_tiles``).

Backend-independent (each backend's tree module writes the SQL). The tree is rebuilt from the log's leaf
hashes, one signed checkpoint at a time, in order: the nodes recomputed for the leaves of that checkpoint
must equal the stored node rows, the recomputed root must equal the checkpoint's root, and only then are
that checkpoint's tiles written, in one transaction that also checks the tiles still end where this run
found them. The legacy table is dropped once every checkpoint is covered.

Idempotent and resumable: the progress is the tiles themselves (the size the level-0 tiles reach, always a
checkpoint size), so a run killed at any point leaves either the previous checkpoint's tiles or the next,
and the next run continues from there; a ledger without ``merkle_nodes`` has nothing to migrate. Entries
after the latest checkpoint are left to the sealer. Run it with the server and sealers stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from adapters.ports import ManagedTreeStore
from ledger_core.engine.merkle import CheckpointMismatch, CheckpointRecord, LogTruncated, NodeMismatch
from ledger_core.engine.ports import TreeStore
from proofs.tree import CompactRange, NodeId, StoredNode, frontier_ids

CHUNK = 10_000
"""Leaf hashes read per query."""


@runtime_checkable
class MigratableTreeStore(ManagedTreeStore, Protocol):
    """A tree store that can still read the legacy node rows (both backends' tree modules)."""

    def has_legacy_nodes(self) -> bool: ...

    def legacy_nodes_completed_in(self, begin: int, end: int) -> Mapping[NodeId, bytes]: ...

    def tiled_size(self) -> int: ...

    def store_migrated_tiles(self, old_size: int, nodes: Sequence[StoredNode]) -> None: ...

    def drop_legacy_nodes(self) -> None: ...


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What a run did: ``needed`` False when there was no legacy table (nothing done)."""

    needed: bool
    resumed_from: int
    migrated_size: int
    checkpoints: int


def _checkpoints_after(store: TreeStore, size: int) -> Iterator[CheckpointRecord]:
    while page := store.checkpoints(size, 1000):
        yield from page
        size = page[-1].size


def _resume(store: MigratableTreeStore) -> CompactRange:
    """The right edge of the tiles written so far, checked against the checkpoint of that size."""
    size = store.tiled_size()
    if size == 0:
        return CompactRange()
    record = store.checkpoint_at(size)
    compact = CompactRange.from_nodes(size, store.fetch_nodes(frontier_ids(size)))
    if record is None or compact.root() != record.root_hash:
        found = "no checkpoint" if record is None else record.root_hash.hex()
        raise CheckpointMismatch(size, compact.root().hex(), found, "tiles written by an earlier migration run")
    return compact


def _integrate(store: MigratableTreeStore, compact: CompactRange, stop: int, chunk: int) -> list[StoredNode]:
    """Append leaves ``compact.size .. stop``; every node made must equal its legacy row (level >= 1)."""
    nodes: list[StoredNode] = []
    while compact.size < stop:
        begin, end = compact.size, min(stop, compact.size + chunk)
        hashes = store.leaf_hashes(begin, end)
        if len(hashes) != end - begin:
            raise LogTruncated(stop, begin + len(hashes))
        created = [node for digest in hashes for node in compact.append(digest)]
        legacy = store.legacy_nodes_completed_in(begin, end)
        for node in created:
            if node.level > 0 and legacy.get(node.id) != node.hash:
                found = legacy.get(node.id)
                raise NodeMismatch(node.level, node.index, node.hash.hex(), "nothing" if found is None else found.hex())
        nodes.extend(created)
    return nodes


def migrate_to_tiles(
    store: MigratableTreeStore, *, progress: Callable[[int, int], object] | None = None, chunk: int = CHUNK
) -> MigrationReport:
    """Convert the legacy node rows into tiles, checkpoint by checkpoint; drop the rows at the end.

    Raises ``NodeMismatch`` (a node row differs from the leaves), ``CheckpointMismatch`` (a root
    differs) or ``LogTruncated`` and writes nothing of the checkpoint at fault. ``progress(done,
    total)`` is called after each checkpoint.
    """
    if not store.has_legacy_nodes():
        size = store.tiled_size()
        return MigrationReport(False, size, size, 0)
    compact = _resume(store)
    resumed = compact.size
    latest = store.latest_checkpoint()
    total = 0 if latest is None else latest.size
    count = 0
    for record in _checkpoints_after(store, resumed):
        old_size = compact.size
        nodes = _integrate(store, compact, record.size, chunk)
        if compact.root() != record.root_hash:
            raise CheckpointMismatch(record.size, compact.root().hex(), record.root_hash.hex(), "stored root")
        store.store_migrated_tiles(old_size, nodes)
        count += 1
        if progress is not None:
            progress(record.size, total)
    store.drop_legacy_nodes()
    return MigrationReport(True, resumed, compact.size, count)
