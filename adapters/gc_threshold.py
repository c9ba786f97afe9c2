"""Fewer cyclic garbage collections during a bulk run: :func:`bulk_gc_threshold`.

A bulk import allocates millions of short-lived objects (decoded lines, payload dicts, rows) that
reference counting frees on its own; CPython's cyclic collector still walks the young generation every
700 allocations and the older ones after that, which took 6-7 % of the main thread of a claims import
(``gc.callbacks`` timing, docs/performance.md, issue 15 "Session 10: CPU cuts") and ~18 % of the
eligibility bulk path's. Raising the young-generation threshold for the duration of the run makes those
passes rare; cycles are still collected (when the raised thresholds are reached, and normally afterwards).

The thresholds are process-wide: the first of overlapping entries (threads, nesting) saves the thresholds
in force and sets the bulk ones, the last to leave restores what was saved. Nothing else is changed
(collection stays enabled, nothing is frozen).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

BULK_THRESHOLDS = (100_000, 50, 1_000)
"""``gc.set_threshold`` during a bulk run: a young collection every 100,000 net allocations (not 700)."""

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, ...] = ()


@contextmanager
def bulk_gc_threshold(thresholds: tuple[int, int, int] = BULK_THRESHOLDS) -> Iterator[None]:
    """Run the body with the collector's thresholds raised to ``thresholds``, restored afterwards (also on an
    exception); see the module docstring for overlapping uses."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(*thresholds)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
