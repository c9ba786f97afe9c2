"""Our spawned worker processes: :func:`spawn_pool` starts them, :func:`die_with_parent` is what each does at
its start; :func:`pool_cpu_seconds` and :func:`pool_peak_rss_kib` read what they used (Linux ``/proc``, read
while they live: benchmarks count it with each phase's)."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any


def spawn_pool(workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> ProcessPoolExecutor:
    """``workers`` processes started with ``spawn`` (the calling process has threads, so ``fork`` is unsafe),
    each running ``initializer(*initargs)`` first (which should call :func:`die_with_parent`)."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=initializer,
        initargs=initargs,
    )


def die_with_parent() -> None:
    """End this worker as soon as the process it serves ends (SIGKILL included): a thread waits on the parent's
    sentinel, which ``spawn`` gives every child (a pool's own queues never tell a worker its parent died)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="ledger-parent-watch", daemon=True).start()


def _pids(pool: ProcessPoolExecutor | None) -> list[int]:
    """The pool's live processes (none before it starts them)."""
    processes = None if pool is None else pool._processes  # the executor's own map; no public accessor
    return [] if not processes else [process.pid for process in processes.values() if process.pid is not None]


def pool_cpu_seconds(pool: ProcessPoolExecutor | None) -> float:
    """User + system CPU the pool's live processes have used so far (0 elsewhere than Linux or before they start)."""
    ticks = 0
    for pid in _pids(pool):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def pool_peak_rss_kib(pool: ProcessPoolExecutor | None) -> list[int]:
    """Each live process's peak resident set since it started (``VmHWM``, KiB; empty elsewhere than Linux or
    before they start). A child's ``ru_maxrss`` would count the copy of the parent it was forked from before
    ``spawn`` replaced it."""
    peaks: list[int] = []
    for pid in _pids(pool):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        peaks.extend(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return peaks
