"""Our spawned worker pools (``adapters.worker_processes``): what their processes used, read from ``/proc``."""

from __future__ import annotations

import hashlib
import sys

import pytest

from adapters.worker_processes import SpawnedPool, die_with_parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux /proc")


def _spin(rounds: int) -> int:
    """CPU work: SHA-256 over the same block ``rounds`` times."""
    digest = b""
    for _ in range(rounds):
        digest = hashlib.sha256(digest + bytes(65_536)).digest()
    return len(digest)


def test_a_pool_reports_its_processes_cpu_and_peak_memory() -> None:
    """Before the pool starts its processes nothing is counted; after work, their CPU and each one's peak; once
    closed, nothing again."""
    pool = SpawnedPool(2, die_with_parent, ())
    try:
        assert pool.cpu_seconds() == 0.0
        assert pool.peak_rss_kib() == []
        executor = pool.get()
        assert [done.result() for done in [executor.submit(_spin, 3_000) for _ in range(4)]] == [32] * 4
        assert pool.cpu_seconds() > 0.0
        peaks = pool.peak_rss_kib()
        assert len(peaks) == 2
        assert all(peak > 1_024 for peak in peaks)  # a Python interpreter: more than 1 MiB resident
    finally:
        pool.close()
    assert (pool.executor, pool.cpu_seconds(), pool.peak_rss_kib()) == (None, 0.0, [])


def test_a_pool_whose_process_died_starts_afresh() -> None:
    """After a drop (a process died: the pool is broken) the next use starts a new pool."""
    pool = SpawnedPool(1, die_with_parent, ())
    try:
        broken = pool.get()
        pool.drop(broken)
        assert pool.executor is None
        assert pool.get() is not broken
        assert pool.get().submit(_spin, 1).result() == 32
    finally:
        pool.close()
