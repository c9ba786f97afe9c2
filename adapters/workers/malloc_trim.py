"""Giving freed heap memory back to the system: glibc's ``malloc_trim(0)`` every ``interval`` seconds.

glibc keeps the pages of freed small allocations in its arenas (one per thread that allocates, up to
8 x cores) and returns them to the system only from the top of the main heap. A server worker whose
threads build and drop aggregates, decoded entries and rows therefore keeps RSS it no longer uses, and the
soak saw it creep up with the operations served (docs/performance.md, "Soak: malloc trimming").
``malloc_trim(0)`` walks every arena and releases the free pages (``madvise(MADV_DONTNEED)``): a few
milliseconds per call, run from a daemon thread (ctypes releases the GIL around the call).

On a C library without ``malloc_trim`` (musl, macOS) nothing is started and that is logged once. jemalloc
(``LD_PRELOAD``, docs/deployment.md) returns memory on its own; trimming then finds glibc's heap nearly
empty and costs next to nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

from adapters.workers.periodic import start_periodic

TrimFunction = Callable[[int], int]
"""``malloc_trim(pad)``: 1 when memory was released to the system, 0 when there was none to release."""


def glibc_malloc_trim() -> TrimFunction | None:
    """glibc's ``malloc_trim``, or None when this process's C library has none."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:  # no loadable C library under that name: nothing to trim with
        return None
    function = getattr(libc, "malloc_trim", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    trim: TrimFunction = function
    return trim


class MallocTrimmer:
    """One pass: ``malloc_trim(0)``; counts the passes and those that released memory."""

    def __init__(self, trim: TrimFunction) -> None:
        self._trim = trim
        self.passes = 0
        self.released = 0

    def __call__(self) -> None:
        released = self._trim(0)
        self.passes += 1
        self.released += 1 if released else 0


def start_malloc_trim(
    interval: float, log: logging.Logger, trim: TrimFunction | None = None
) -> tuple[MallocTrimmer | None, Callable[[], None]]:
    """Trim now and then every ``interval`` seconds in a daemon thread (``interval`` <= 0: never).

    Returns the trimmer (None when nothing was started) and the function that stops it. ``trim`` replaces
    glibc's function (tests)."""
    if interval <= 0:
        return None, _nothing
    function = trim if trim is not None else glibc_malloc_trim()
    if function is None:
        log.info("malloc_trim is not available in this C library: freed heap pages are not trimmed")
        return None, _nothing
    trimmer = MallocTrimmer(function)
    return trimmer, start_periodic("malloc-trim", interval, trimmer, log)


def _nothing() -> None:
    """Nothing was started: nothing to stop."""
