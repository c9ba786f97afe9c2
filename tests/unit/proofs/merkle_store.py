"""An in-memory node store for tests: what a database adapter does, in a dict."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from proofs import CompactRange, NodeId, StoredNode, leaf_hash


class MemoryStore:
    """Appends entries through `CompactRange` and answers batched `fetch` calls, counting them."""

    def __init__(self, entries: Sequence[bytes] = ()) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.compact = CompactRange()
        self.fetch_calls: list[tuple[NodeId, ...]] = []
        self.roots = [self.compact.root()]
        for entry in entries:
            self.append(entry)

    def append(self, entry: bytes) -> list[StoredNode]:
        created = self.compact.append(leaf_hash(entry))
        for node in created:
            assert node.id not in self.nodes, f"node {node.id} stored twice"
            self.nodes[node.id] = node.hash
        self.roots.append(self.compact.root())
        return created

    def fetch(self, ids: Sequence[NodeId]) -> Mapping[tuple[int, int], bytes]:
        self.fetch_calls.append(tuple(ids))
        return {i: self.nodes[i] for i in ids if i in self.nodes}


def entries(count: int, salt: str = "entry") -> list[bytes]:
    """Deterministic, varied-length test entries."""
    return [hashlib.sha256(f"{salt}-{i}".encode()).digest()[: i % 33] for i in range(count)]
