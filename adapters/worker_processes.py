"""What every spawned worker process of ours does at its start: :func:`die_with_parent`."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading


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
