"""The log as C2SP tlog-tiles, read-only: tiles, entry bundles and the latest checkpoint (pure; ports only).

What ``GET /tile/...`` and ``GET /checkpoint`` serve (https://c2sp.org/tlog-tiles), so that any
tlog-tiles client (Go's ``golang.org/x/mod/sumdb/tlog``, transparency-dev tooling, witnesses) reads and
verifies the log without our code. Tiles are stored with the checkpoint that covers them, so every tile
served belongs to a signed tree. A partial tile ``.p/W`` is the first ``W`` hashes of the tile (those
never change), so a client holding an older checkpoint still gets the tile its size implies.

Entry bundles hold the entries as hashed into the tree (the leaf data: ``leaf_hash = SHA-256(0x00 ||
entry)``), for positions below the latest checkpoint. They carry every partner's entries, so they are
served only where the operator made the log's entries public (``public_entries``).
"""

from __future__ import annotations

from ledger_core.engine.errors import NotFound
from ledger_core.engine.merkle import CheckpointNotFound, CheckpointRecord
from ledger_core.engine.ports import LogReader, TreeStore
from proofs.hashing import HASH_SIZE
from proofs.tiles import TILE_WIDTH, TilePath, entry_bundle

__all__ = ["TileLog"]


class TileLog:
    """Tiles, entry bundles and the latest signed checkpoint of one log."""

    def __init__(self, store: TreeStore, log: LogReader, *, public_entries: bool = False) -> None:
        self.store = store
        self.log = log
        self.public_entries = public_entries

    def checkpoint(self) -> CheckpointRecord:
        """The latest signed checkpoint (its note carries the witnesses' cosignatures once collected)."""
        record = self.store.latest_checkpoint()
        if record is None:
            raise CheckpointNotFound(None)
        return record

    def tile(self, path: TilePath) -> bytes:
        """The hashes of a tile (``path.width`` None: the full tile); ``NotFound`` unless stored that wide."""
        if path.level is None:
            return self.entries(path)
        width = TILE_WIDTH if path.width is None else path.width
        data = self.store.read_tile(path.level, path.index, width)
        if data is None:
            raise NotFound("tile", _describe(path))
        return data[: width * HASH_SIZE]

    def entries(self, path: TilePath) -> bytes:
        """The entry bundle of leaves ``[256N, 256N + W)``; ``NotFound`` beyond the latest checkpoint or if not
        public."""
        width = TILE_WIDTH if path.width is None else path.width
        start = path.index * TILE_WIDTH
        latest = self.store.latest_checkpoint()
        if not self.public_entries or latest is None or start + width > latest.size:
            raise NotFound("tile", _describe(path))
        rows = self.log.read_rows(start, width)
        if [row.position for row in rows] != list(range(start, start + width)):
            raise NotFound("tile", _describe(path))
        return entry_bundle([row.entry for row in rows])


def _describe(path: TilePath) -> str:
    level = "entries" if path.level is None else str(path.level)
    return f"{level}/{path.index}" + ("" if path.width is None else f".p/{path.width}")
