"""Stored-node addressing for a Merkle log (RFC 9162 §2.1.1), O(log n) per operation.

A node id is `(level, index)`: level 0 holds leaf hashes, and node `(L, i)` is the
hash of the *perfect* subtree over leaves `[i * 2**L, (i + 1) * 2**L)`. Perfect
nodes never change once complete, so a store can persist each exactly once.
Nodes on the ragged right edge of a tree whose size is not a power of two are
*ephemeral*: they are never stored, and are recomputed by folding the perfect
subtrees below them right to left, exactly as MTH recurses (RFC 9162 §2.1.1):

    MTH(D[0:n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])),  k = largest power of 2 < n

The ideas follow transparency-dev/merkle `compact` (compact ranges, node ids).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from proofs.errors import InvalidProofShape, InvalidRange, MissingNodes
from proofs.hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = [
    "CompactRange",
    "NodeId",
    "NodeMap",
    "StoredNode",
    "fold_range",
    "frontier_ids",
    "is_subtree",
    "root_from_leaves",
    "subtree_root_ids",
]


class NodeId(NamedTuple):
    """Address of a perfect subtree: `level` above the leaves, `index` from the left.

    A plain `(level, index)` tuple compares and hashes equal, so stores may key
    their mappings with either.
    """

    level: int
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: (level, index)

    def coverage(self) -> tuple[int, int]:
        """Return the leaf range [begin, end) this node covers."""
        return self.index << self.level, (self.index + 1) << self.level


NodeMap = Mapping[NodeId, bytes] | Mapping[tuple[int, int], bytes]
"""A store's answer: node id (a `NodeId` or plain `(level, index)` tuple) -> 32-byte hash."""


class StoredNode(NamedTuple):
    """A perfect node that has become complete and should be persisted."""

    level: int
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: (level, index)
    hash: bytes

    @property
    def id(self) -> NodeId:
        """The node's `(level, index)` address."""
        return NodeId(self.level, self.index)


def is_subtree(begin: int, end: int) -> bool:
    """Whether [begin, end) is a subtree range: MTH of it is computable from stored nodes.

    True when 0 <= begin <= end and begin is a multiple of the smallest power of two
    >= end - begin (every range [0, n) qualifies, and so does every range MTH's
    recursion visits while building PATH or SUBPROOF, RFC 9162 §2.1.3.1, §2.1.4.1).
    """
    if begin < 0 or end < begin:
        return False
    size = end - begin
    if size <= 1:
        return True
    bit_ceil = 1 << (size - 1).bit_length()
    return begin % bit_ceil == 0


def subtree_root_ids(begin: int, end: int) -> list[NodeId]:
    """Decompose the subtree range [begin, end) into perfect nodes, left to right.

    The nodes have strictly decreasing levels; `fold_range` of their hashes is
    MTH(D[begin:end]) (RFC 9162 §2.1.1). Raises `InvalidRange` when [begin, end) is
    not a subtree range (see `is_subtree`): for such a range the RFC's split points
    do not fall on stored node boundaries.
    """
    if not is_subtree(begin, end):
        raise InvalidRange(begin, end, "begin must be a multiple of the smallest power of 2 >= end - begin")
    ids: list[NodeId] = []
    pos = begin
    remaining = end - begin
    while remaining:
        level = remaining.bit_length() - 1
        ids.append(NodeId(level, pos >> level))
        pos += 1 << level
        remaining -= 1 << level
    return ids


def frontier_ids(size: int) -> list[NodeId]:
    """The perfect nodes covering [0, size), left to right: what `CompactRange` needs.

    One per set bit of `size` (at most 64 for any realistic log), so a store can
    load the whole right edge of the tree in one read.
    """
    if size < 0:
        raise InvalidRange(0, size, "size must be >= 0")
    return subtree_root_ids(0, size)


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect-subtree hashes (left to right, decreasing size) into their MTH.

    Folds right to left: h[0] . (h[1] . (... . h[-1])), which is how MTH splits a
    ragged range (RFC 9162 §2.1.1). An empty sequence is the empty tree.
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


def root_from_leaves(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH over the given leaf hashes (RFC 9162 §2.1.1), in O(n) time and O(log n) memory.

    Meant for small trees and tests; a log of millions of entries keeps a
    `CompactRange` instead of rehashing.
    """
    compact = CompactRange()
    for leaf in leaf_hashes:
        compact.append(leaf)
    return compact.root()


class CompactRange:
    """The right edge of a Merkle tree of `size` leaves: enough to append and to compute MTH.

    Holds one hash per set bit of `size` (the nodes of `frontier_ids(size)`), so
    appending to a log of 10M+ entries costs O(1) amortised hashes and O(log n)
    memory. Each `append` reports the perfect nodes that became complete, so an
    adapter persists every node exactly once and proofs never recompute the tree.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Resume from the hashes of `frontier_ids(size)`, in that order (left to right)."""
        if size < 0:
            raise InvalidRange(0, size, "size must be >= 0")
        if len(hashes) != size.bit_count():
            raise InvalidRange(0, size, f"needs {size.bit_count()} frontier hashes, got {len(hashes)}")
        for h in hashes:
            _check_hash(h, "frontier hash")
        self._size = size
        self._hashes = [bytes(h) for h in hashes]

    @classmethod
    def from_nodes(cls, size: int, nodes: NodeMap) -> CompactRange:
        """Resume from a store's answer to `frontier_ids(size)`; raises `MissingNodes` on gaps."""
        ids = frontier_ids(size)
        missing = tuple(i for i in ids if i not in nodes)
        if missing:
            raise MissingNodes(missing)
        return cls(size, [nodes[i] for i in ids])

    @property
    def size(self) -> int:
        """Number of leaves covered, [0, size)."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Hashes of `frontier_ids(size)`, left to right."""
        return tuple(self._hashes)

    def node_ids(self) -> list[NodeId]:
        """Ids of the held hashes (`frontier_ids(size)`)."""
        return frontier_ids(self._size)

    def append(self, leaf_hash: bytes) -> list[StoredNode]:
        """Append leaf `size`; return the perfect nodes completed by it, bottom up.

        The first node is always the leaf itself, `(0, old size)`; then one parent
        per trailing 1-bit of the old size. Persist all of them.
        """
        _check_hash(leaf_hash, "leaf hash")
        index = self._size
        seed = bytes(leaf_hash)
        level = 0
        created = [StoredNode(0, index, seed)]
        while index & 1:
            seed = node_hash(self._hashes.pop(), seed)
            index >>= 1
            level += 1
            created.append(StoredNode(level, index, seed))
        self._hashes.append(seed)
        self._size += 1
        return created

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[StoredNode]:
        """Append many leaves; return every completed perfect node, in creation order."""
        created: list[StoredNode] = []
        for leaf in leaf_hashes:
            created.extend(self.append(leaf))
        return created

    def root(self) -> bytes:
        """MTH(D[0:size]) (RFC 9162 §2.1.1); `EMPTY_ROOT` when size is 0."""
        return fold_range(self._hashes)

    def copy(self) -> CompactRange:
        """An independent copy (appending to it leaves this range unchanged)."""
        return CompactRange(self._size, self._hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise InvalidProofShape(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")
