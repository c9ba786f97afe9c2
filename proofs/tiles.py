"""C2SP tlog-tiles: the Merkle tree as tiles of 256 hashes (https://c2sp.org/tlog-tiles), pure.

A tile of level ``L`` and index ``N`` holds up to 256 consecutive hashes of tree level ``8 * L``
(level 0: leaf hashes), those of indexes ``[256 * N, 256 * N + width)``; its bytes are the hashes
concatenated. A *full* tile (width 256) never changes; the tile at the right edge of a level is
*partial* (width 1..255) and grows until full. A tile of height 8 implies every node of the tree
levels ``8L .. 8L + 7`` over its hashes: :class:`ExpandedTile` computes them (what Go's
``tlog.HashFromTile`` does), so only one level in eight is ever stored.

Paths (tlog-tiles "Tiles" and "Entry bundles"): ``tile/<L>/<N>[.p/<W>]`` and
``tile/entries/<N>[.p/<W>]``, ``N`` in groups of three digits, every group but the last prefixed
``x`` (1234067 -> ``x001/x234/067``). An entry bundle is the entries concatenated, each preceded
by its length as a big-endian uint16.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from typing import Final, NamedTuple

from proofs.errors import InvalidProofShape, InvalidRange
from proofs.hashing import HASH_SIZE, NODE_PREFIX
from proofs.tree import NodeId

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "ExpandedTile",
    "TileId",
    "TilePath",
    "entries_path",
    "entry_bundle",
    "parse_entry_bundle",
    "parse_tile_path",
    "tile_of_node",
    "tile_path",
    "tiles_for_size",
]

TILE_HEIGHT: Final = 8
"""Tree levels per tile stratum (tlog-tiles fixes the height at 8)."""
TILE_WIDTH: Final = 1 << TILE_HEIGHT
"""Hashes in a full tile: 256."""
MAX_TILE_LEVEL: Final = 63 // TILE_HEIGHT
"""Highest tile level a uint64 tree size reaches."""
_MAX_ENTRY: Final = 0xFFFF


class TileId(NamedTuple):
    """A tile: ``level`` (tree level ``8 * level``), ``index`` from the left, ``width`` hashes (1..256)."""

    level: int
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: (level, index, width)
    width: int

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH


class TilePath(NamedTuple):
    """A parsed tile path: ``level`` is None for an entry bundle; ``width`` None for a full tile."""

    level: int | None
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose
    width: int | None


def tiles_for_size(size: int) -> Iterator[TileId]:
    """Every tile of a tree of ``size`` leaves, level by level, left to right (full tiles, then the partial one).

    Level ``L`` holds ``size >> 8L`` hashes: ``count // 256`` full tiles and, when ``count % 256`` is
    not zero, one partial tile of that width.
    """
    if size < 0:
        raise InvalidRange(0, size, "size must be >= 0")
    level = 0
    count = size
    while count:
        full, rest = divmod(count, TILE_WIDTH)
        for index in range(full):
            yield TileId(level, index, TILE_WIDTH)
        if rest:
            yield TileId(level, full, rest)
        level += 1
        count >>= TILE_HEIGHT


def tile_of_node(node: NodeId) -> tuple[int, int, int, int]:
    """Where node ``(level, index)`` lives: ``(tile level, tile index, height in the tile, index in the tile)``.

    The node is the root of ``2**height`` consecutive hashes of its tile, starting at
    ``offset << height``; the tile must hold at least ``(offset + 1) << height`` hashes.
    """
    level, index = node
    tile_level, height = divmod(level, TILE_HEIGHT)
    first = index << height  # first hash of tree level 8 * tile_level under the node
    tile_index = first >> TILE_HEIGHT
    return tile_level, tile_index, height, index - (tile_index << (TILE_HEIGHT - height))


class ExpandedTile:
    """A tile's hashes and every perfect node above them inside the tile (heights 0..7).

    ``rows[h]`` is the concatenation of the ``width >> h`` complete nodes of height ``h``. Partial
    tiles imply only the perfect nodes over their first hashes; those never change as the tile grows.
    """

    __slots__ = ("rows", "width")

    def __init__(self, data: bytes) -> None:
        width, rest = divmod(len(data), HASH_SIZE)
        if rest or not 0 < width <= TILE_WIDTH:
            raise InvalidProofShape(f"a tile holds 1..{TILE_WIDTH} hashes of {HASH_SIZE} bytes, got {len(data)} bytes")
        self.width = width
        rows = [bytes(data)]
        row = rows[0]
        sha256 = hashlib.sha256
        for _ in range(1, TILE_HEIGHT):
            pairs = len(row) // (2 * HASH_SIZE)
            if not pairs:
                break
            row = b"".join(
                sha256(NODE_PREFIX + row[at : at + 2 * HASH_SIZE]).digest()
                for at in range(0, pairs * 2 * HASH_SIZE, 64)
            )
            rows.append(row)
        self.rows: tuple[bytes, ...] = tuple(rows)

    def node(self, height: int, offset: int) -> bytes | None:
        """The node of ``height`` at ``offset`` in this tile, or None if the tile does not (yet) imply it."""
        if height >= len(self.rows):
            return None
        row = self.rows[height]
        start = offset * HASH_SIZE
        if offset < 0 or start + HASH_SIZE > len(row):
            return None
        return row[start : start + HASH_SIZE]

    def node_count(self) -> int:
        """Perfect nodes this tile implies, its own hashes included."""
        return sum(len(row) // HASH_SIZE for row in self.rows)


def _encode_index(index: int) -> str:
    digits = f"{index:d}"
    digits = digits.zfill(-(-len(digits) // 3) * 3)
    groups = [digits[at : at + 3] for at in range(0, len(digits), 3)]
    return "/".join([*(f"x{group}" for group in groups[:-1]), groups[-1]])


def tile_path(tile: TileId) -> str:
    """``tile/<L>/<N>[.p/<W>]``: where tlog-tiles serves ``tile``."""
    return f"tile/{tile.level}/{_index_path(tile.index, tile.width)}"


def entries_path(index: int, width: int) -> str:
    """``tile/entries/<N>[.p/<W>]``: where tlog-tiles serves the entry bundle of leaves ``[256N, 256N + width)``."""
    return f"tile/entries/{_index_path(index, width)}"


def _index_path(index: int, width: int) -> str:
    if index < 0 or not 0 < width <= TILE_WIDTH:
        raise InvalidRange(index, width, "tile index must be >= 0 and width 1..256")
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"{_encode_index(index)}{suffix}"


_GROUP = re.compile(r"x\d{3}")
_LAST = re.compile(r"\d{3}")


def parse_tile_path(path: str) -> TilePath:
    """Parse ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]`` (the part after ``tile/``); ValueError if malformed.

    Strict per tlog-tiles: three-digit groups, ``x`` on every group but the last, no leading
    empty group (``x000/...``), widths 1..255 for partial tiles, levels 0..``MAX_TILE_LEVEL``.
    """
    parts = path.removeprefix("/").split("/")
    if len(parts) < 2:
        raise ValueError(f"not a tile path: {path!r}")
    head, groups = parts[0], parts[1:]
    width: int | None = None
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not groups[-1].isdigit() or groups[-1].startswith("0"):
            raise ValueError(f"bad partial tile width in {path!r}")
        width = int(groups[-1])
        if not 0 < width < TILE_WIDTH:
            raise ValueError(f"partial tile width must be 1..255 in {path!r}")
        groups = [*groups[:-2], groups[-2][: -len(".p")]]
    if not all(_GROUP.fullmatch(group) for group in groups[:-1]) or not _LAST.fullmatch(groups[-1]):
        raise ValueError(f"bad tile index in {path!r}")
    if len(groups) > 1 and groups[0] == "x000":
        raise ValueError(f"non-canonical tile index in {path!r}")
    index = int("".join(group.lstrip("x") for group in groups))
    if head == "entries":
        return TilePath(None, index, width)
    if not head.isdigit() or (len(head) > 1 and head.startswith("0")) or int(head) > MAX_TILE_LEVEL:
        raise ValueError(f"bad tile level in {path!r}")
    return TilePath(int(head), index, width)


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as a tlog-tiles entry bundle: each as a big-endian uint16 length, then its bytes."""
    out = bytearray()
    for entry in entries:
        if len(entry) > _MAX_ENTRY:
            raise InvalidProofShape(f"an entry bundle entry is at most {_MAX_ENTRY} bytes, got {len(entry)}")
        out += len(entry).to_bytes(2, "big")
        out += entry
    return bytes(out)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle; ``InvalidProofShape`` if a length runs past the end."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise InvalidProofShape("truncated entry length in bundle")
        length = int.from_bytes(data[at : at + 2], "big")
        if at + 2 + length > len(data):
            raise InvalidProofShape("truncated entry in bundle")
        entries.append(data[at + 2 : at + 2 + length])
        at += 2 + length
    return entries
