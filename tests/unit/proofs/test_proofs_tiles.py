"""proofs/tiles.py: C2SP tlog-tiles paths, entry bundles, tile coverage and the nodes a tile implies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofs.errors import InvalidProofShape
from proofs.hashing import leaf_hash
from proofs.tiles import (
    ExpandedTile,
    TileId,
    TilePath,
    entries_path,
    entry_bundle,
    parse_entry_bundle,
    parse_tile_path,
    tile_of_node,
    tile_path,
    tiles_for_size,
)
from proofs.tree import NodeId, root_from_leaves

from . import reference


def test_paths_of_the_spec() -> None:
    """The examples of tlog-tiles: three-digit groups, x on all but the last, .p/W for partial tiles."""
    assert tile_path(TileId(0, 1234067, 256)) == "tile/0/x001/x234/067"
    assert tile_path(TileId(1, 0, 5)) == "tile/1/000.p/5"
    assert tile_path(TileId(2, 1000, 256)) == "tile/2/x001/000"
    assert entries_path(1234067, 8) == "tile/entries/x001/x234/067.p/8"
    assert parse_tile_path("0/x001/x234/067.p/8") == TilePath(0, 1234067, 8)
    assert parse_tile_path("entries/067") == TilePath(None, 67, None)


@given(st.integers(0, 5), st.integers(0, 2**40), st.integers(1, 256))
def test_paths_round_trip(level: int, index: int, width: int) -> None:
    tile = TileId(level, index, width)
    expected_width = None if width == 256 else width
    assert parse_tile_path(tile_path(tile).removeprefix("tile/")) == TilePath(level, index, expected_width)
    assert parse_tile_path(entries_path(index, width).removeprefix("tile/")) == TilePath(None, index, expected_width)


@pytest.mark.parametrize(
    "path",
    [
        "0/67",
        "0/0067",
        "0/x000/067",
        "0/001/067",
        "0/x1/067",
        "00/067",
        "9/067",
        "a/067",
        "0/067.p/0",
        "0/067.p/256",
        "0/067.p/07",
        "0/067.p/",
        "0",
        "0/067/",
    ],
)
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="tile"):
        parse_tile_path(path)


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_entry_bundles_round_trip(entries: list[bytes]) -> None:
    bundle = entry_bundle(entries)
    assert parse_entry_bundle(bundle) == entries
    assert len(bundle) == sum(2 + len(entry) for entry in entries)


def test_entry_bundle_limits() -> None:
    with pytest.raises(InvalidProofShape):
        entry_bundle([b"x" * 65_536])
    with pytest.raises(InvalidProofShape):
        parse_entry_bundle(b"\x00\x05abc")


@given(st.integers(0, 300_000))
def test_tiles_for_size_cover_every_level(size: int) -> None:
    """Level L holds size >> 8L hashes, cut into full tiles and at most one partial one at the right."""
    tiles = list(tiles_for_size(size))
    for level in range(6):
        widths = [t.width for t in tiles if t.level == level]
        assert sum(widths) == size >> (8 * level)
        assert all(w == 256 for w in widths[:-1])
        assert [t.index for t in tiles if t.level == level] == list(range(len(widths)))


def test_an_expanded_tile_implies_every_perfect_node_above_its_hashes() -> None:
    """Nodes of heights 0..7 over a tile's hashes equal MTH of the leaves under them; partial tiles stop early."""
    entries = [bytes([i % 256, i // 256]) for i in range(256)]
    hashes = [leaf_hash(e) for e in entries]
    full = ExpandedTile(b"".join(hashes))
    for height in range(8):
        for offset in range(256 >> height):
            span = entries[offset << height : (offset + 1) << height]
            assert full.node(height, offset) == reference.mth(span)
    assert full.node(8, 0) is None  # the tile's own root belongs to the tile above
    assert full.node_count() == 511 - 1
    partial = ExpandedTile(b"".join(hashes[:13]))
    assert partial.node(2, 2) == root_from_leaves(hashes[8:12])
    assert partial.node(2, 3) is None
    assert partial.node(0, 13) is None
    assert partial.node_count() == 13 + 6 + 3 + 1
    with pytest.raises(InvalidProofShape):
        ExpandedTile(b"\x00" * 33)


@given(st.integers(0, 40), st.integers(0, 2**30))
def test_tile_of_node_finds_the_hashes_under_it(level: int, index: int) -> None:
    tile_level, tile_index, height, offset = tile_of_node(NodeId(level, index))
    assert tile_level * 8 + height == level
    first = (tile_index * 256 + (offset << height)) << (8 * tile_level)
    assert first == index << level
    assert 0 <= offset < 256 >> height
