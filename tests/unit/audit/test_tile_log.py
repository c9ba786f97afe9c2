"""TileLog: what /tile/... and /checkpoint serve, from the tree store and the log (ports only)."""

from __future__ import annotations

import pytest

from ledger_core.engine.errors import NotFound
from ledger_core.engine.merkle import CheckpointNotFound
from ledger_core.engine.sealing import Sealer
from ledger_core.engine.tile_log import TileLog
from proofs.tiles import TilePath, parse_entry_bundle

from .fakes import MemoryLog, MemoryTreeStore


def sealed_log(log: MemoryLog, sealer: Sealer, count: int) -> None:
    for number in range(count):
        log.append(f"a{number % 3}", payload={"n": number})
    sealer.seal_all()


def test_nothing_before_the_first_checkpoint(store: MemoryTreeStore, log: MemoryLog) -> None:
    tiles = TileLog(store, log, public_entries=True)
    with pytest.raises(CheckpointNotFound):
        tiles.checkpoint()
    with pytest.raises(NotFound):
        tiles.tile(TilePath(0, 0, 1))


def test_tiles_prefixes_and_bundles(store: MemoryTreeStore, log: MemoryLog, sealer: Sealer) -> None:
    """A partial tile is served at any width up to the stored one; bundles stop at the latest checkpoint."""
    sealed_log(log, sealer, 300)
    log.append("late")  # not sealed: not in any tile or bundle
    tiles = TileLog(store, log, public_entries=True)
    leaves = [row.leaf_hash for row in log.rows]
    assert tiles.checkpoint().size == 300
    assert tiles.tile(TilePath(0, 0, None)) == b"".join(leaves[:256])
    assert tiles.tile(TilePath(0, 1, 44)) == b"".join(leaves[256:300])
    assert tiles.tile(TilePath(0, 1, 10)) == b"".join(leaves[256:266])
    assert tiles.tile(TilePath(0, 0, 7)) == b"".join(leaves[:7])  # a full tile's prefix: an older tree's tile
    for missing in (TilePath(0, 1, None), TilePath(0, 1, 45), TilePath(0, 2, 1), TilePath(2, 0, 1)):
        with pytest.raises(NotFound):
            tiles.tile(missing)
    bundle = parse_entry_bundle(tiles.tile(TilePath(None, 1, 44)))
    assert bundle == [row.entry for row in log.rows[256:300]]
    with pytest.raises(NotFound):
        tiles.tile(TilePath(None, 1, 45))  # entry 300 is not sealed


def test_entry_bundles_are_private_unless_the_operator_says(
    store: MemoryTreeStore, log: MemoryLog, sealer: Sealer
) -> None:
    sealed_log(log, sealer, 10)
    with pytest.raises(NotFound):
        TileLog(store, log).tile(TilePath(None, 0, 10))
    assert TileLog(store, log).tile(TilePath(0, 0, 10)) == b"".join(row.leaf_hash for row in log.rows)
