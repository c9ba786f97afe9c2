"""Our spawned worker pools (``adapters.worker_processes``): what their processes used, read from ``/proc``."""

from __future__ import annotations

import hashlib
import sys

import pytest

from adapters.worker_processes import die_with_parent, pool_cpu_seconds, pool_peak_rss_kib, spawn_pool

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux /proc")


def _spin(rounds: int) -> int:
    """CPU work: SHA-256 over the same block ``rounds`` times."""
    digest = b""
    for _ in range(rounds):
        digest = hashlib.sha256(digest + bytes(65_536)).digest()
    return len(digest)


def test_a_pool_reports_its_processes_cpu_and_peak_memory() -> None:
    """Before the pool starts its processes nothing is counted; after work, their CPU and each one's peak."""
    pool = spawn_pool(2, die_with_parent, ())
    try:
        assert pool_cpu_seconds(pool) == 0.0
        assert pool_peak_rss_kib(pool) == []
        assert [done.result() for done in [pool.submit(_spin, 3_000) for _ in range(4)]] == [32] * 4
        assert pool_cpu_seconds(pool) > 0.0
        peaks = pool_peak_rss_kib(pool)
        assert len(peaks) == 2
        assert all(peak > 1_024 for peak in peaks)  # a Python interpreter: more than 1 MiB resident
    finally:
        pool.shutdown()
    assert (pool_cpu_seconds(None), pool_peak_rss_kib(None)) == (0.0, [])
