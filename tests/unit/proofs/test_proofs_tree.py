"""Node addressing, subtree decomposition and CompactRange (proofs.tree)."""

from __future__ import annotations

import pytest
from unit.proofs import reference
from unit.proofs.merkle_store import MemoryStore, entries

from proofs import (
    EMPTY_ROOT,
    CompactRange,
    InvalidProofShape,
    InvalidRange,
    MissingNodes,
    NodeId,
    StoredNode,
    fold_range,
    frontier_ids,
    is_subtree,
    leaf_hash,
    root_from_leaves,
    subtree_root_ids,
)

DATA = entries(70)


def test_node_id_is_a_plain_tuple_key() -> None:
    """NodeId compares and hashes like (level, index), so stores may key dicts with either."""
    assert NodeId(3, 5) == (3, 5)
    assert {(3, 5): b"x"}[NodeId(3, 5)] == b"x"
    assert NodeId(3, 5).coverage() == (40, 48)


def test_stored_node_exposes_its_id() -> None:
    """StoredNode carries (level, index, hash) and its NodeId."""
    node = StoredNode(2, 1, b"h" * 32)
    assert node.id == NodeId(2, 1)
    assert tuple(node) == (2, 1, b"h" * 32)


@pytest.mark.parametrize(
    ("size", "ids"),
    [(0, []), (1, [(0, 0)]), (6, [(2, 0), (1, 2)]), (7, [(2, 0), (1, 2), (0, 6)]), (8, [(3, 0)])],
)
def test_frontier_ids_one_per_set_bit(size: int, ids: list[tuple[int, int]]) -> None:
    """frontier_ids(size) lists the perfect subtrees covering [0, size), largest first."""
    assert frontier_ids(size) == ids


def test_frontier_of_a_huge_log_is_tiny() -> None:
    """A log of 10M+ entries needs at most one frontier node per bit of its size."""
    size = 10_123_457
    ids = frontier_ids(size)
    assert len(ids) == size.bit_count()
    assert sum(1 << node.level for node in ids) == size


@pytest.mark.parametrize(("begin", "end"), [(0, 0), (0, 5), (4, 7), (8, 16), (16, 21), (12, 13), (64, 70)])
def test_subtree_root_ids_fold_to_the_range_mth(begin: int, end: int) -> None:
    """For a subtree range, folding its decomposition gives MTH(D[begin:end])."""
    store = MemoryStore(DATA)
    ids = subtree_root_ids(begin, end)
    assert sum(1 << node.level for node in ids) == end - begin
    assert fold_range([store.nodes[i] for i in ids]) == reference.mth(DATA[begin:end])


@pytest.mark.parametrize(("begin", "end"), [(1, 4), (2, 5), (4, 9), (3, 2), (-1, 3)])
def test_non_subtree_ranges_are_rejected(begin: int, end: int) -> None:
    """Ranges whose MTH does not split on stored node boundaries raise InvalidRange."""
    assert not is_subtree(begin, end)
    with pytest.raises(InvalidRange):
        subtree_root_ids(begin, end)


def test_negative_size_is_rejected() -> None:
    """frontier_ids and CompactRange reject negative sizes."""
    with pytest.raises(InvalidRange):
        frontier_ids(-1)
    with pytest.raises(InvalidRange):
        CompactRange(-1)


def test_fold_range_of_nothing_is_the_empty_root() -> None:
    """fold_range([]) and root_from_leaves([]) are EMPTY_ROOT."""
    assert fold_range([]) == EMPTY_ROOT == root_from_leaves([]) == CompactRange().root()


def test_append_reports_leaf_then_completed_parents() -> None:
    """Appending leaf 7 completes (0,7), (1,3), (2,1) and (3,0), in that order."""
    compact = CompactRange()
    compact.extend(leaf_hash(e) for e in DATA[:7])
    created = compact.append(leaf_hash(DATA[7]))
    assert [n.id for n in created] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert created[-1].hash == compact.root() == reference.mth(DATA[:8])
    assert [n.id for n in compact.append(leaf_hash(DATA[8]))] == [(0, 8)]


def test_resume_from_frontier_and_copy() -> None:
    """A CompactRange rebuilt from stored frontier nodes equals the original and continues identically."""
    store = MemoryStore(DATA[:45])
    resumed = CompactRange.from_nodes(45, store.nodes)
    assert resumed == store.compact
    copy = resumed.copy()
    assert resumed.append(leaf_hash(DATA[45])) == store.append(DATA[45])
    assert copy.size == 45
    assert resumed.size == 46
    assert resumed.node_ids() == frontier_ids(46)
    assert "size=46" in repr(resumed)


def test_resume_with_missing_or_bad_frontier_fails() -> None:
    """Missing frontier nodes raise MissingNodes; wrong counts or sizes raise typed errors."""
    store = MemoryStore(DATA[:6])
    with pytest.raises(MissingNodes) as missing:
        CompactRange.from_nodes(7, store.nodes)
    assert missing.value.node_ids == ((0, 6),)
    with pytest.raises(InvalidRange):
        CompactRange(6, [store.nodes[(2, 0)]])
    with pytest.raises(InvalidProofShape):
        CompactRange(6, [store.nodes[(2, 0)], b"short"])
    with pytest.raises(InvalidProofShape):
        CompactRange().append(b"short")


def test_compact_range_is_not_hashable_and_compares_by_value() -> None:
    """CompactRange is mutable: equal by content, unhashable, and unequal to other types."""
    assert CompactRange() == CompactRange()
    assert CompactRange() != "CompactRange()"
    with pytest.raises(TypeError):
        hash(CompactRange())
