"""Our spawned worker processes: :func:`spawn_pool` starts them, :func:`die_with_parent` is what each does at
its start; :class:`SpawnedPool` owns such a pool for the process that uses it."""

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


class SpawnedPool:
    """``workers`` processes of :func:`spawn_pool`, started on first use (:meth:`get`), started afresh after one
    died (:meth:`drop`), stopped by :meth:`close`; thread-safe. :meth:`cpu_seconds` and :meth:`peak_rss_kib` read
    what the live processes used (Linux ``/proc``, read while they live: benchmarks count it with each phase's)."""

    def __init__(self, workers: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
        self.workers = workers
        self._initializer = initializer
        self._initargs = initargs
        self._lock = threading.Lock()
        self.executor: ProcessPoolExecutor | None = None
        """The live pool, None before the first use and after a drop or close."""

    def get(self) -> ProcessPoolExecutor:
        """The live pool, started now if there is none."""
        with self._lock:
            if self.executor is None:
                self.executor = spawn_pool(self.workers, self._initializer, self._initargs)
            return self.executor

    def drop(self, executor: ProcessPoolExecutor) -> None:
        """A process of ``executor`` died (the pool is broken): the next :meth:`get` starts a new pool."""
        with self._lock:
            if self.executor is executor:
                self.executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the processes (after the work they hold)."""
        with self._lock:
            executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def cpu_seconds(self) -> float:
        """User + system CPU the live processes have used so far (0 elsewhere than Linux or before they start)."""
        ticks = 0
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
        return ticks / os.sysconf("SC_CLK_TCK")

    def peak_rss_kib(self) -> list[int]:
        """Each live process's peak resident set since it started (``VmHWM``, KiB; empty elsewhere than Linux or
        before they start). A child's ``ru_maxrss`` would count the copy of the parent it was forked from before
        ``spawn`` replaced it."""
        peaks: list[int] = []
        for pid in self._pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            peaks.extend(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        return peaks

    def _pids(self) -> list[int]:
        with self._lock:
            processes = None if self.executor is None else self.executor._processes  # no public accessor
            return [] if not processes else [process.pid for process in processes.values() if process.pid is not None]
