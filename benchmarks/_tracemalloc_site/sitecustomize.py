"""Allocation tracing for the soak (``benchmarks/soak.py --tracemalloc DIR``), never imported by the product.

Put on ``PYTHONPATH`` with ``LEDGER_BENCH_TRACEMALLOC_DIR`` set, every Python process started from then on
(uvicorn's spawned API workers included) runs :func:`tracemalloc.start` ``LEDGER_BENCH_TRACEMALLOC_DELAY``
(30) s after it starts (only what is allocated from then on is traced), then dumps a snapshot to
``DIR/<pid>-<n>.snap`` every ``LEDGER_BENCH_TRACEMALLOC_SECONDS`` (60) seconds, from a daemon thread.
``LEDGER_BENCH_TRACEMALLOC_MATCH``: trace only processes whose command line contains it (e.g. ``serve``; the
uvicorn workers' is their supervisor's). Compare two of one pid with
``python benchmarks/_tracemalloc_site/compare.py FIRST LAST``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import tracemalloc

_DIR = os.environ.get("LEDGER_BENCH_TRACEMALLOC_DIR")


def _dump_forever(directory: str, every: float, delay: float, frames: int) -> None:
    time.sleep(delay)  # tracing from the start would slow imports tenfold (the soak's start-up timeouts)
    if os.environ.get("LEDGER_BENCH_TRACEMALLOC_MATCH", "") not in " ".join(sys.argv):
        return  # read late: a spawned child's argv is its parent's only once multiprocessing has set it
    tracemalloc.start(frames)
    count = 0
    while True:
        time.sleep(every)
        count += 1
        snapshot = tracemalloc.take_snapshot()
        snapshot.dump(os.path.join(directory, f"{os.getpid()}-{count:03d}.snap"))
        with open(os.path.join(directory, f"{os.getpid()}.cmdline"), "w") as out:
            out.write(" ".join(sys.argv))


if _DIR:
    _every = float(os.environ.get("LEDGER_BENCH_TRACEMALLOC_SECONDS", "60"))
    _delay = float(os.environ.get("LEDGER_BENCH_TRACEMALLOC_DELAY", "30"))
    _frames = int(os.environ.get("LEDGER_BENCH_TRACEMALLOC_FRAMES", "12"))
    threading.Thread(
        target=_dump_forever, args=(_DIR, _every, _delay, _frames), name="tracemalloc-dump", daemon=True
    ).start()
