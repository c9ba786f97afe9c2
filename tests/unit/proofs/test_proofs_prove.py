"""Proof generation from stored nodes (proofs.prove): plans, one batched fetch, edge cases."""

from __future__ import annotations

import pytest
from unit.proofs import reference
from unit.proofs.merkle_store import MemoryStore, entries

from proofs import (
    InvalidIndex,
    InvalidProofShape,
    InvalidTreeSizes,
    MissingNodes,
    consistency_proof,
    consistency_proof_ids,
    inclusion_path_length,
    inclusion_proof,
    inclusion_proof_ids,
)

DATA = entries(100)


def test_fetch_is_called_once_with_every_needed_node() -> None:
    """Each proof costs exactly one batched fetch of O(log n) distinct node ids."""
    store = MemoryStore(DATA)
    inclusion_proof(37, 95, store.fetch)
    consistency_proof(37, 95, store.fetch)
    assert len(store.fetch_calls) == 2
    for call in store.fetch_calls:
        assert len(call) == len(set(call)) <= 2 * 7


def test_empty_proofs_fetch_nothing() -> None:
    """Trivial proofs (size 1, old == new, old == 0) are empty and make no fetch."""
    store = MemoryStore(DATA[:5])
    assert inclusion_proof(0, 1, store.fetch) == []
    assert consistency_proof(5, 5, store.fetch) == []
    assert consistency_proof(0, 5, store.fetch) == []
    assert consistency_proof(0, 0, store.fetch) == []
    assert store.fetch_calls == []


def test_plans_for_a_ten_million_leaf_log_are_small() -> None:
    """Plans for a 10M+ leaf log touch O(log n) nodes, all perfect and inside the tree."""
    size = 10_000_019
    for plan in (inclusion_proof_ids(4_321_987, size), consistency_proof_ids(7_777_777, size)):
        assert len(plan.node_ids) <= 2 * size.bit_length()
        for node in plan.node_ids:
            assert node.coverage()[1] <= size
    assert len(inclusion_proof_ids(4_321_987, size).elements) == inclusion_path_length(4_321_987, size)


def test_power_of_two_old_tree_omits_its_root() -> None:
    """When the old tree is a perfect subtree its root is not repeated in the proof (RFC SUBPROOF b=true)."""
    store = MemoryStore(DATA[:16])
    path = consistency_proof(8, 16, store.fetch)
    assert path == [store.nodes[(3, 1)]]
    assert path == reference.proof(8, DATA[:16])


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (6, 5), (-1, 5)])
def test_inclusion_index_out_of_range_is_rejected(index: int, size: int) -> None:
    """index >= size (or negative) raises InvalidIndex carrying both numbers."""
    with pytest.raises(InvalidIndex) as err:
        inclusion_proof_ids(index, size)
    assert (err.value.index, err.value.size) == (index, size)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(("old", "new"), [(6, 5), (-1, 5), (1, 0)])
def test_consistency_sizes_out_of_order_are_rejected(old: int, new: int) -> None:
    """old > new or old < 0 raises InvalidTreeSizes."""
    with pytest.raises(InvalidTreeSizes):
        consistency_proof_ids(old, new)


def test_missing_nodes_are_reported_by_id() -> None:
    """A store that lacks a node makes the proof fail with MissingNodes naming it."""
    store = MemoryStore(DATA[:7])
    del store.nodes[(1, 2)]
    with pytest.raises(MissingNodes) as err:
        inclusion_proof(0, 7, store.fetch)
    assert err.value.node_ids == ((1, 2),)
    assert "(1, 2)" in str(err.value)


def test_corrupt_stored_hash_is_rejected() -> None:
    """A stored hash that is not 32 bytes raises InvalidProofShape instead of producing a bad proof."""
    store = MemoryStore(DATA[:4])
    store.nodes[(0, 1)] = b"\x00" * 31
    with pytest.raises(InvalidProofShape):
        inclusion_proof(0, 4, store.fetch)


def test_fetch_may_return_plain_tuple_keys() -> None:
    """A fetch answering with (level, index) tuples works the same as NodeId keys."""
    store = MemoryStore(DATA[:9])

    def fetch(ids: object) -> dict[tuple[int, int], bytes]:
        return {(level, index): h for (level, index), h in store.nodes.items()}

    assert inclusion_proof(3, 9, fetch) == reference.path(3, DATA[:9])
