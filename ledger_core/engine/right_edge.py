"""The tree's right edge in memory: what the sealer just integrated, so that the inclusion proof of a new
entry is built without reading nodes back from the store (issue 13, item 3; docs/performance.md).

:class:`RightEdge` holds, for the size ``n`` last sealed by this process, every perfect node (RFC 9162
§2.1.1 subtree hash, leaves included) that starts in the last ``window`` leaves, plus the frontiers
(compact ranges) of the sizes ``n - window .. n``: the audit path of leaf ``i`` (RFC 9162 §2.1.3.1) is
the frontier of ``i`` (its left siblings) and subtrees right of ``i``, so the proof of any of the last
``window`` entries comes entirely from memory (about ``2 window + 2 log n`` nodes); an older one reads
what is missing from the store (tiles: immutable, cached).

Every node held was committed by this process's sealer (or read from the store and checked against a
signed root when the sealer resumed), and a perfect node never changes once complete, so a node from
memory is the node the store holds. When another sealer committed in between (``old_size`` is not the
size held), the edge starts over from the sealer's checked frontier. Thread-safe (the sealer thread
writes, request threads read). Pure: no I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence

from proofs.tree import NodeId, StoredNode, frontier_ids

__all__ = ["RightEdge"]

DEFAULT_WINDOW = 4096
"""Leaves kept at the right edge: proofs of the last 4,096 entries come from memory (8k-12k nodes, ~1-2 MB)."""


class RightEdge:
    """Perfect nodes near the right edge of the tree last sealed here; see the module docstring."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 2:
            raise ValueError("the right edge keeps at least 2 leaves")
        self.window = window
        self._nodes: dict[tuple[int, int], bytes] = {}  # by (level, index): NodeId hashes and compares alike
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
            found = {node: self._nodes[node] for node in wanted if node in self._nodes}
        return found if len(found) == len(wanted) else None

    def sealed(self, old_size: int, frontier: Mapping[NodeId, bytes], nodes: Sequence[StoredNode], size: int) -> None:
        """Record an integration from ``old_size`` to ``size``: ``frontier`` holds the nodes of
        ``frontier_ids(old_size)`` the sealer started from, ``nodes`` every perfect node it completed, in
        the order :meth:`proofs.tree.CompactRange.append` returns them (leaf by leaf, each leaf's node
        first, then the parents it completes)."""
        with self._lock:
            if old_size != self._size:
                self._nodes = {(node.level, node.index): digest for node, digest in frontier.items()}  # start over
            self._size = size
            floor = size - self.window
            if floor <= old_size:
                self._nodes.update({(node.level, node.index): node.hash for node in nodes})
            else:  # a backlog: the nodes completed from leaf ``floor`` on, and the frontier of ``floor``
                self._keep_tail(old_size, floor, nodes)
            if len(self._nodes) > 3 * self.window + 64:
                self._evict()

    def _keep_tail(self, old_size: int, floor: int, nodes: Sequence[StoredNode]) -> None:
        """Of a backlog's nodes, keep what the window needs without looking at the others: leaf ``q``
        completes ``1 + ctz(q + 1)`` nodes, so those of leaf ``p`` start at ``offset(p)`` below."""
        base = 2 * old_size - old_size.bit_count()

        def offset(leaf: int) -> int:  # nodes completed by the leaves old_size .. leaf - 1
            return 2 * leaf - leaf.bit_count() - base

        held = self._nodes
        held.update({(node.level, node.index): node.hash for node in nodes[offset(floor) :]})
        for level, index in frontier_ids(floor):
            leaf = ((index + 1) << level) - 1  # the leaf that completed it
            if leaf >= old_size:
                node = nodes[offset(leaf) + level]
                held[node.level, node.index] = node.hash

    def _evict(self) -> None:
        """Keep only what the window needs (amortized: one pass once the map has grown by about a window's
        worth of nodes)."""
        floor = self._size - self.window
        self._nodes = {node: digest for node, digest in self._nodes.items() if _needed(node[0], node[1], floor)}

    def fetch(self, ids: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """The nodes of ``ids`` held here (a subset; the caller reads the rest from the store)."""
        with self._lock:
            nodes = self._nodes
            return {node: nodes[node] for node in ids if node in nodes}


def _needed(level: int, index: int, floor: int) -> bool:
    """Whether the proofs of leaves ``floor`` and up need node ``(level, index)``: the audit path of leaf
    ``i`` is ``frontier_ids(i)`` (its left siblings) and subtrees right of ``i`` (RFC 9162 §2.1.3.1). So a
    node is needed if it starts at ``floor`` or later, or if it is in the frontier of a size from ``floor``
    on: node ``(k, j)`` with ``j`` even is in ``frontier_ids(m)`` for ``m`` in ``[(j + 1) << k, (j + 2) << k)``."""
    return (index << level) >= floor or (index % 2 == 0 and ((index + 2) << level) > floor)
