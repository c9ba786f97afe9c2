"""A :class:`~ledger_core.members.feeds.preparation.RowPreparer` on worker processes (issue 14 item 9).

The checks and the sealing of an eligibility file's rows (:func:`~ledger_core.members.feeds.preparation.
prepare_batch`) are most of the bulk path's CPU and need no log, so they run in ``workers`` spawned processes,
each with its own connection to the key store (keys are created there, as the loading process would create
them: one key-store transaction per batch). The loading process reads the file and hands batches out, up to
``2 * workers`` ahead, and takes them back in file order; it alone plans, writes the log and the counters.
A batch prepared but never saved (a crash, a failure) only leaves keys behind, which the next preparation of
the same members finds and uses.

The pool starts with the first file big enough to need it and lives until :meth:`ProcessPreparer.close`
(the ledger's close). Workers are started with ``spawn`` (the loading process has threads) and ask the
kernel to kill them when their parent dies (``PR_SET_PDEATHSIG``), so a SIGKILLed loader leaves none behind.
What crosses to a worker is the rows of one batch (the partner's plaintext, in memory, over a local pipe);
what comes back holds no plaintext.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date

from adapters.files.master_key import KeyWrapper
from adapters.gc_threshold import BULK_THRESHOLDS
from adapters.storage import StorageConfig, open_key_store
from ledger_core.members.feeds.preparation import PreparedBatch, RowBatch, prepare_batch
from ledger_core.members.privacy import PersonalDataVault

_PR_SET_PDEATHSIG = 1
_vault: PersonalDataVault | None = None
"""The worker process's vault (set by :func:`_start_worker`)."""


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _start_worker(config: StorageConfig, master_key: bytes) -> None:
    """A worker's start: its own key-store connection and vault (closed when the process ends). The
    cyclic collector runs ~100x less often than by default (:mod:`adapters.gc_threshold`): a batch
    makes tens of thousands of small containers and no cycles; the default threshold spent ~12 % of a
    worker's CPU collecting them."""
    global _vault
    _die_with_parent()
    _vault = PersonalDataVault(open_key_store(config, KeyWrapper(master_key)))
    gc.freeze()  # what the start imported is permanent: never scanned again
    gc.set_threshold(*BULK_THRESHOLDS)


def _prepare(partner_id: str, on: date, batch: RowBatch) -> PreparedBatch:
    if _vault is None:  # the initializer runs first in every worker; a worker without it is a bug
        raise RuntimeError("preparation worker started without its vault")
    return prepare_batch(_vault, partner_id, on, batch)


class ProcessPreparer:
    """Prepares batches in ``workers`` processes, up to ``2 * workers`` batches ahead of the loader."""

    def __init__(self, config: StorageConfig, master_key: bytes, workers: int) -> None:
        if workers < 1:
            raise ValueError("a process preparer needs at least one worker")
        self._config = config
        self._master_key = master_key
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def prepare(self, partner_id: str, on: date, batches: Iterable[RowBatch]) -> Iterator[PreparedBatch]:
        pool = self._started()
        pending: deque[Future[PreparedBatch]] = deque()
        try:
            for batch in batches:
                pending.append(pool.submit(_prepare, partner_id, on, batch))
                if len(pending) >= 2 * self.workers:
                    yield self._result(pending.popleft())
            while pending:
                yield self._result(pending.popleft())
        finally:
            for future in pending:  # the loader stopped early: what was not started need not run
                future.cancel()

    def _result(self, future: Future[PreparedBatch]) -> PreparedBatch:
        try:
            return future.result()
        except BrokenProcessPool:
            with self._lock:  # a worker died: the next file starts a new pool
                self._pool = None
            raise

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self._config, self._master_key),
                )
            return self._pool

    def close(self) -> None:
        """Stop the workers (after the batches they hold)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
