"""RFC 9162 §2.1.1 hashing: prefixes, sizes, the empty root."""

from __future__ import annotations

import hashlib

from proofs import EMPTY_ROOT, HASH_SIZE, leaf_hash, node_hash


def test_leaf_hash_prefixes_zero_byte() -> None:
    """leaf_hash(d) is SHA-256(0x00 || d)."""
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()


def test_node_hash_prefixes_one_byte() -> None:
    """node_hash(l, r) is SHA-256(0x01 || l || r), and order matters."""
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right) != node_hash(right, left)


def test_leaf_and_node_domains_are_separated() -> None:
    """A node's preimage hashed as a leaf gives a different hash (second-preimage resistance)."""
    left, right = leaf_hash(b"l"), leaf_hash(b"r")
    assert leaf_hash(b"\x01" + left + right) != node_hash(left, right)


def test_empty_root_and_hash_size() -> None:
    """EMPTY_ROOT is SHA-256 of nothing and every hash is 32 bytes."""
    assert hashlib.sha256().digest() == EMPTY_ROOT
    assert HASH_SIZE == 32 == len(leaf_hash(b"")) == len(node_hash(EMPTY_ROOT, EMPTY_ROOT))
