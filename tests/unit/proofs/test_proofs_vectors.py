"""Known-answer tests: transparency-dev/merkle (certificate-transparency) vectors in tests/data."""

from __future__ import annotations

from typing import Any

import pytest
from unit.proofs.merkle_store import MemoryStore

from proofs import (
    EMPTY_ROOT,
    CompactRange,
    InvalidIndex,
    InvalidTreeSizes,
    ProofError,
    ProofPlan,
    consistency_proof,
    consistency_proof_ids,
    frontier_ids,
    inclusion_proof,
    inclusion_proof_ids,
    leaf_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)


def _leaves(v: Any) -> list[bytes]:
    return [bytes.fromhex(x) for x in v["leaves"]]


def _store(v: Any) -> MemoryStore:
    return MemoryStore(_leaves(v))


def _go_form(plan: ProofPlan) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Our plan as Go lists it: ephemeral groups bottom-up, plus their [begin, end) positions."""
    ids: list[list[int]] = []
    rehash: list[tuple[int, int]] = []
    for group in plan.elements:
        if len(group) > 1:
            rehash.append((len(ids), len(ids) + len(group)))
        ids.extend([node.level, node.index] for node in reversed(group))
    return ids, rehash


def test_empty_root_is_sha256_of_nothing(rfc_vectors: Any) -> None:
    """EMPTY_ROOT equals the published root of the size-0 tree."""
    assert EMPTY_ROOT.hex() == rfc_vectors["roots"][0]


def test_leaf_hashes_match_level_zero(rfc_vectors: Any) -> None:
    """leaf_hash of each vector input equals the published level-0 node hash."""
    assert [leaf_hash(x).hex() for x in _leaves(rfc_vectors)] == rfc_vectors["node_hashes"][0]


def test_roots_for_sizes_0_to_8(rfc_vectors: Any) -> None:
    """root_from_leaves and CompactRange.root give the published root of every prefix."""
    hashes = [leaf_hash(x) for x in _leaves(rfc_vectors)]
    for size, want in enumerate(rfc_vectors["roots"]):
        assert root_from_leaves(hashes[:size]).hex() == want
    assert [r.hex() for r in _store(rfc_vectors).roots] == rfc_vectors["roots"]


def test_stored_nodes_are_the_published_node_hashes(rfc_vectors: Any) -> None:
    """Appending the 8 leaves stores exactly the published perfect nodes, level by level."""
    store = _store(rfc_vectors)
    want = {(level, index): h for level, row in enumerate(rfc_vectors["node_hashes"]) for index, h in enumerate(row)}
    assert {k: v.hex() for k, v in store.nodes.items()} == want


def test_compact_trees_match_frontiers(rfc_vectors: Any) -> None:
    """frontier_ids(size) and the CompactRange hashes equal Go's CompactTrees for sizes 0..8."""
    node_hashes = rfc_vectors["node_hashes"]
    compact = CompactRange()
    hashes = [leaf_hash(x) for x in _leaves(rfc_vectors)]
    for size, want_ids in enumerate(rfc_vectors["compact_trees"]):
        assert [list(i) for i in frontier_ids(size)] == want_ids
        assert [h.hex() for h in compact.hashes] == [node_hashes[lv][ix] for lv, ix in want_ids]
        if size < len(hashes):
            compact.append(hashes[size])


@pytest.mark.parametrize("case", range(5))
def test_inclusion_vectors_generate_and_verify(rfc_vectors: Any, case: int) -> None:
    """Generated inclusion paths equal the published ones and verify against the published root."""
    vec = rfc_vectors["inclusion_proofs"][case]
    index, size = vec["leaf_index"], vec["tree_size"]
    store = _store(rfc_vectors)
    path = inclusion_proof(index, size, store.fetch)
    assert [h.hex() for h in path] == vec["path"]
    leaf = leaf_hash(_leaves(rfc_vectors)[index])
    root = bytes.fromhex(rfc_vectors["roots"][size])
    verify_inclusion(leaf, index, size, [bytes.fromhex(h) for h in vec["path"]], root)


@pytest.mark.parametrize("case", range(5))
def test_consistency_vectors_generate_and_verify(rfc_vectors: Any, case: int) -> None:
    """Generated consistency paths equal the published ones and verify between published roots."""
    vec = rfc_vectors["consistency_proofs"][case]
    old, new = vec["old_size"], vec["new_size"]
    store = _store(rfc_vectors)
    assert [h.hex() for h in consistency_proof(old, new, store.fetch)] == vec["path"]
    roots = [bytes.fromhex(r) for r in rfc_vectors["roots"]]
    verify_consistency(old, new, roots[old], roots[new], [bytes.fromhex(h) for h in vec["path"]])


def test_all_proofs_over_the_vector_tree_verify(rfc_vectors: Any) -> None:
    """Every inclusion and consistency proof in the 8-leaf vector tree verifies against published roots."""
    store = _store(rfc_vectors)
    roots = [bytes.fromhex(r) for r in rfc_vectors["roots"]]
    leaves = _leaves(rfc_vectors)
    for size in range(1, 9):
        for index in range(size):
            path = inclusion_proof(index, size, store.fetch)
            verify_inclusion(leaf_hash(leaves[index]), index, size, path, roots[size])
    for new in range(9):
        for old in range(new + 1):
            verify_consistency(old, new, roots[old], roots[new], consistency_proof(old, new, store.fetch))


def test_inclusion_node_plans_match_go(rfc_vectors: Any) -> None:
    """inclusion_proof_ids names the same stored nodes as Go's proof.Inclusion, same order and groups."""
    for case in rfc_vectors["go_inclusion_plans"]:
        ids, rehash = _go_form(inclusion_proof_ids(case["index"], case["size"]))
        assert ids == case["ids"], case
        assert rehash == ([tuple(case["rehash"])] if "rehash" in case else []), case


def test_consistency_node_plans_match_go(rfc_vectors: Any) -> None:
    """consistency_proof_ids names the same stored nodes as Go's proof.Consistency, same order and groups."""
    for case in rfc_vectors["go_consistency_plans"]:
        ids, rehash = _go_form(consistency_proof_ids(case["size1"], case["size2"]))
        assert ids == case["ids"], case
        assert rehash == ([tuple(case["rehash"])] if "rehash" in case else []), case


def test_go_error_cases_are_rejected(rfc_vectors: Any) -> None:
    """The (size, index) and (size1, size2) pairs Go rejects raise our typed argument errors."""
    for size, index in rfc_vectors["go_inclusion_errors"]:
        with pytest.raises(InvalidIndex):
            inclusion_proof_ids(index, size)
    for size1, size2 in rfc_vectors["go_consistency_errors"]:
        with pytest.raises(InvalidTreeSizes):
            consistency_proof_ids(size1, size2)


def test_vector_roots_reject_each_other(rfc_vectors: Any) -> None:
    """A valid vector proof fails against the root of any other tree size."""
    vec = rfc_vectors["inclusion_proofs"][2]
    leaf = leaf_hash(_leaves(rfc_vectors)[vec["leaf_index"]])
    path = [bytes.fromhex(h) for h in vec["path"]]
    for size, root in enumerate(rfc_vectors["roots"]):
        if size != vec["tree_size"]:
            with pytest.raises(ProofError):
                verify_inclusion(leaf, vec["leaf_index"], vec["tree_size"], path, bytes.fromhex(root))
