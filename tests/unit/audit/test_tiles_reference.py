"""Tile storage against RFC 9162, for every tree size 1..1000 (issue 13 item 2).

One leaf is sealed at a time, so every size is a checkpoint and every partial tile is rewritten as
it grows: after each seal the stored tiles must be exactly the C2SP tlog-tiles of the leaves so far.
Proofs built from the tiles must equal those built from every perfect node computed from the leaves
(exhaustively for small trees and at the edges of every size), and the RFC's own recursive PATH and
PROOF (tests/unit/proofs/reference.py) for sizes and indexes Hypothesis picks.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unit.proofs import reference  # the RFC's recursion verbatim, sharing no code with proofs/

from ledger_core.engine.sealing import Sealer
from proofs.hashing import node_hash
from proofs.note import generate_signer
from proofs.prove import consistency_proof, inclusion_proof
from proofs.tiles import TILE_HEIGHT, TILE_WIDTH, tiles_for_size
from proofs.tree import NodeId

from .conftest import ORIGIN
from .fakes import MemoryLog, MemoryTreeStore, StepClock

SIZE = 1000


def perfect_nodes(leaves: list[bytes]) -> dict[NodeId, bytes]:
    """Every perfect node over the leaf hashes, level by level (what the node-row store held)."""
    nodes = {NodeId(0, i): leaf for i, leaf in enumerate(leaves)}
    level, row = 0, leaves
    while len(row) > 1:
        row = [node_hash(row[2 * i], row[2 * i + 1]) for i in range(len(row) // 2)]
        level += 1
        nodes.update((NodeId(level, i), digest) for i, digest in enumerate(row))
    return nodes


def expected_tiles(nodes: dict[NodeId, bytes], size: int) -> dict[tuple[int, int], bytes]:
    """The tlog-tiles of a tree of ``size`` leaves, from its perfect nodes."""
    return {
        (level, index): b"".join(nodes[NodeId(TILE_HEIGHT * level, index * TILE_WIDTH + at)] for at in range(width))
        for level, index, width in tiles_for_size(size)
    }


class Sealed:
    """A log of SIZE entries sealed one by one; the tiles seen after every seal."""

    def __init__(self) -> None:
        self.log = MemoryLog()
        self.store = MemoryTreeStore(self.log)
        sealer = Sealer(self.store, generate_signer(ORIGIN), StepClock())
        self.tiles_at: dict[int, dict[tuple[int, int], bytes]] = {}
        for number in range(SIZE):
            self.log.append(f"agg-{number % 7}", payload={"n": number})
            sealer.seal_once()
            self.tiles_at[number + 1] = dict(self.store.tiles)
        self.entries = [row.entry for row in self.log.rows]
        self.leaves = [row.leaf_hash for row in self.log.rows]
        self.nodes = perfect_nodes(self.leaves)

    def from_nodes(self, ids: object) -> dict[NodeId, bytes]:
        return {NodeId(*i): self.nodes[NodeId(*i)] for i in ids}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def sealed() -> Sealed:
    return Sealed()


def edges(n: int) -> set[int]:
    """Indexes where tile and subtree boundaries sit in a tree of n leaves."""
    picks = {0, 1, n // 3, n // 2, n - 2, n - 1, 255, 256, 511, 512}
    picks.update(n - 1 - (n - 1) % (1 << level) for level in range(n.bit_length()))
    return {i for i in picks if 0 <= i < n}


def test_tiles_after_every_seal_are_the_tiles_of_the_tree(sealed: Sealed) -> None:
    """At every size 1..1000 the stored tiles are exactly tlog-tiles of the leaves (full ones unchanged since)."""
    for size in range(1, SIZE + 1):
        assert sealed.tiles_at[size] == expected_tiles(sealed.nodes, size), size


def test_every_proof_from_tiles_equals_the_proof_from_all_nodes(sealed: Sealed) -> None:
    """Inclusion and consistency proofs from tiles equal those from every perfect node, at every size."""
    store = sealed.store
    for n in range(1, SIZE + 1):
        indexes = range(n) if n <= 64 else sorted(edges(n))
        for i in indexes:
            assert inclusion_proof(i, n, store.fetch_nodes) == inclusion_proof(i, n, sealed.from_nodes), (i, n)
        for m in indexes:
            if m > 0:
                want = consistency_proof(m, n, sealed.from_nodes)
                assert consistency_proof(m, n, store.fetch_nodes) == want, (m, n)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_proofs_from_tiles_equal_the_rfc_recursion(sealed: Sealed, data: st.DataObject) -> None:
    """PATH(m, D[n]) and PROOF(m, D[n]) of RFC 9162 §2.1.3.1 and §2.1.4.1, computed from the entries."""
    n = data.draw(st.integers(1, SIZE), label="n")
    i = data.draw(st.integers(0, n - 1), label="i")
    m = data.draw(st.integers(1, n), label="m")
    entries = sealed.entries[:n]
    assert inclusion_proof(i, n, sealed.store.fetch_nodes) == reference.path(i, entries)
    assert consistency_proof(m, n, sealed.store.fetch_nodes) == reference.proof(m, entries)


def test_nodes_of_one_seal_fill_one_partial_tile_per_level() -> None:
    """A seal across a tile boundary writes the full tile once and starts the next partial one."""
    log = MemoryLog()
    store = MemoryTreeStore(log)
    sealer = Sealer(store, generate_signer(ORIGIN), StepClock())
    for number in range(250):
        log.append("a", payload={"n": number})
    sealer.seal_once()
    assert {key: len(data) // 32 for key, data in store.tiles.items()} == {(0, 0): 250}
    for number in range(20):
        log.append("a", payload={"n": 250 + number})
    sealer.seal_once()
    assert {key: len(data) // 32 for key, data in store.tiles.items()} == {(0, 0): 256, (0, 1): 14, (1, 0): 1}
    assert store.read_tile(1, 0, 1) == perfect_nodes([row.leaf_hash for row in log.rows])[NodeId(8, 0)]
