"""The tree store contract on SQLite and PostgreSQL: tiles, checkpoints, atomic compare-and-set, one-read fetches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError
from support.clock import SteppingClock
from support.databases import execute
from support.ledgers import open_toy_ledger
from support.toy import Account

from adapters.ports import ManagedTreeStore
from adapters.storage import StorageConfig, open_tree_store
from ledger_core.engine.merkle import CheckpointRecord, SealConflict
from ledger_core.engine.sealing import Sealer, SealPolicy
from proofs import CompactRange, NodeId, StoredNode, generate_signer, inclusion_proof, verify_inclusion

SIGNER = generate_signer("proveniq-ledger/store-test")


def write_accounts(url: str, count: int, prefix: str = "acct") -> None:
    ledger, _ = open_toy_ledger(url)
    with ledger:
        for start in range(0, count, 100):
            ledger.app.save(*[Account.open("acme", f"{prefix}-{i}") for i in range(start, min(count, start + 100))])


@pytest.fixture
def store(database_url: str) -> Iterator[ManagedTreeStore]:
    opened = open_tree_store(StorageConfig(Path("unused"), database_url))
    yield opened
    opened.close()


def sealer(store: ManagedTreeStore, max_batch_entries: int = 100_000) -> Sealer:
    return Sealer(store, SIGNER, SteppingClock(), policy=SealPolicy(max_batch_entries=max_batch_entries))


def test_empty_store(store: ManagedTreeStore) -> None:
    """A fresh database has no log, no nodes and no checkpoint (and the tables exist)."""
    assert (store.log_size(), store.integrated_size(), store.count_nodes()) == (0, 0, 0)
    assert store.latest_checkpoint() is None
    assert store.checkpoints(0, 10) == []


def test_seal_stores_tiles_and_checkpoint(database_url: str, store: ManagedTreeStore) -> None:
    """Sealing 300 entries stores tiles implying the 2 * 300 - popcount(300) perfect nodes, and the MTH."""
    write_accounts(database_url, 300)
    result = sealer(store).seal_once()
    assert result is not None
    leaves = store.leaf_hashes(0, 300)
    compact = CompactRange()
    expected = {n.id: n.hash for leaf in leaves for n in compact.append(leaf)}
    assert store.count_nodes() == len(expected) == 2 * 300 - (300).bit_count()
    assert store.read_tile(0, 0) == b"".join(leaves[:256])
    assert store.read_tile(0, 1, 44) == b"".join(leaves[256:])
    assert store.read_tile(0, 1) is None  # not full yet
    assert store.read_tile(1, 0, 1) == expected[NodeId(8, 0)]
    assert dict(store.nodes_completed_in(0, 300)) == expected
    assert store.latest_checkpoint() == result.checkpoint
    assert result.checkpoint.root_hash == compact.root()
    assert store.integrated_size() == 300


def test_fetch_mixes_leaves_and_nodes(database_url: str, store: ManagedTreeStore) -> None:
    """One fetch returns leaf hashes and the nodes above them, from the tiles; absent ids are left out."""
    write_accounts(database_url, 20)
    sealer(store).seal_once()
    found = store.fetch_nodes([NodeId(0, 3), NodeId(2, 1), NodeId(4, 0), NodeId(3, 5), NodeId(0, 99)])
    assert set(found) == {NodeId(0, 3), NodeId(2, 1), NodeId(4, 0)}
    assert found[NodeId(0, 3)] == store.leaf_hashes(3, 4)[0]
    assert store.fetch_nodes([]) == {}


def test_inclusion_from_stored_nodes(database_url: str, store: ManagedTreeStore) -> None:
    """Proofs built through fetch_nodes verify against the stored checkpoint root, for every position."""
    write_accounts(database_url, 77)
    sealer(store).seal_once()
    record = store.latest_checkpoint()
    assert record is not None
    leaves = store.leaf_hashes(0, 77)
    for position in range(77):
        path = inclusion_proof(position, 77, store.fetch_nodes)
        verify_inclusion(leaves[position], position, 77, path, record.root_hash)


def test_nodes_completed_in_a_range(database_url: str, store: ManagedTreeStore) -> None:
    """The nodes completed by appending leaves [begin, end) are exactly those returned."""
    write_accounts(database_url, 64)
    sealer(store).seal_once()
    leaves_8_16 = {(0, i) for i in range(8, 16)}
    uppers = {(1, 4), (1, 5), (1, 6), (1, 7), (2, 2), (2, 3), (3, 1), (4, 0)}
    assert set(store.nodes_completed_in(8, 16)) == leaves_8_16 | uppers
    assert set(store.nodes_completed_in(63, 64)) == {(0, 63), (1, 31), (2, 15), (3, 7), (4, 3), (5, 1), (6, 0)}


def test_commit_is_compare_and_set(database_url: str, store: ManagedTreeStore) -> None:
    """A commit from a stale size is refused with SealConflict and stores nothing."""
    write_accounts(database_url, 4)
    sealer(store).seal_once()
    stale = CheckpointRecord(6, b"\x00" * 32, "x\n", "t")
    with pytest.raises(SealConflict) as caught:
        store.commit_integration(2, [StoredNode(0, 2, b"\x01" * 32)], stale)
    assert (caught.value.expected, caught.value.found) == (2, 4)
    assert store.count_nodes() == 7
    assert store.checkpoint_at(6) is None


def test_failed_commit_writes_nothing(database_url: str, store: ManagedTreeStore) -> None:
    """A commit that fails half way (the checkpoint exists already) rolls back the tiles written before it."""
    write_accounts(database_url, 4)
    sealer(store).seal_once()
    leaves = store.leaf_hashes(0, 4)
    nodes = [StoredNode(0, 4, b"\x01" * 32), StoredNode(0, 5, b"\x02" * 32)]
    with pytest.raises(IntegrityError):
        store.commit_integration(4, nodes, CheckpointRecord(4, b"\x00" * 32, "x\n", "t"))  # size 4 exists
    assert store.count_nodes() == 7
    assert store.integrated_size() == 4
    assert execute(database_url, "SELECT width, data FROM merkle_tiles WHERE level = 0 AND idx = 0") == [
        (4, b"".join(leaves))
    ]


def test_checkpoint_queries(database_url: str, store: ManagedTreeStore) -> None:
    """Checkpoints are kept forever and found by size, by position and in order."""
    write_accounts(database_url, 25)
    sealer(store, 10).seal_all()
    assert [c.size for c in store.checkpoints(0, 10)] == [10, 20, 25]
    assert [c.size for c in store.checkpoints(10, 1)] == [20]
    assert store.first_checkpoint_after(9).size == 10  # type: ignore[union-attr]
    assert store.first_checkpoint_after(10).size == 20  # type: ignore[union-attr]
    assert store.first_checkpoint_after(25) is None
    assert store.checkpoint_at(20).note.startswith("proveniq-ledger/store-test\n20\n")  # type: ignore[union-attr]


def test_postgres_leadership_is_exclusive_and_released_on_close(postgres_url: str) -> None:
    """Only one store holds the sealer lock; closing it (or its connection dying) lets the next take over."""
    config = StorageConfig(Path("unused"), postgres_url)
    first, second = open_tree_store(config), open_tree_store(config)
    try:
        assert first.try_acquire_leadership()
        assert not second.try_acquire_leadership()
        assert first.holds_leadership()
        first.close()
        # The server frees a closed session's advisory locks when it has processed the disconnect, which is
        # asynchronous: the standby's next tries (as its sealer loop makes them) get it, within a bound.
        deadline = time.monotonic() + 30
        while not second.try_acquire_leadership() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.holds_leadership()
    finally:
        second.close()
