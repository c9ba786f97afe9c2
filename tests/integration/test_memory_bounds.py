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
from ledger_core.ledger import Ledger
from proofs.hashing import HASH_SIZE
from proofs.tiles import TILE_WIDTH, ExpandedTile

AGGREGATE_CACHE_MAXSIZE = 10_000


@pytest.fixture
def ledger(tmp_path: Path, database_url: str) -> Iterator[Ledger]:
    with open_ledger(StorageConfig(tmp_path, database_url)) as opened:
        yield opened


def test_the_aggregate_cache_holds_at_most_its_maxsize(ledger: Ledger) -> None:
    cache = ledger.app.repository.cache
    assert cache is not None
    for _ in range(AGGREGATE_CACHE_MAXSIZE + 500):
        cache.put(uuid.uuid4(), None)
    assert len(cache.cache) == AGGREGATE_CACHE_MAXSIZE


def test_the_tile_cache_holds_at_most_its_capacity() -> None:
    cache = TileCache()
    tile = ExpandedTile(bytes(HASH_SIZE * TILE_WIDTH))
    for index in range(DEFAULT_CACHE_TILES + 500):
        cache.put((0, index), tile)
    assert len(cache) == DEFAULT_CACHE_TILES
    assert cache.get((0, 0), 1) is None  # the oldest went first
    assert cache.get((0, DEFAULT_CACHE_TILES + 499), 1) is tile
