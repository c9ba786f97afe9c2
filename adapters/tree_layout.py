"""How the tree is laid out in storage, for every backend's tree module: C2SP tlog-tiles.

The tree is stored as tiles of 256 hashes (``merkle_tiles(level, idx, width, data)``, see
:mod:`proofs.tiles`): one tree level in eight, every other node computed from the tile below it. This
module holds what every backend shares, with no SQL: the tile rows an integration writes
(:func:`tile_writes`), the read-through cache of expanded tiles (:class:`TileCache`) and the node reads
the :class:`~ledger_core.engine.ports.TreeStore` port asks for, answered from tiles (:class:`TileNodes`).
Each backend's tree module (``adapters/<backend>/tree.py``) writes its own SQL.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ledger_core.engine.merkle import CheckpointRecord, NodeMismatch
from proofs.hashing import HASH_SIZE
from proofs.tiles import TILE_HEIGHT, TILE_WIDTH, ExpandedTile, tile_of_node
from proofs.tree import NodeId, StoredNode

DEFAULT_CACHE_TILES = 2048
"""Expanded tiles a store keeps in memory (~16 KiB each for a full tile: ~32 MiB)."""

TileKey = tuple[int, int]
"""``(tile level, tile index)``: a tile's primary key."""
ReadTiles = Callable[[Sequence[TileKey]], Mapping[TileKey, bytes]]
"""One query: the stored data of the given tiles (absent ones left out)."""


def checkpoint_record(row: Any) -> CheckpointRecord | None:
    """A ``(size, root_hash, note, signed_at)`` row as a record (None for no row)."""
    return None if row is None else CheckpointRecord(int(row[0]), bytes(row[1]), row[2], row[3])


class TileRow(NamedTuple):
    """One row of ``merkle_tiles`` to insert or grow: ``data`` is ``width`` hashes concatenated."""

    level: int
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose
    width: int
    data: bytes


def tile_writes(
    old_size: int, nodes: Iterable[StoredNode], read_edge: Callable[[int, int], bytes | None]
) -> list[TileRow]:
    """The tile rows that store ``nodes`` (what appending leaves ``old_size..`` completed, any levels).

    Only nodes of tree levels ``8L`` are kept (tile level ``L``); the rest are implied. The first new
    hash of tile level ``L`` has index ``old_size >> 8L``; when that is inside a partial tile,
    ``read_edge(L, N)`` gives the stored prefix, which is rewritten with the new hashes appended (a
    full tile is written once). Raises ``NodeMismatch`` if the nodes or the stored edge do not line up.
    """
    by_level: dict[int, list[bytes]] = {}
    for node in nodes:
        tile_level, height = divmod(node.level, TILE_HEIGHT)
        if height:
            continue
        hashes = by_level.setdefault(tile_level, [])
        expected = (old_size >> node.level) + len(hashes)
        if node.index != expected:
            raise NodeMismatch(node.level, node.index, f"node index {expected}", f"index {node.index}")
        hashes.append(node.hash)
    rows: list[TileRow] = []
    for tile_level, hashes in sorted(by_level.items()):
        first = old_size >> (TILE_HEIGHT * tile_level)
        tile_index, filled = divmod(first, TILE_WIDTH)
        prefix = b""
        if filled:
            prefix = read_edge(tile_level, tile_index) or b""
            if len(prefix) != filled * HASH_SIZE:
                raise NodeMismatch(
                    tile_level * TILE_HEIGHT, first, f"a partial tile of {filled} hashes", f"{len(prefix)} bytes"
                )
        data = prefix + b"".join(hashes)
        step = TILE_WIDTH * HASH_SIZE
        for at in range(0, len(data), step):
            chunk = data[at : at + step]
            rows.append(TileRow(tile_level, tile_index + at // step, len(chunk) // HASH_SIZE, chunk))
    return rows


def implied_nodes(width: int) -> int:
    """Perfect nodes a tile of ``width`` hashes holds or implies (its hashes and those above them in the tile)."""
    return sum(width >> height for height in range(TILE_HEIGHT))


class TileCache:
    """A bounded LRU of expanded tiles, keyed ``(level, index)``; thread-safe.

    Hashes already in a tile never change (a partial tile only grows), so a cached tile answers every
    node it implies; a node beyond its width is read again (and replaces the entry with the wider tile).
    """

    def __init__(self, capacity: int = DEFAULT_CACHE_TILES) -> None:
        self.capacity = capacity
        self._tiles: OrderedDict[TileKey, ExpandedTile] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: TileKey, width: int) -> ExpandedTile | None:
        with self._lock:
            tile = self._tiles.get(key)
            if tile is None or tile.width < width:
                return None
            self._tiles.move_to_end(key)
            return tile

    def put(self, key: TileKey, tile: ExpandedTile) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            held = self._tiles.get(key)
            if held is None or held.width <= tile.width:
                self._tiles[key] = tile
            self._tiles.move_to_end(key)
            while len(self._tiles) > self.capacity:
                self._tiles.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._tiles.clear()

    def __len__(self) -> int:
        """Tiles held (at most :attr:`capacity`)."""
        with self._lock:
            return len(self._tiles)


class TileNodes:
    """Node reads of the ``TreeStore`` port answered from tiles: at most one tile query per call."""

    def __init__(self, read_tiles: ReadTiles, cache: TileCache | None = None) -> None:
        self._read = read_tiles
        self.cache = cache if cache is not None else TileCache()

    def tiles(self, wanted: Mapping[TileKey, int]) -> dict[TileKey, ExpandedTile]:
        """Expanded tiles holding at least the given widths (cached or read in ONE query); absent ones left out."""
        found: dict[TileKey, ExpandedTile] = {}
        missing: list[TileKey] = []
        for key, width in wanted.items():
            tile = self.cache.get(key, width)
            if tile is None:
                missing.append(key)
            else:
                found[key] = tile
        if missing:
            for key, data in self._read(missing).items():
                tile = ExpandedTile(bytes(data))
                self.cache.put(key, tile)
                found[key] = tile
        return found

    def fetch_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        """Hashes of the given nodes (any level), computed from their tiles; absent ones left out."""
        nodes = [node if type(node) is NodeId else NodeId(*node) for node in ids]  # (level, index) tuples too
        places = [(node, tile_of_node(node)) for node in nodes]
        wanted: dict[TileKey, int] = {}
        for _, (tile_level, tile_index, height, offset) in places:
            key = (tile_level, tile_index)
            wanted[key] = max(wanted.get(key, 0), (offset + 1) << height)
        tiles = self.tiles(wanted)
        found: dict[NodeId, bytes] = {}
        for node, (tile_level, tile_index, height, offset) in places:
            tile = tiles.get((tile_level, tile_index))
            digest = None if tile is None else tile.node(height, offset)
            if digest is not None:
                found[node] = digest
        return found

    def nodes_completed_in(self, begin: int, end: int) -> dict[NodeId, bytes]:
        """Nodes (level >= 0) whose last leaf is in ``[begin, end)``: node (L, i) when begin < (i + 1) * 2**L <= end."""
        ids = [
            NodeId(level, index)
            for level in range(max(end, 1).bit_length() + 1)
            for index in range(begin >> level, end >> level)
        ]
        return self.fetch_nodes(ids)
