"""Sealing over an in-memory tree store: batches, checkpoints, atomicity, refusal to build on damage."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.engine.merkle import CheckpointMismatch, CheckpointRecord, LogTruncated, NodeMismatch, SealConflict
from ledger_core.engine.sealing import Sealer, SealPolicy, SealSchedule
from proofs import frontier_ids, root_from_leaves, verify_checkpoint
from proofs.note import NoteSigner, generate_signer
from proofs.tree import StoredNode

from .conftest import ORIGIN
from .fakes import MemoryLog, MemoryTreeStore, StepClock


def fill(log: MemoryLog, count: int) -> None:
    for i in range(count):
        log.append(f"agg-{i % 7}")


def test_nothing_to_seal_returns_none(sealer: Sealer) -> None:
    """An empty log (or one fully sealed) gives no checkpoint."""
    assert sealer.seal_once() is None
    assert sealer.pending() == 0


def test_seal_signs_the_tree_head(sealer: Sealer, log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner) -> None:
    """The checkpoint note verifies with the key, names the origin, and states the MTH of the leaves."""
    fill(log, 13)
    result = sealer.seal_once()
    assert result is not None
    head = verify_checkpoint(result.checkpoint.note, signer.verifier(), origin=ORIGIN)
    assert (head.size, head.root_hash) == (13, root_from_leaves(r.leaf_hash for r in log.rows))
    assert result.checkpoint.root_hash == head.root_hash
    assert store.count_nodes() == 2 * 13 - (13).bit_count()  # every perfect node, leaves included (tiles imply them)


def test_backlog_is_sealed_in_capped_batches(sealer: Sealer, log: MemoryLog, store: MemoryTreeStore) -> None:
    """120 waiting entries with a cap of 50 become checkpoints 50, 100 and 120."""
    fill(log, 120)
    results = sealer.seal_all()
    assert [(r.old_size, r.checkpoint.size) for r in results] == [(0, 50), (50, 100), (100, 120)]
    assert sorted(store.records) == [50, 100, 120]


def test_resume_reads_only_the_frontier(sealer: Sealer, log: MemoryLog, store: MemoryTreeStore) -> None:
    """Continuing from a checkpoint reads the O(log n) frontier nodes in one fetch, not the tree."""
    fill(log, 45)
    sealer.seal_once()
    fill(log, 3)
    store.fetches.clear()
    sealer.seal_once()
    assert store.fetches == [tuple(frontier_ids(45))]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_any_batching_gives_the_same_tree(batches: list[int]) -> None:
    """However the log is cut into seals, nodes and roots equal those of one big seal."""
    signer = generate_signer(ORIGIN)
    log = MemoryLog()
    stepwise = MemoryTreeStore(log)
    sealer = Sealer(stepwise, signer, StepClock())
    for count in batches:
        fill(log, count)
        sealer.seal_once()
    at_once = MemoryTreeStore(log)
    Sealer(at_once, signer, StepClock()).seal_once()
    assert stepwise.tiles == at_once.tiles
    assert stepwise.latest_checkpoint().root_hash == at_once.latest_checkpoint().root_hash  # type: ignore[union-attr]


def test_failed_commit_leaves_the_previous_state(sealer: Sealer, log: MemoryLog, store: MemoryTreeStore) -> None:
    """If storing fails, nothing of the batch is kept and the next seal redoes it."""
    fill(log, 10)
    sealer.seal_once()
    fill(log, 10)
    store.fail_next_commit = True
    with pytest.raises(OSError, match="disk on fire"):
        sealer.seal_once()
    assert store.integrated_size() == 10
    assert sealer.seal_once().checkpoint.size == 20  # type: ignore[union-attr]


def test_conflict_when_another_sealer_won(log: MemoryLog, store: MemoryTreeStore, signer: NoteSigner) -> None:
    """Compare-and-set: a sealer that lost the race stores nothing and gets SealConflict."""
    fill(log, 5)
    loser = Sealer(store, signer, StepClock())
    loser.seal_once()
    fill(log, 5)
    commit = store.commit_integration

    def racing(old_size: int, nodes: Sequence[StoredNode], checkpoint: CheckpointRecord) -> None:
        store.commit_integration = commit  # type: ignore[method-assign]
        Sealer(store, signer, StepClock()).seal_once()  # the other sealer commits first
        commit(old_size, nodes, checkpoint)

    store.commit_integration = racing  # type: ignore[method-assign]
    with pytest.raises(SealConflict) as caught:
        loser.seal_once()
    assert (caught.value.expected, caught.value.found) == (5, 10)
    assert sorted(store.records) == [5, 10]
    assert store.count_nodes() == 2 * 10 - (10).bit_count()


def test_truncated_log_is_refused(sealer: Sealer, log: MemoryLog) -> None:
    """A log shorter than the latest checkpoint stops the sealer with LogTruncated."""
    fill(log, 8)
    sealer.seal_once()
    del log.rows[6:]
    with pytest.raises(LogTruncated) as caught:
        sealer.seal_once()
    assert (caught.value.checkpoint_size, caught.value.log_size) == (8, 6)


def test_damaged_frontier_is_refused(sealer: Sealer, log: MemoryLog, store: MemoryTreeStore) -> None:
    """A tampered or missing right-edge node is detected before anything is built on it."""
    fill(log, 12)
    sealer.seal_once()
    fill(log, 1)
    tile = store.tiles[(0, 0)]
    store.corrupt_tile((0, 0), b"\x00" * 32 + tile[32:])  # leaf 0: under the frontier node (3, 0)
    with pytest.raises(CheckpointMismatch, match="frontier"):
        sealer.seal_once()
    store.corrupt_tile((0, 0), tile[: 32 * 11])  # the tile lost leaf 11: frontier node (2, 2) is gone
    with pytest.raises(NodeMismatch):
        sealer.seal_once()


def test_origin_cannot_change(store: MemoryTreeStore, log: MemoryLog, signer: NoteSigner) -> None:
    """A sealer with another origin refuses to extend a log signed under the first one."""
    fill(log, 3)
    Sealer(store, signer, StepClock()).seal_once()
    fill(log, 1)
    with pytest.raises(CheckpointMismatch, match="origin"):
        Sealer(store, generate_signer("someone/else"), StepClock()).seal_once()


def test_schedule_seals_every_n_entries_or_after_t() -> None:
    """Due at N waiting entries at once, or T ms after entries started waiting; idle resets the wait."""
    schedule = SealSchedule(SealPolicy(batch_entries=10, interval_ms=200))
    assert not schedule.due(0, 0.0)
    assert not schedule.due(3, 1.0)
    assert not schedule.due(5, 1.1)
    assert schedule.due(5, 1.21)
    schedule.sealed(1.21, 0)
    assert schedule.due(10, 1.25)
    schedule.sealed(1.25, 2)  # a capped backlog keeps waiting from now
    assert not schedule.due(2, 1.3)
    assert schedule.due(2, 1.46)


def test_policy_rejects_nonsense() -> None:
    """Zero batch sizes or a negative interval are configuration errors."""
    with pytest.raises(ValueError, match="policy"):
        SealPolicy(batch_entries=0)
    with pytest.raises(ValueError, match="policy"):
        SealPolicy(interval_ms=-1)
