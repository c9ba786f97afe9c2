"""Proof generation from stored nodes: RFC 9162 §2.1.3.1 (PATH) and §2.1.4.1 (SUBPROOF).

Proofs are planned first, as node ids only (no hashing, no I/O), then built from
ONE batched read of O(log n) perfect nodes. Each audit-path hash is MTH of a
subtree range; a perfect range is one stored node, and the (at most one)
ragged range on the right edge of the tree is the right-to-left fold of the
perfect nodes under it (`proofs.tree.fold_range`). Nothing is ever recomputed
from leaves, so a proof in a log of 10M+ entries costs a single small query.

The recursion follows the RFC text; see transparency-dev/merkle proof/proof.go
for the same node plans (it orders the nodes of a ragged range bottom-up, we
keep them left to right).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from proofs.errors import InvalidIndex, InvalidProofShape, InvalidTreeSizes, MissingNodes
from proofs.hashing import HASH_SIZE
from proofs.tree import NodeId, NodeMap, fold_range, subtree_root_ids

__all__ = [
    "Fetch",
    "ProofPlan",
    "consistency_proof",
    "consistency_proof_ids",
    "inclusion_proof",
    "inclusion_proof_ids",
]

Fetch = Callable[[Sequence[NodeId]], NodeMap]
"""Batched node read: given node ids, return a mapping id -> 32-byte hash for all of them."""


@dataclass(frozen=True)
class ProofPlan:
    """Which stored nodes make up a proof, one group per audit-path hash, in RFC order.

    A group with one id is a perfect subtree; a longer group (left to right,
    decreasing level) is an ephemeral right-edge subtree, hashed by folding right
    to left.
    """

    elements: tuple[tuple[NodeId, ...], ...]

    @functools.cached_property
    def node_ids(self) -> tuple[NodeId, ...]:
        """Every node id the proof needs, in proof order, each once: the batch to fetch (computed once)."""
        seen: dict[NodeId, None] = {}
        for group in self.elements:
            for node in group:
                seen.setdefault(node, None)
        return tuple(seen)

    def assemble(self, nodes: NodeMap) -> list[bytes]:
        """Build the audit path from fetched node hashes.

        Raises `MissingNodes` for ids absent from `nodes` and `InvalidProofShape` for
        a stored hash that is not 32 bytes.
        """
        missing = tuple(node for node in self.node_ids if node not in nodes)
        if missing:
            raise MissingNodes(missing)
        for node in self.node_ids:
            if len(nodes[node]) != HASH_SIZE:
                raise InvalidProofShape(f"stored node {tuple(node)} is {len(nodes[node])} bytes, not {HASH_SIZE}")
        return [fold_range([bytes(nodes[node]) for node in group]) for group in self.elements]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2): MTH's split point k (RFC 9162 §2.1.1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _plan(ranges: list[tuple[int, int]]) -> ProofPlan:
    return ProofPlan(tuple(_range_ids(begin, end) for begin, end in ranges))


@functools.lru_cache(maxsize=8192)
def _range_ids(begin: int, end: int) -> tuple[NodeId, ...]:
    """``subtree_root_ids(begin, end)`` as a tuple, memoised: proofs of nearby leaves in one tree share
    most of their sibling ranges (a batch of proofs plans each shared range once)."""
    return tuple(subtree_root_ids(begin, end))


def inclusion_proof_ids(index: int, size: int) -> ProofPlan:
    """Plan PATH(index, D[size]) (RFC 9162 §2.1.3.1). Requires 0 <= index < size.

    PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])      for m < k
    PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])  for m >= k
    The sibling nearest the leaf comes first; a tree of size 1 has an empty path.
    """
    if not 0 <= index < size:
        raise InvalidIndex(index, size)
    siblings: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:  # walk from the root down to the leaf
        k = _split(end - begin)
        if index - begin < k:
            siblings.append((begin + k, end))
            end = begin + k
        else:
            siblings.append((begin, begin + k))
            begin += k
    siblings.reverse()  # the RFC lists the path from the leaf up
    return _plan(siblings)


def consistency_proof_ids(old_size: int, new_size: int) -> ProofPlan:
    """Plan PROOF(old_size, D[new_size]) = SUBPROOF(m, D[n], true) (RFC 9162 §2.1.4.1).

    SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
    SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])              for m <= k
    SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])      for m > k
    The RFC defines 0 < m < n; for m == n and m == 0 the proof is empty (nothing to
    prove beyond comparing roots, resp. the empty tree being a prefix of any tree).
    """
    if not 0 <= old_size <= new_size:
        raise InvalidTreeSizes(old_size, new_size)
    if old_size in (0, new_size):
        return ProofPlan(())
    ranges: list[tuple[int, int]] = []
    begin, end, known = 0, new_size, True
    while old_size != end:  # walk down until the old tree's right edge is a subtree boundary
        k = _split(end - begin)
        if old_size - begin <= k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
            known = False
    if not known:  # MTH(D[begin:old_size]) is not the old root: the verifier needs it
        ranges.append((begin, end))
    ranges.reverse()
    return _plan(ranges)


def _build(plan: ProofPlan, fetch: Fetch) -> list[bytes]:
    ids = plan.node_ids
    if not ids:
        return []
    return plan.assemble(fetch(ids))


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    """The RFC 9162 inclusion path (§2.1.3.1) for leaf `index` in the tree of `size` leaves.

    `fetch` is called once with every node id needed (not at all for an empty path).
    Raises `InvalidIndex`, `MissingNodes`, `InvalidProofShape`.
    """
    return _build(inclusion_proof_ids(index, size), fetch)


def consistency_proof(old_size: int, new_size: int, fetch: Fetch) -> list[bytes]:
    """The RFC 9162 consistency path (§2.1.4.1) from tree size `old_size` to `new_size`.

    `fetch` is called once with every node id needed (not at all for an empty path).
    Raises `InvalidTreeSizes`, `MissingNodes`, `InvalidProofShape`.
    """
    return _build(consistency_proof_ids(old_size, new_size), fetch)
