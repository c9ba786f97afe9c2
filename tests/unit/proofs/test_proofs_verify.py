"""Verification edge cases and error evidence (proofs.verify, RFC 9162 §2.1.3.2 and §2.1.4.2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from unit.proofs import reference
from unit.proofs.merkle_store import MemoryStore, entries

import proofs.verify
from proofs import (
    EMPTY_ROOT,
    InvalidIndex,
    InvalidProofShape,
    InvalidTreeSizes,
    RootMismatch,
    consistency_path_length,
    consistency_proof,
    inclusion_path_length,
    inclusion_proof,
    leaf_hash,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

DATA = entries(40)
STORE = MemoryStore(DATA)
ROOTS = STORE.roots
SOME = leaf_hash(b"some")


def test_verify_module_does_not_import_prove() -> None:
    """verify.py stands alone: it imports neither proofs.prove nor proofs.tree."""
    tree = ast.parse(Path(proofs.verify.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "collections.abc", "proofs.errors", "proofs.hashing"}


def test_single_leaf_tree_root_is_the_leaf_hash() -> None:
    """In a 1-leaf tree the path is empty and the root equals the leaf hash (Go TestVerifyInclusionSingleEntry)."""
    verify_inclusion(ROOTS[1], 0, 1, [], ROOTS[1])
    with pytest.raises(InvalidProofShape):
        verify_inclusion(b"", 0, 1, [], ROOTS[1])
    with pytest.raises(InvalidProofShape):
        verify_inclusion(ROOTS[1], 0, 1, [], b"")


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (-1, 3)])
def test_impossible_indices_raise_invalid_index(index: int, size: int) -> None:
    """Verification rejects index >= size before hashing (RFC step 1)."""
    with pytest.raises(InvalidIndex):
        verify_inclusion(SOME, index, size, [], EMPTY_ROOT)


def test_root_mismatch_carries_evidence() -> None:
    """A well-formed proof against another root raises RootMismatch with both roots and the size."""
    path = inclusion_proof(5, 20, STORE.fetch)
    with pytest.raises(RootMismatch) as err:
        verify_inclusion(leaf_hash(DATA[5]), 5, 20, path, ROOTS[19])
    assert err.value.expected == ROOTS[19]
    assert err.value.calculated == ROOTS[20]
    assert err.value.tree_size == 20
    assert ROOTS[20].hex() in str(err.value)
    assert ROOTS[19].hex() in str(err.value)


def test_wrong_path_length_is_a_shape_error() -> None:
    """Too long or too short paths raise InvalidProofShape stating the expected length."""
    path = inclusion_proof(5, 20, STORE.fetch)
    assert len(path) == inclusion_path_length(5, 20)
    with pytest.raises(InvalidProofShape, match=f"must have {len(path)} hashes"):
        verify_inclusion(leaf_hash(DATA[5]), 5, 20, path[:-1], ROOTS[20])


def test_root_from_inclusion_proof_recomputes_the_root() -> None:
    """root_from_inclusion_proof returns the MTH the path leads to."""
    assert root_from_inclusion_proof(leaf_hash(DATA[9]), 9, 33, inclusion_proof(9, 33, STORE.fetch)) == ROOTS[33]


def test_inclusion_path_does_not_bind_size() -> None:
    """A path alone does not fix the tree size: take (size, root) together from one verified checkpoint."""
    path = inclusion_proof(0, 3, STORE.fetch)
    verify_inclusion(leaf_hash(DATA[0]), 0, 4, path, ROOTS[3])  # root 3 claimed for size 4 "verifies"
    consistency = consistency_proof(1, 3, STORE.fetch)
    verify_consistency(1, 4, ROOTS[1], ROOTS[3], consistency)  # likewise for a consistency proof


def test_consistency_equal_sizes() -> None:
    """old == new needs an empty path and equal roots."""
    verify_consistency(7, 7, ROOTS[7], ROOTS[7], [])
    with pytest.raises(RootMismatch):
        verify_consistency(7, 7, ROOTS[7], ROOTS[8], [])
    with pytest.raises(InvalidProofShape):
        verify_consistency(7, 7, ROOTS[7], ROOTS[7], [ROOTS[7]])


def test_consistency_from_the_empty_tree() -> None:
    """old == 0 needs an empty path and the empty-tree root; any new tree extends it."""
    verify_consistency(0, 9, EMPTY_ROOT, ROOTS[9], [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(RootMismatch):
        verify_consistency(0, 9, ROOTS[1], ROOTS[9], [])
    with pytest.raises(RootMismatch):
        verify_consistency(0, 0, EMPTY_ROOT, ROOTS[1], [])
    with pytest.raises(InvalidProofShape):
        verify_consistency(0, 9, EMPTY_ROOT, ROOTS[9], [EMPTY_ROOT])
    with pytest.raises(InvalidTreeSizes):
        root_from_consistency_proof(0, 9, EMPTY_ROOT, [])


@pytest.mark.parametrize(("old", "new"), [(2, 1), (1, 0), (-1, 3)])
def test_consistency_sizes_out_of_order(old: int, new: int) -> None:
    """Time travel (old > new) or a negative size raises InvalidTreeSizes."""
    with pytest.raises(InvalidTreeSizes):
        verify_consistency(old, new, ROOTS[1], ROOTS[1], [])


def test_consistency_empty_path_for_growth_is_rejected() -> None:
    """0 < old < new with an empty path fails (RFC §2.1.4.2 step 1)."""
    with pytest.raises(InvalidProofShape, match="empty"):
        verify_consistency(1, 2, ROOTS[1], ROOTS[2], [])


def test_consistency_mismatch_names_the_failing_tree() -> None:
    """A consistency proof against a wrong old root reports the old size; a wrong new root the new size."""
    path = consistency_proof(6, 21, STORE.fetch)
    with pytest.raises(RootMismatch) as old_err:
        verify_consistency(6, 21, ROOTS[5], ROOTS[21], path)
    assert old_err.value.tree_size == 6
    with pytest.raises(RootMismatch) as new_err:
        verify_consistency(6, 21, ROOTS[6], ROOTS[20], path)
    assert (new_err.value.tree_size, new_err.value.calculated) == (21, ROOTS[21])
    assert root_from_consistency_proof(6, 21, ROOTS[6], path) == ROOTS[21]
    assert len(path) == consistency_path_length(6, 21) == len(reference.proof(6, DATA[:21]))


def test_short_hashes_in_consistency_inputs_are_shape_errors() -> None:
    """Roots or path hashes that are not 32 bytes raise InvalidProofShape."""
    path = consistency_proof(3, 9, STORE.fetch)
    with pytest.raises(InvalidProofShape):
        verify_consistency(3, 9, ROOTS[3][:-1], ROOTS[9], path)
    with pytest.raises(InvalidProofShape):
        verify_consistency(3, 9, ROOTS[3], ROOTS[9], [path[0][:-1], *path[1:]])
