"""Generated proofs equal the naive RFC 9162 reference, verify, and fail under any alteration.

Hypothesis draws (index, size) and (old, new) pairs for trees of 1..300 leaves; a
deterministic loop covers every pair for trees of up to 64 leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit.proofs import reference
from unit.proofs.merkle_store import MemoryStore, entries

from proofs import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    consistency_proof,
    frontier_ids,
    inclusion_proof,
    leaf_hash,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 300
ENTRIES = entries(MAX_SIZE)
STORE = MemoryStore(ENTRIES)  # perfect nodes never change, so one store serves every size
REF_ROOTS = [reference.mth(ENTRIES[:n]) for n in range(MAX_SIZE + 1)]
OTHER_ROOT = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _flip(h: bytes, bit: int = 3) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_SIZE))
    return draw(st.integers(0, size - 1)), size


@st.composite
def old_and_new(draw: st.DrawFn, strict: bool = False) -> tuple[int, int]:
    new = draw(st.integers(2 if strict else 0, MAX_SIZE))
    old = draw(st.integers(1, new - 1) if strict else st.integers(0, new))
    return old, new


def _rejects(check: Callable[[], object]) -> bool:
    try:
        check()
    except ProofError:
        return True
    return False


# Arguments in signature order: (index, size, leaf, path, root) and (old, new, root1, root2, path).
InclusionArgs = tuple[int, int, bytes, list[bytes], bytes]
ConsistencyArgs = tuple[int, int, bytes, bytes, list[bytes]]


def inclusion_alterations(
    index: int, size: int, leaf: bytes, path: list[bytes], root: bytes
) -> dict[str, InclusionArgs]:
    """Go's corruptInclusionProof probes (size +/- 1 is not one: see test_inclusion_path_does_not_bind_size)."""
    probes: dict[str, InclusionArgs] = {
        "index - 1": (index - 1, size, leaf, path, root),
        "index + 1": (index + 1, size, leaf, path, root),
        "index ^ 2": (index ^ 2, size, leaf, path, root),
        "size * 2": (index, size * 2, leaf, path, root),
        "size // 2": (index, size // 2, leaf, path, root),
        "wrong leaf": (index, size, leaf_hash(b"WrongLeaf"), path, root),
        "short leaf": (index, size, leaf[:-1], path, root),
        "empty root": (index, size, leaf, path, EMPTY_ROOT),
        "other root": (index, size, leaf, path, OTHER_ROOT),
        "flipped root": (index, size, leaf, path, _flip(root)),
        "trailing garbage": (index, size, leaf, [*path, b""], root),
        "trailing root": (index, size, leaf, [*path, root], root),
        "preceding garbage": (index, size, leaf, [b"", *path], root),
        "preceding root": (index, size, leaf, [root, *path], root),
    }
    for i in range(len(path)):
        for bit in (0, 3, 7):
            altered = list(path)
            altered[i] = _flip(altered[i], bit)
            probes[f"path[{i}] bit {bit}"] = (index, size, leaf, altered, root)
        probes[f"path[{i}] truncated hash"] = (index, size, leaf, [*path[:i], path[i][:-1], *path[i + 1 :]], root)
    if path:
        probes["removed last"] = (index, size, leaf, path[:-1], root)
        probes["removed first"] = (index, size, leaf, path[1:], root)
    if len(path) > 1:
        probes["inserted component"] = (index, size, leaf, [path[0], OTHER_ROOT, *path[1:]], root)
        probes["swapped components"] = (index, size, leaf, [path[1], path[0], *path[2:]], root)
    return probes


def consistency_alterations(old: int, new: int, r1: bytes, r2: bytes, path: list[bytes]) -> dict[str, ConsistencyArgs]:
    """Go's corruptConsistencyProof probes (new +/- 1 is not one: see test_inclusion_path_does_not_bind_size)."""
    probes: dict[str, ConsistencyArgs] = {
        "old - 1": (old - 1, new, r1, r2, path),
        "old + 1": (old + 1, new, r1, r2, path),
        "old ^ 2": (old ^ 2, new, r1, r2, path),
        "new * 2": (old, new * 2, r1, r2, path),
        "new // 2": (old, new // 2, r1, r2, path),
        "wrong old root": (old, new, OTHER_ROOT, r2, path),
        "wrong new root": (old, new, r1, OTHER_ROOT, path),
        "flipped old root": (old, new, _flip(r1), r2, path),
        "flipped new root": (old, new, r1, _flip(r2), path),
        "swapped roots": (old, new, r2, r1, path),
        "empty proof": (old, new, r1, r2, []),
        "trailing garbage": (old, new, r1, r2, [*path, b""]),
        "trailing old root": (old, new, r1, r2, [*path, r1]),
        "trailing new root": (old, new, r1, r2, [*path, r2]),
        "preceding garbage": (old, new, r1, r2, [b"", *path]),
        "preceding old root": (old, new, r1, r2, [r1, *path]),
        "preceding new root": (old, new, r1, r2, [r2, *path]),
        "preceding path[0]": (old, new, r1, r2, [path[0], *path]),
        "truncated": (old, new, r1, r2, path[:-1]),
        "first removed": (old, new, r1, r2, path[1:]),
    }
    for i in range(len(path)):
        for bit in (0, 4, 7):
            altered = list(path)
            altered[i] = _flip(altered[i], bit)
            probes[f"path[{i}] bit {bit}"] = (old, new, r1, r2, altered)
    if len(path) > 1:
        probes["swapped components"] = (old, new, r1, r2, [path[1], path[0], *path[2:]])
    return probes


def check_inclusion(index: int, size: int, *, alter: bool) -> None:
    path = inclusion_proof(index, size, STORE.fetch)
    assert path == reference.path(index, ENTRIES[:size])
    leaf = leaf_hash(ENTRIES[index])
    root = REF_ROOTS[size]
    verify_inclusion(leaf, index, size, path, root)
    assert root_from_inclusion_proof(leaf, index, size, path) == root
    if alter:
        accepted = [
            name
            for name, args in inclusion_alterations(index, size, leaf, path, root).items()
            if not _rejects(partial(verify_inclusion, args[2], args[0], args[1], args[3], args[4]))
        ]
        assert not accepted, f"altered inclusion proof ({index}, {size}) accepted: {accepted}"


def check_consistency(old: int, new: int, *, alter: bool) -> None:
    path = consistency_proof(old, new, STORE.fetch)
    assert path == reference.proof(old, ENTRIES[:new])
    r1, r2 = REF_ROOTS[old], REF_ROOTS[new]
    verify_consistency(old, new, r1, r2, path)
    if old > 0:
        assert root_from_consistency_proof(old, new, r1, path) == r2
    if alter and 0 < old < new:
        accepted = [
            name
            for name, args in consistency_alterations(old, new, r1, r2, path).items()
            if not _rejects(partial(verify_consistency, *args))
        ]
        assert not accepted, f"altered consistency proof ({old}, {new}) accepted: {accepted}"


@settings(max_examples=300, deadline=None)
@given(index_and_size())
def test_inclusion_matches_reference_verifies_and_resists_alteration(pair: tuple[int, int]) -> None:
    """For random (index, size <= 300): path == RFC PATH, it verifies, and every alteration is rejected."""
    check_inclusion(*pair, alter=True)


@settings(max_examples=300, deadline=None)
@given(old_and_new())
def test_consistency_matches_reference_and_verifies(pair: tuple[int, int]) -> None:
    """For random 0 <= old <= new <= 300: path == RFC PROOF (empty for old 0 or old == new) and it verifies."""
    check_consistency(*pair, alter=False)


@settings(max_examples=300, deadline=None)
@given(old_and_new(strict=True))
def test_consistency_resists_alteration(pair: tuple[int, int]) -> None:
    """For random 0 < old < new <= 300: every altered size, root, hash or path length is rejected."""
    check_consistency(*pair, alter=True)


@pytest.mark.parametrize("size", range(1, 65))
def test_exhaustive_small_trees(size: int) -> None:
    """Every (index, size) and (old, size) pair with size <= 64 matches the reference and verifies."""
    for index in range(size):
        check_inclusion(index, size, alter=False)
    for old in range(size + 1):
        check_consistency(old, size, alter=False)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 31, 32, 33, 64])
