"""A job run every ``interval`` seconds in a daemon thread, until the returned function stops it.

The SSO jobs (certificate watch, roster inbox) use it; a failing pass is logged and retried at the next
interval (the database may be briefly unreachable), never swallowed silently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any


def start_periodic(name: str, interval: float, job: Callable[[], Any], log: logging.Logger) -> Callable[[], None]:
    """Run ``job`` now and then every ``interval`` seconds; returns the function that stops it (waits up to 5 s)."""
    stop = threading.Event()

    def run() -> None:
        while True:
            try:
                job()
            except Exception:  # logged with its traceback and retried next interval
                log.exception("%s failed", name)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(timeout=5)

    return close
