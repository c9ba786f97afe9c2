"""Outcome recovery: a daemon thread settling outcome changes a crashed process left open.

It receives the outcome projection (anything with ``recover()``, e.g. ``ledger.outcomes``:
:meth:`~ledger_core.members.outcome_projection.OutcomeProjection.recover`), calls it at start and then
every ``interval`` seconds, and logs what it settled on the logger it is given. A failing round (the
database is unreachable) is logged with its traceback and retried the next round.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

OUTCOME_RECOVERY_INTERVAL_S = 60.0


class Recoverable(Protocol):
    def recover(self) -> int:
        """Settle the changes left open; how many were settled."""
        ...


def start_outcome_recovery(
    outcomes: Recoverable,
    interval: float = OUTCOME_RECOVERY_INTERVAL_S,
    *,
    logger: logging.Logger | None = None,
) -> Callable[[], None]:
    """Start the recovery thread; returns the function that stops it (waiting up to 5 s)."""
    log = logger or logging.getLogger(__name__)
    stop = threading.Event()

    def run() -> None:
        while True:
            try:
                recovered = outcomes.recover()
            except Exception:  # the database is unreachable: logged, retried next round
                log.exception("outcome recovery failed")
            else:
                if recovered:
                    log.warning("outcome recovery settled %d change(s) left open by a crash", recovered)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=run, name="outcome-recovery", daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(timeout=5)

    return close
