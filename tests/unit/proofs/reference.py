"""A deliberately naive RFC 9162 reference, for tests only: the RFC's recursive definitions, verbatim.

MTH (§2.1.1), PATH (§2.1.3.1) and PROOF/SUBPROOF (§2.1.4.1) over the entries D[n]
themselves, recomputing every subtree hash. Slow and obviously correct; it shares
no code with `proofs` (hashing included).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]): SHA-256() for n = 0, SHA-256(0x00 || d(0)) for n = 1, else split at k."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(n)
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) for 0 <= m < n."""
    n = len(d)
    assert 0 <= m < n
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]  # PATH(m, D[0:k]) : MTH(D[k:n])
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) for 0 < m <= n."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) for 0 < m <= n; empty for m = 0 by convention."""
    if m == 0:
        return []
    return subproof(m, d, True)


def perfect_nodes(d: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete perfect subtree (level, index) of D[n] with its MTH."""
    nodes: dict[tuple[int, int], bytes] = {}
    level = 0
    while (1 << level) <= len(d):
        width = 1 << level
        for index in range(len(d) // width):
            nodes[(level, index)] = mth(d[index * width : (index + 1) * width])
        level += 1
    return nodes
