"""The right edge in memory (ledger_core/engine/right_edge.py): proofs of new entries with no node read,
identical to the proofs from the store; older ones completed from the store; a foreign seal resets it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.engine.auditing import ProofService
from ledger_core.engine.right_edge import RightEdge
from ledger_core.engine.sealing import Sealer, SealPolicy
from proofs import NodeId, verify_inclusion
from proofs.note import NoteSigner

from .fakes import MemoryLog, MemoryTreeStore, StepClock


class CountingStore(MemoryTreeStore):
    """The in-memory tree store, counting the nodes read by ``fetch_nodes``."""

    def __init__(self, log: MemoryLog) -> None:
        super().__init__(log)
        self.nodes_read = 0

    def fetch_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        self.nodes_read += len(ids)
        return super().fetch_nodes(ids)


def sealed_log(signer: NoteSigner, batches: Sequence[int], window: int) -> tuple[MemoryLog, CountingStore, RightEdge]:
    log = MemoryLog()
    store = CountingStore(log)
    edge = RightEdge(window)
    sealer = Sealer(store, signer, StepClock(), policy=SealPolicy(max_batch_entries=10_000), edge=edge)
    for batch in batches:
        for i in range(batch):
            log.append(f"agg-{i % 5}")
        sealer.seal_once()
    return log, store, edge


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.integers(1, 40), min_size=1, max_size=12), window=st.sampled_from([1, 2, 8, 64]))
def test_recent_proofs_come_from_memory_and_match_the_store(
    signer: NoteSigner, batches: list[int], window: int
) -> None:
    log, store, edge = sealed_log(signer, batches, window)
    size = sum(batches)
    assert edge.size == size
    from_memory, from_store = ProofService(store, log, edge), ProofService(store, log)
    root = store.latest_checkpoint()
    assert root is not None
    for position in range(size):
        before = store.nodes_read
        proof = from_memory.prove_many([position], size)[0]
        if size - position <= window:
            assert store.nodes_read == before, f"position {position} of {size} read nodes"
        assert proof == from_store.prove_many([position], size)[0]
        verify_inclusion(proof.leaf_hash, position, size, proof.path, root.root_hash)


def test_the_next_seal_resumes_from_memory(signer: NoteSigner) -> None:
    _, store, edge = sealed_log(signer, [5, 9, 3], 64)
    assert store.nodes_read == 0  # the first seal starts from nothing, the others from the edge's frontier
    assert edge.frontier(17) is not None


def test_memory_stays_bounded(signer: NoteSigner) -> None:
    _, _, edge = sealed_log(signer, [7] * 200, 16)
    held = edge.fetch(NodeId(level, index) for level in range(12) for index in range(1400))
    assert len(held) <= 2 * (2 * 16 + 7) + 11  # the nodes of at most twice the window and a seal, a frontier


def test_a_foreign_seal_starts_the_edge_over(signer: NoteSigner) -> None:
    """Another sealer committed in between: the edge forgets what it held and keeps only what it saw."""
    log = MemoryLog()
    store = CountingStore(log)
    edge = RightEdge(64)
    mine = Sealer(store, signer, StepClock(), edge=edge)
    other = Sealer(store, signer, StepClock())
    for _ in range(6):
        log.append("a")
    mine.seal_once()
    for _ in range(5):
        log.append("b")
    other.seal_once()
    for _ in range(3):
        log.append("c")
    mine.seal_once()  # resumes from the store's frontier of 11 (checked against the signed root)
    assert store.nodes_read > 0
    assert edge.size == 14
    assert edge.fetch([NodeId(0, 0), NodeId(0, 7)]) == {}  # 0..10 were not seen since the reset
    service, reference = ProofService(store, log, edge), ProofService(store, log)
    for position in range(14):
        assert service.prove_many([position], 14) == reference.prove_many([position], 14)


def test_window_is_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RightEdge(0)
