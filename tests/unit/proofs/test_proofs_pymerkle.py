"""Cross-check against pymerkle 7 (RFC 9162-compatible SHA-256 hashing): roots and inclusion paths agree.

pymerkle indexes leaves from 1 and starts its inclusion path with the leaf hash
itself (path[1:] is the RFC audit path); its consistency proofs are not in RFC
form, so only roots and inclusion paths are compared.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit.proofs.merkle_store import MemoryStore, entries

from proofs import inclusion_proof, leaf_hash

pymerkle = pytest.importorskip("pymerkle")

MAX_SIZE = 200
DATA = entries(MAX_SIZE, salt="pymerkle")
STORE = MemoryStore(DATA)


@pytest.fixture(scope="module")
def tree() -> object:
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    for entry in DATA:
        tree.append_entry(entry)
    return tree


def test_roots_agree_for_every_size(tree: object) -> None:
    """For every size 1..200 our MTH equals pymerkle's root."""
    for size in range(1, MAX_SIZE + 1):
        assert tree.get_root(size) == STORE.roots[size], size  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_inclusion_paths_agree(tree: object, data: st.DataObject) -> None:
    """For random (index, size) our audit path equals pymerkle's path[1:], whose path[0] is the leaf hash."""
    size = data.draw(st.integers(1, MAX_SIZE))
    index = data.draw(st.integers(0, size - 1))
    theirs = tree.prove_inclusion(index + 1, size).path  # type: ignore[attr-defined]
    assert theirs[0] == leaf_hash(DATA[index])
    assert inclusion_proof(index, size, STORE.fetch) == theirs[1:]
