"""The per-process caches an API worker fills under load stay within their stated bounds
(docs/performance.md, "Soak"): sizes asserted after more operations than the bound, no timing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from adapters.tree_layout import DEFAULT_CACHE_TILES, TileCache
from ledger_core.engine.application import DEFAULT_AGGREGATE_CACHE_SIZE
from ledger_core.ledger import Ledger
from proofs.hashing import HASH_SIZE
from proofs.tiles import TILE_WIDTH, ExpandedTile


@pytest.fixture
def ledger(tmp_path: Path, database_url: str) -> Iterator[Ledger]:
    with open_ledger(StorageConfig(tmp_path, database_url)) as opened:
        yield opened


def test_the_aggregate_cache_holds_at_most_its_maxsize(ledger: Ledger) -> None:
    cache = ledger.app.repository.cache
    assert cache is not None
    for _ in range(DEFAULT_AGGREGATE_CACHE_SIZE + 500):
        cache.put(uuid.uuid4(), None)
    assert len(cache.cache) == DEFAULT_AGGREGATE_CACHE_SIZE


def test_the_aggregate_cache_size_is_the_one_given(tmp_path: Path, database_url: str) -> None:
    """``LEDGER_AGGREGATE_CACHE_SIZE`` reaches the ledger as ``aggregate_cache_size``; an evicted claim is
    read back from the log, the same."""
    with open_ledger(StorageConfig(tmp_path, database_url), aggregate_cache_size=3) as small:
        cache = small.app.repository.cache
        assert cache is not None
        for _ in range(10):
            cache.put(uuid.uuid4(), None)
        assert len(cache.cache) == 3


def test_an_aggregate_cache_of_zero_is_refused(tmp_path: Path, database_url: str) -> None:
    """eventsourcing reads a maxsize of 0 or less as an unbounded cache: never that."""
    with pytest.raises(ValueError, match="at least 1"):
        open_ledger(StorageConfig(tmp_path, database_url), aggregate_cache_size=0)


def test_the_tile_cache_holds_at_most_its_capacity() -> None:
    cache = TileCache()
    tile = ExpandedTile(bytes(HASH_SIZE * TILE_WIDTH))
    for index in range(DEFAULT_CACHE_TILES + 500):
        cache.put((0, index), tile)
    assert len(cache) == DEFAULT_CACHE_TILES
    assert cache.get((0, 0), 1) is None  # the oldest went first
    assert cache.get((0, DEFAULT_CACHE_TILES + 499), 1) is tile