def test_exhaustive_alterations_small_trees(size: int) -> None:
    """All alterations of all proofs in a few small trees (incl. perfect and ragged sizes) are rejected."""
    for index in range(size):
        check_inclusion(index, size, alter=True)
    for old in range(1, size):
        check_consistency(old, size, alter=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=12))
def test_compact_range_batches_store_exactly_the_reference_nodes(batches: list[int]) -> None:
    """Appending in arbitrary batches (or resuming from a stored frontier) yields the reference nodes and roots."""
    total = min(sum(batches), MAX_SIZE)
    data = ENTRIES[:total]
    stored: dict[tuple[int, int], bytes] = {}
    compact = CompactRange()
    pos = 0
    for batch in batches:
        chunk = data[pos : pos + batch]
        for node in compact.extend(leaf_hash(e) for e in chunk):
            assert node.id not in stored
            stored[node.id] = node.hash
        pos += len(chunk)
        assert compact.size == pos
        assert compact.root() == REF_ROOTS[pos]
        # a store resumes from its frontier nodes alone
        compact = CompactRange.from_nodes(pos, {i: stored[i] for i in frontier_ids(pos)})
    assert stored == reference.perfect_nodes(data)


def test_compact_range_one_by_one_matches_reference() -> None:
    """One-by-one appends report each perfect node once, bottom up, and every prefix root is the MTH."""
    assert STORE.roots == REF_ROOTS
    assert STORE.nodes == reference.perfect_nodes(ENTRIES)
