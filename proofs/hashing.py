"""RFC 9162 section 2.1 hashing: the only two hash forms a Merkle log uses.

Leaves and interior nodes are hashed with distinct one-byte prefixes (domain
separation, RFC 9162 §2.1.1), so a leaf can never be passed off as a node:

    leaf hash  = SHA-256(0x00 || entry)
    node hash  = SHA-256(0x01 || left || right)
    empty root = SHA-256("")            (MTH of the empty list, §2.1.1)
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "LEAF_PREFIX", "NODE_PREFIX", "leaf_hash", "node_hash"]

HASH_SIZE: Final = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256() (RFC 9162 §2.1.1): the root of a tree of size 0."""


def leaf_hash(entry: bytes) -> bytes:
    """Return MTH({d(0)}) = SHA-256(0x00 || entry) (RFC 9162 §2.1.1)."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the parent of two subtree hashes (RFC 9162 §2.1.1).

    Callers pass 32-byte hashes; this hot-path function does not re-check lengths
    (the verifier checks every hash it receives before hashing).
    """
    return hashlib.sha256(NODE_PREFIX + left + right).digest()
