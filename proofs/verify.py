"""Proof verification: RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).

A verifier stands alone: this module depends on hashing and errors only, never on
proof generation. Functions return None on success and raise an evidence-carrying
`ProofError` otherwise: `RootMismatch` when a well-formed proof leads elsewhere,
`InvalidProofShape` for wrong path lengths or hash sizes, `InvalidIndex` /
`InvalidTreeSizes` for impossible arguments.

The loops are the RFC's, step for step (fn/sn are the node indices of the leaf
path and of the tree's last leaf; LSB is the least significant bit). The expected
path length is checked first, as transparency-dev/merkle proof/verify.go does, so
a wrong length is reported as such rather than as a root mismatch.
"""

from __future__ import annotations

from collections.abc import Sequence

from proofs.errors import InvalidIndex, InvalidProofShape, InvalidTreeSizes, RootMismatch
from proofs.hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = [
    "consistency_path_length",
    "inclusion_path_length",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise InvalidProofShape(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _check_path(path: Sequence[bytes], expected: int, what: str) -> None:
    if len(path) != expected:
        raise InvalidProofShape(f"{what} must have {expected} hashes, got {len(path)}")
    for i, h in enumerate(path):
        _check_hash(h, f"{what}[{i}]")


def inclusion_path_length(index: int, size: int) -> int:
    """Length of PATH(index, D[size]): levels below the fork from the right edge, plus border hashes.

    Requires 0 <= index < size.
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_path_length(old_size: int, new_size: int) -> int:
    """Length of PROOF(old_size, D[new_size]); requires 0 < old_size < new_size."""
    inner = ((old_size - 1) ^ (new_size - 1)).bit_length()
    border = ((old_size - 1) >> inner).bit_count()
    shift = (old_size & -old_size).bit_length() - 1  # trailing zero bits of old_size
    length = inner - shift + border
    return length if old_size == 1 << shift else length + 1


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root that `path` proves `leaf_hash` at `index` to be under (RFC 9162 §2.1.3.2 steps 1-4).

    Raises `InvalidIndex` unless 0 <= index < size, `InvalidProofShape` for a path of
    the wrong length or a hash that is not 32 bytes.
    """
    if not 0 <= index < size:  # step 1
        raise InvalidIndex(index, size)
    _check_hash(leaf_hash, "leaf hash")
    _check_path(path, inclusion_path_length(index, size), "inclusion path")
    fn, sn = index, size - 1  # step 2
    r = leaf_hash  # step 3
    for p in path:  # step 4
        if sn == 0:  # 4a
            raise InvalidProofShape("inclusion path is longer than the tree is high")
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    if sn != 0:  # step 5, first half
        raise InvalidProofShape("inclusion path is shorter than the tree is high")
    return r


def verify_inclusion(leaf_hash: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> None:
    """Check that `leaf_hash` is leaf `index` of the tree of `size` leaves with `root` (§2.1.3.2).

    Returns None on success; raises `RootMismatch`, `InvalidProofShape` or `InvalidIndex`.
    """
    _check_hash(root, "root")
    calculated = root_from_inclusion_proof(leaf_hash, index, size, path)
    if calculated != root:  # step 5, second half
        raise RootMismatch(expected=root, calculated=calculated, tree_size=size)


def root_from_consistency_proof(old_size: int, new_size: int, old_root: bytes, path: Sequence[bytes]) -> bytes:
    """Check `path` against `old_root` and return the new root it implies (RFC 9162 §2.1.4.2).

    Requires 0 < old_size <= new_size (for equal sizes the path must be empty and
    `old_root` is returned). Raises `RootMismatch` when the path does not lead to
    `old_root`, `InvalidProofShape`, `InvalidTreeSizes`.
    """
    if not 0 < old_size <= new_size:
        raise InvalidTreeSizes(old_size, new_size)
    _check_hash(old_root, "old root")
    if old_size == new_size:
        _check_path(path, 0, "consistency path")
        return old_root
    if not path:  # step 1
        raise InvalidProofShape("consistency path is empty")
    _check_path(path, consistency_path_length(old_size, new_size), "consistency path")
    hashes = list(path)
    if old_size & (old_size - 1) == 0:  # step 2: old tree is a perfect subtree
        hashes.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = hashes[0]  # step 5
    for c in hashes[1:]:  # step 6
        if sn == 0:  # 6a
            raise InvalidProofShape("consistency path is longer than the tree is high")
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    if sn != 0:  # step 7
        raise InvalidProofShape("consistency path is shorter than the tree is high")
    if fr != old_root:
        raise RootMismatch(expected=old_root, calculated=fr, tree_size=old_size)
    return sr


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]) -> None:
    """Check that the tree (`new_size`, `new_root`) extends (`old_size`, `old_root`) (§2.1.4.2).

    The RFC defines 0 < old_size < new_size. Edge cases: equal sizes need an empty
    path and equal roots; old_size 0 needs an empty path and `old_root` equal to
    `EMPTY_ROOT`, the MTH of the empty tree. Returns None on success; raises
    `RootMismatch`, `InvalidProofShape` or `InvalidTreeSizes`.
    """
    if not 0 <= old_size <= new_size:
        raise InvalidTreeSizes(old_size, new_size)
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    if old_size == 0:
        _check_path(path, 0, "consistency path")
        if old_root != EMPTY_ROOT:
            raise RootMismatch(expected=old_root, calculated=EMPTY_ROOT, tree_size=0)
        if new_size == 0 and new_root != EMPTY_ROOT:
            raise RootMismatch(expected=new_root, calculated=EMPTY_ROOT, tree_size=0)
        return
    calculated = root_from_consistency_proof(old_size, new_size, old_root, path)
    if calculated != new_root:  # step 7
        raise RootMismatch(expected=new_root, calculated=calculated, tree_size=new_size)
