"""The proofs benchmark's baseline (benchmarks/proofs.py): pymerkle 7 ``SqliteTree`` fed the same synthetic
entries with its bulk path, then a cold inclusion proof, warm inclusion and consistency proofs, and their
verification rates."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from _common import measure_phase, peak_rss_kib

from _proofs_log import FILL_CHUNK, EntryFactory
from _proofs_timing import Timings, rate, timed_calls


def pymerkle_append(path: str, entries: int, seed: int) -> tuple[Any, float]:
    """Bulk append ``entries`` synthetic entries; the phase (for its peak RSS) and the seconds spent appending."""
    import pymerkle

    factory = EntryFactory(seed)
    tree = pymerkle.SqliteTree(path)
    append_seconds = 0.0
    try:
        with measure_phase() as append:
            for first in range(0, entries, FILL_CHUNK):
                chunk = [row[7] for row in factory.rows(min(FILL_CHUNK, entries - first))]
                started = time.perf_counter()
                tree.append_entries(chunk)  # its bulk path: hash + executemany, one transaction per call
                append_seconds += time.perf_counter() - started
                del chunk
    finally:
        tree.close()
    return append, append_seconds


def pymerkle_case(
    path: str, entries: int, seed: int, samples: int, sizes: list[int], verify_s: float
) -> dict[str, Any]:
    """pymerkle 7 ``SqliteTree``: bulk append the same entries, then cold and warm proofs."""
    import pymerkle

    rng = random.Random(seed + 2)
    append, append_seconds = pymerkle_append(path, entries, seed)
    tree = pymerkle.SqliteTree(path)  # a new instance: empty subroot cache (the file is in the page cache)
    try:
        size = int(tree.get_size())
        started = time.perf_counter()
        tree.prove_inclusion(rng.randrange(size) + 1, size)  # pymerkle counts leaves from 1
        first_ms = (time.perf_counter() - started) * 1000
        indexes = [rng.randrange(size) + 1 for _ in range(samples)]
        inclusion = timed_calls([lambda i=i: tree.prove_inclusion(i, size) for i in indexes])
        usable = sorted({s for s in sizes if 0 < s <= size} | {size})
        consistency = Timings([], [], [], None)
        consistency_items: list[tuple[Any, ...]] = []
        if len(usable) >= 2:
            pairs = [tuple(sorted(rng.sample(usable, 2))) for _ in range(samples)]
            consistency = timed_calls([lambda a=a, b=b: tree.prove_consistency(a, b) for a, b in pairs])
            consistency_items = [
                (tree.get_root(a), tree.get_root(b), proof)
                for (a, b), proof in zip(pairs, consistency.results, strict=True)
            ]
        root = bytes(tree.get_root(size))
        inclusion_items = [(tree.get_leaf(i), root, proof) for i, proof in zip(indexes, inclusion.results, strict=True)]
        verify_inclusion_rate = rate(inclusion_items, pymerkle.verify_inclusion, verify_s)
        verify_consistency_rate = rate(consistency_items, pymerkle.verify_consistency, verify_s)
    finally:
        tree.close()
    return {
        "entries": entries,
        "root": root.hex(),
        "db_mib": round(Path(path).stat().st_size / 2**20, 1),
        "append": {
            "entries_per_s": round(entries / append_seconds, 1) if append_seconds > 0 else None,
            "seconds": round(append_seconds, 3),
            "method": f"SqliteTree.append_entries, {FILL_CHUNK:,} entries per call (one transaction each)",
            "rss_peak_mib": round(append.rss_peak_kib / 1024, 1),
        },
        "inclusion": {**inclusion.summary(), "first_ms": round(first_ms, 1), "first": "cold subroot cache"},
        "consistency": consistency.summary(),
        "verify": {"inclusion": verify_inclusion_rate, "consistency": verify_consistency_rate},
        "rss_peak_mib": round(peak_rss_kib() / 1024, 1),
    }
