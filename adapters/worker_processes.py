"""Our spawned worker processes: :func:`spawn_pool` starts them, :func:`die_with_parent` is what each does at
its start."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
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
