"""The tree's right edge in memory: what the sealer just integrated, so that the inclusion proof of a new
entry is built without reading nodes back from the store (issue 13, item 3; docs/performance.md).

:class:`RightEdge` keeps the node lists of the last seals of this process (as
:meth:`proofs.tree.CompactRange.append` returned them: leaf by leaf, each leaf's node first, then the
parents it completes) covering at least the last ``window`` leaves, and the frontier (compact range) of
the first leaf they cover. The audit path of leaf ``i`` (RFC 9162 §2.1.3.1) is the frontier of ``i`` (its
left siblings: nodes of that frontier or completed since) and subtrees right of ``i``, so the proof of
any of the last ``window`` entries comes entirely from memory; an older one reads what is missing from
the store (tiles: immutable, cached). A node is found by arithmetic, not by a map: node ``(k, j)`` is
completed by leaf ``p = ((j + 1) << k) - 1``, and leaf ``q`` completes ``1 + ctz(q + 1)`` nodes, so the
nodes of the leaves ``s .. p - 1`` number ``(2p - popcount(p)) - (2s - popcount(s))``: recording a seal
costs O(1), and forgetting old seals (once the seals cover twice the window) O(log n) per seal forgotten.

Every node held was committed by this process's sealer (or read from the store and checked against a
signed root when the sealer resumed), and a perfect node never changes once complete, so a node from
memory is the node the store holds. When another sealer committed in between (``old_size`` is not the
size held), the edge starts over from the sealer's checked frontier. Thread-safe (the sealer thread
writes, request threads read). Pure: no I/O.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from proofs.tree import NodeId, StoredNode, frontier_ids

__all__ = ["RightEdge"]

DEFAULT_WINDOW = 4096
"""Leaves kept at the right edge: proofs of the last 4,096 entries (at least) come from memory."""


class _Seal(NamedTuple):
    """The nodes one seal completed, for the leaves ``[start, end)``."""

    start: int
    end: int
    nodes: Sequence[StoredNode]

    def node(self, level: int, index: int) -> bytes | None:
        leaf = ((index + 1) << level) - 1  # the leaf that completed the node
        if not self.start <= leaf < self.end:
            return None
        at = (2 * leaf - leaf.bit_count()) - (2 * self.start - self.start.bit_count()) + level
        found = self.nodes[at] if at < len(self.nodes) else None
        return found.hash if found is not None and (found.level, found.index) == (level, index) else None


class RightEdge:
    """Perfect nodes near the right edge of the tree last sealed here; see the module docstring."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError("the right edge keeps at least 1 leaf")
        self.window = window
        self._seals: deque[_Seal] = deque()
        self._frontier: dict[tuple[int, int], bytes] = {}  # of the first leaf the seals cover (or of size)
        self._size = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """The tree size the edge is complete for (0: nothing held yet)."""
        return self._size

    def frontier(self, size: int) -> dict[NodeId, bytes] | None:
        """The frontier nodes of ``size`` when the edge holds that size (a sealer resuming), else None."""
        with self._lock:
            if size != self._size or size == 0:
                return None
            wanted = frontier_ids(size)
            found = {node: digest for node in wanted if (digest := self._node(node.level, node.index)) is not None}
        return found if len(found) == len(wanted) else None

    def sealed(self, old_size: int, frontier: Mapping[NodeId, bytes], nodes: Sequence[StoredNode], size: int) -> None:
        """Record an integration from ``old_size`` to ``size``: ``frontier`` holds the nodes of
        ``frontier_ids(old_size)`` the sealer started from, ``nodes`` every perfect node it completed, in
        the order :meth:`proofs.tree.CompactRange.append` returns them."""
        with self._lock:
            if old_size != self._size or not self._seals:  # another sealer committed in between: start over
                self._seals.clear()
                self._frontier = {(node.level, node.index): digest for node, digest in frontier.items()}
            self._seals.append(_Seal(old_size, size, nodes))
            self._size = size
            if size - self._seals[0].start >= 2 * self.window:  # now and then, not at every seal
                dropped = []
                while len(self._seals) > 1 and size - self._seals[1].start >= self.window:
                    dropped.append(self._seals.popleft())
                self._move_frontier(dropped)

    def _move_frontier(self, dropped: Sequence[_Seal]) -> None:
        """Forget the ``dropped`` seals (the oldest); the frontier moves to the first leaf still covered:
        each of its O(log n) nodes is in the old frontier or was completed by one of them."""
        starts = [seal.start for seal in dropped]
        frontier = {}
        for level, index in frontier_ids(self._seals[0].start):
            leaf = ((index + 1) << level) - 1
            at = bisect.bisect_right(starts, leaf) - 1
            digest = dropped[at].node(level, index) if at >= 0 else None
            frontier[level, index] = digest if digest is not None else self._frontier[level, index]
        self._frontier = frontier

    def _node(self, level: int, index: int) -> bytes | None:
        for seal in reversed(self._seals):
            digest = seal.node(level, index)
            if digest is not None:
                return digest
        return self._frontier.get((level, index))

    def fetch(self, ids: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """The nodes of ``ids`` held here (a subset; the caller reads the rest from the store)."""
        with self._lock:
            return {node: digest for node in ids if (digest := self._node(node[0], node[1])) is not None}
