"""Integration: growing the Merkle tree over new log entries and signing a checkpoint (pure; ports only).

Sequencing (giving an entry its position) is done by the recorders; integration is done here, by one
sealer at a time, in batches:

1. read the latest checkpoint (size ``m``) and the log size ``n``; nothing to do when ``n == m``;
2. load the tree's right edge, ``frontier_ids(m)`` (O(log m) nodes, one read, or none when this
   sealer's :class:`~ledger_core.engine.right_edge.RightEdge` holds size ``m``), and check it hashes
   to the latest checkpoint's root, so a damaged tree is never extended;
3. append the leaf hashes of ``[m, n')`` (``n' = min(n, m + max_batch_entries)``) to a
   ``proofs.CompactRange``, collecting every perfect node it completes (leaves included: the store
   keeps the C2SP tlog-tiles they fill, levels 0, 8, 16, ...);
4. sign the C2SP checkpoint ``(origin, n', root)`` and hand nodes and checkpoint to
   ``TreeStore.commit_integration(m, ...)``, which stores both in ONE transaction if the tree is still
   at size ``m`` (compare-and-set), else raises ``SealConflict``.

A crash anywhere leaves the previous state (nothing of the batch was committed) or the new one.
:class:`SealSchedule` decides *when*: every ``batch_entries`` entries or ``interval_ms`` after
entries started waiting, whichever comes first.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger_core.engine.envelope import format_recorded_at
from ledger_core.engine.merkle import CheckpointMismatch, CheckpointRecord, LogTruncated, NodeMismatch, SealConflict
from ledger_core.engine.ports import Clock, TreeStore
from ledger_core.engine.right_edge import RightEdge
from proofs.checkpoint import Checkpoint, signed_checkpoint
from proofs.errors import MissingNodes
from proofs.note import NoteSigner
from proofs.tree import CompactRange, StoredNode, frontier_ids

__all__ = ["SealConflict", "SealPolicy", "SealResult", "SealSchedule", "Sealer"]


@dataclass(frozen=True, slots=True)
class SealPolicy:
    """When and how much to seal.

    ``batch_entries`` (N): seal as soon as this many entries wait. ``interval_ms`` (T): seal whatever
    waits once the oldest waiting entry was first seen this long ago. ``max_batch_entries``: most
    entries integrated by one transaction (a backlog is sealed as several checkpoints).
    ``read_chunk``: leaf hashes read per query.
    """

    batch_entries: int = 1000
    interval_ms: int = 200
    max_batch_entries: int = 100_000
    read_chunk: int = 10_000

    def __post_init__(self) -> None:
        if min(self.batch_entries, self.max_batch_entries, self.read_chunk) < 1 or self.interval_ms < 0:
            raise ValueError("seal policy sizes must be >= 1 and the interval >= 0")


class SealSchedule:
    """Decides when a seal is due from the number of waiting entries and a monotonic time (seconds)."""

    def __init__(self, policy: SealPolicy) -> None:
        self.policy = policy
        self._waiting_since: float | None = None

    def due(self, pending: int, now: float) -> bool:
        """Whether to seal now, given ``pending`` unsealed entries at time ``now``."""
        if pending <= 0:
            self._waiting_since = None
            return False
        if self._waiting_since is None:
            self._waiting_since = now
        waited_ms = (now - self._waiting_since) * 1000
        return pending >= self.policy.batch_entries or waited_ms >= self.policy.interval_ms

    def sealed(self, now: float, pending_after: int) -> None:
        """Record a seal; entries still waiting (a capped backlog) start a new wait at ``now``."""
        self._waiting_since = now if pending_after > 0 else None


@dataclass(frozen=True, slots=True)
class SealResult:
    """A committed integration: the new checkpoint, the size it grew from, and how many nodes were stored."""

    checkpoint: CheckpointRecord
    old_size: int
    nodes_written: int


class Sealer:
    """One integration step at a time over a :class:`TreeStore`, signing with ``signer``.

    The origin (the log's identity in every checkpoint) is the signer's key name unless given; C2SP
    says the key name SHOULD equal the origin. Once checkpoints exist, a sealer refuses to sign under
    another origin.
    """

    def __init__(
        self,
        store: TreeStore,
        signer: NoteSigner,
        clock: Clock,
        *,
        origin: str | None = None,
        policy: SealPolicy | None = None,
        edge: RightEdge | None = None,
    ) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock
        self.origin = origin or signer.name
        self.policy = policy or SealPolicy()
        self.edge = edge
        """The right edge in memory (:mod:`ledger_core.engine.right_edge`): told of every committed seal, so
        proofs of new entries need no node read, and the next seal resumes without reading the frontier."""

    def sizes(self) -> tuple[int, int]:
        """(tree size integrated, log size), read now; raises ``LogTruncated`` if the log shrank below the tree."""
        integrated, log_size = self.store.integrated_size(), self.store.log_size()
        if log_size < integrated:
            raise LogTruncated(integrated, log_size)
        return integrated, log_size

    def pending(self) -> int:
        """Entries in the log not yet covered by a checkpoint; raises ``LogTruncated`` if the log shrank."""
        integrated, log_size = self.sizes()
        return log_size - integrated

    def seal_once(self, limit: int | None = None) -> SealResult | None:
        """Integrate up to ``limit`` (default ``max_batch_entries``) new entries and sign; None if none wait.

        Raises ``LogTruncated`` if the log is shorter than the latest checkpoint, ``CheckpointMismatch``
        or ``NodeMismatch`` if the stored right edge is damaged, ``SealConflict`` if another sealer won.
        """
        latest = self.store.latest_checkpoint()
        old_size = 0 if latest is None else latest.size
        log_size = self.store.log_size()
        if log_size < old_size:
            raise LogTruncated(old_size, log_size)
        if log_size == old_size:
            return None
        compact = self._resume(latest)
        frontier = dict(zip(compact.node_ids(), compact.hashes, strict=True))
        target = min(log_size, old_size + (limit or self.policy.max_batch_entries))
        nodes: list[StoredNode] = []
        position = old_size
        while position < target:
            hashes = self.store.leaf_hashes(position, min(target, position + self.policy.read_chunk))
            if not hashes:
                raise LogTruncated(target, position)
            for digest in hashes:
                nodes.extend(compact.append(digest))
            position += len(hashes)
        checkpoint = Checkpoint(self.origin, target, compact.root())
        record = CheckpointRecord(
            size=target,
            root_hash=checkpoint.root_hash,
            note=signed_checkpoint(checkpoint, self.signer),
            signed_at=format_recorded_at(self.clock()),
        )
        self.store.commit_integration(old_size, nodes, record)
        if self.edge is not None:
            self.edge.sealed(old_size, frontier, nodes, target)
        return SealResult(record, old_size, len(nodes))

    def seal_all(self) -> list[SealResult]:
        """Seal until nothing waits (a backlog becomes several checkpoints of ``max_batch_entries``)."""
        results: list[SealResult] = []
        while (result := self.seal_once()) is not None:
            results.append(result)
        return results

    def _resume(self, latest: CheckpointRecord | None) -> CompactRange:
        """The right edge of the tree at the latest checkpoint, checked against its root."""
        if latest is None:
            return CompactRange()
        stated = latest.body()
        if stated.origin != self.origin:
            raise CheckpointMismatch(latest.size, self.origin, stated.origin, "origin differs from this sealer's")
        ids = frontier_ids(latest.size)
        held = None if self.edge is None else self.edge.frontier(latest.size)
        try:
            compact = CompactRange.from_nodes(latest.size, held if held is not None else self.store.fetch_nodes(ids))
        except MissingNodes as missing:
            level, index = missing.node_ids[0]
            raise NodeMismatch(level, index, "a stored node", "nothing") from missing
        if compact.root() != latest.root_hash:
            raise CheckpointMismatch(
                latest.size,
                latest.root_hash.hex(),
                compact.root().hex(),
                "stored frontier nodes do not hash to its root",
            )
        return compact
