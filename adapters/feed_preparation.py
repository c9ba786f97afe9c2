"""A :class:`~ledger_core.members.feeds.preparation.RowPreparer` on worker processes (issue 14 item 9).

The checks and the sealing of an eligibility file's rows (:func:`~ledger_core.members.feeds.preparation.
prepare_batch`) are most of the bulk path's CPU and need no log, so they run in ``workers`` spawned processes,
each with its own connection to the key store (keys are created there, as the loading process would create
them: one key-store transaction per batch). The loading process reads the file on a feeder thread and hands
batches out, up to ``2 * workers + 2`` ahead, and takes them back in file order; it alone plans, writes the
log and the counters.
A batch prepared but never saved (a crash, a failure) only leaves keys behind, which the next preparation of
the same members finds and uses.

The pool starts with the first file big enough to need it and lives until :meth:`ProcessPreparer.close`
(the ledger's close). Workers are started with ``spawn`` (the loading process has threads) and end when their
parent ends (they watch its sentinel), so a SIGKILLed loader leaves none behind.
What crosses to a worker is the rows of one batch (the partner's plaintext, in memory, over a local pipe), or
with ``check_here`` those rows checked already; what comes back holds no plaintext.

Where the loader would otherwise wait for the workers (SQLite: the worker is the critical path there),
``check_here`` has its feeder thread check the rows of a batch itself whenever the workers are behind (every
worker busy and one more batch handed, not prepared yet), so that they only seal that batch
(docs/performance.md, "Bulk path, tenth pass").
"""

from __future__ import annotations

import gc
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import date

from adapters.files.master_key import KeyWrapper
from adapters.gc_threshold import BULK_THRESHOLDS
from adapters.ports import ManagedKeyStore
from adapters.storage import StorageConfig, open_key_store
from adapters.worker_processes import SpawnedPool, die_with_parent
from ledger_core.members.feeds.preparation import CheckedBatch, PreparedBatch, RowBatch, check_batch, prepare_batch
from ledger_core.members.privacy import PersonalDataVault

_TAKE_BACK_POLL = 0.005
"""Seconds the loader waits for its next batch before looking again for one to take back."""
_TAKEN_BACK_AHEAD = 2
"""At most this many batches the loader prepared itself wait for their turn (each a few MB)."""
_PREPARED = RowBatch([], [], 0)
"""Stands for the rows of a batch the loader prepared itself (dropped)."""

_keys: ManagedKeyStore | None = None
"""The worker process's key store (set by :func:`_start_worker`)."""
_vault: PersonalDataVault | None = None
"""The worker process's vault over :data:`_keys`."""


def _start_worker(config: StorageConfig, master_key: bytes) -> None:
    """A worker's start: its own key-store connection and vault (closed when the process ends). The
    cyclic collector runs ~100x less often than by default (:mod:`adapters.gc_threshold`): a batch
    makes tens of thousands of small containers and no cycles; the default threshold spent ~12 % of a
    worker's CPU collecting them.

    The key store commits behind (``commit_behind``): a batch's new keys commit on a thread of the worker
    while the batch is sealed, and :func:`_prepare` waits for that commit before the batch leaves the
    worker, so the loader never saves an entry sealed under a key that is not stored yet."""
    global _keys, _vault
    die_with_parent()
    _keys = open_key_store(config, KeyWrapper(master_key), bulk=True, commit_behind=True)
    _vault = PersonalDataVault(_keys)
    gc.freeze()  # what the start imported is permanent: never scanned again
    gc.set_threshold(*BULK_THRESHOLDS)


def _prepare(partner_id: str, on: date, batch: RowBatch | CheckedBatch) -> PreparedBatch:
    if _vault is None or _keys is None:  # the initializer runs first in every worker; without it, a bug
        raise RuntimeError("preparation worker started without its vault")
    prepared = prepare_batch(_vault, partner_id, on, batch)
    _keys.committed()  # its keys are stored before the batch is handed back (a failed commit is raised)
    return prepared


class _End:
    """The feeder's last item: the reading ended, with ``error`` if it failed."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class _Handed:
    """A batch handed to the pool: its future, and the batch itself (the loader may take it back and prepare
    it: ``prepared``)."""

    __slots__ = ("batch", "future", "prepared")

    def __init__(self, batch: RowBatch | CheckedBatch, future: Future[PreparedBatch]) -> None:
        self.batch = batch
        self.future = future
        self.prepared: PreparedBatch | None = None


def _feed(
    pool: ProcessPoolExecutor,
    partner_id: str,
    on: date,
    batches: Iterable[RowBatch],
    handed: queue.Queue[_Handed | _End],
    stopped: threading.Event,
    behind_at: int,
) -> None:
    """The feeder thread: each batch read is submitted and queued (blocking while the queue is full); with
    ``behind_at`` > 0 its rows are checked first, here (:func:`check_batch`), while the last ``behind_at`` batches
    handed are none of them prepared yet (the workers are behind), and the workers only seal them."""
    reading = iter(batches)
    try:
        submitted: deque[Future[PreparedBatch]] = deque(maxlen=max(behind_at, 1))
        for read in reading:
            if stopped.is_set():
                return
            behind = behind_at > 0 and sum(1 for future in submitted if not future.done()) >= behind_at
            batch = check_batch(on, read) if behind else read
            submitted.append(future := pool.submit(_prepare, partner_id, on, batch))
            handed.put(_Handed(batch, future))
    except Exception as error:  # noqa: BLE001 - handed to the loader, which raises it: never lost
        handed.put(_End(error))
        return
    finally:
        close = getattr(reading, "close", None)
        if close is not None:  # a generator holding the open file: closed here, where it ran
            close()
    handed.put(_End())


def _cancel_all(handed: queue.Queue[_Handed | _End]) -> None:
    while True:
        try:
            item = handed.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, _Handed):
            item.future.cancel()


class ProcessPreparer:
    """Prepares batches in ``workers`` processes, up to ``2 * workers + 2`` batches ahead of the loader.

    With ``local`` (the loading process's own vault), the loader takes work back while it waits: when the
    batch it needs next is not ready, it cancels the newest batch the pool has not started and prepares that
    one itself (in file order all the same). The loader's own CPU is otherwise idle while it waits, so the
    work spreads over the machine without another worker's memory (docs/performance.md)."""

    def __init__(
        self,
        config: StorageConfig,
        master_key: bytes,
        workers: int,
        local: PersonalDataVault | None = None,
        *,
        check_here: bool = False,
    ) -> None:
        if workers < 1:
            raise ValueError("a process preparer needs at least one worker")
        self.workers = workers
        self.local = local
        self.check_here = check_here
        """While the workers are behind, the feeder thread checks a batch's rows in this process and the workers
        only seal them (:func:`_feed`)."""
        self.taken_back = 0
        """Batches the loader prepared itself (taken back from the pool), since this preparer was made."""
        self._spawned = SpawnedPool(workers, _start_worker, (config, master_key))

    def prepare(self, partner_id: str, on: date, batches: Iterable[RowBatch]) -> Iterator[PreparedBatch]:
        """Read ``batches`` on a feeder thread and hand them to the workers, at most ``2 * workers + 2``
        ahead of what was taken: the workers go on while the loader waits for a save. A failure of the
        reading (e.g. the file changed) is raised here after the batches before it."""
        pool = self._spawned.get()
        ahead = 2 * self.workers + 2
        handed: queue.Queue[_Handed | _End] = queue.Queue(maxsize=ahead)
        stopped = threading.Event()
        feeder = threading.Thread(
            target=_feed,
            args=(pool, partner_id, on, batches, handed, stopped, self.workers + 1 if self.check_here else 0),
            name="ledger-feed-reader",
            daemon=True,
        )
        feeder.start()
        waiting: deque[_Handed | _End] = deque()  # taken from ``handed``, in file order, not yet yielded
        try:
            while True:
                item = waiting.popleft() if waiting else handed.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                if self.local is not None:
                    self._take_back(self.local, item, waiting, handed, ahead, partner_id, on)
                yield item.prepared if item.prepared is not None else self._result(pool, item.future)
        finally:
            stopped.set()  # the loader stopped early: the feeder ends, and what was not started need not run
            for pending in waiting:
                if isinstance(pending, _Handed):
                    pending.future.cancel()
            while feeder.is_alive():
                _cancel_all(handed)
                feeder.join(timeout=0.05)
            _cancel_all(handed)

    def _take_back(
        self,
        local: PersonalDataVault,
        needed: _Handed,
        waiting: deque[_Handed | _End],
        handed: queue.Queue[_Handed | _End],
        ahead: int,
        partner_id: str,
        on: date,
    ) -> None:
        """Until ``needed`` is ready: prepare here the newest batch the pool has not started (cancelled), or
        wait a moment for the pool or for the feeder's next batch."""
        while needed.prepared is None and not needed.future.done():
            while len(waiting) < ahead:  # what the feeder has read meanwhile
                try:
                    waiting.append(handed.get_nowait())
                except queue.Empty:
                    break
            held = sum(1 for item in waiting if isinstance(item, _Handed) and item.prepared is not None)
            newest = None
            if held < _TAKEN_BACK_AHEAD:  # what the loader prepared ahead waits in memory: a bounded amount
                newest = next(
                    (
                        item
                        for item in reversed(waiting)
                        if isinstance(item, _Handed) and item.prepared is None and item.future.cancel()
                    ),
                    None,
                )
            if newest is None:
                wait([needed.future], timeout=_TAKE_BACK_POLL)
                continue
            newest.prepared = prepare_batch(local, partner_id, on, newest.batch)
            newest.batch = _PREPARED  # its rows are not needed any more
            self.taken_back += 1

    def _result(self, pool: ProcessPoolExecutor, future: Future[PreparedBatch]) -> PreparedBatch:
        try:
            return future.result()
        except BrokenProcessPool:
            self._spawned.drop(pool)  # a worker died: the next file starts a new pool
            raise

    def peak_rss_kib(self) -> list[int]:
        """Each live worker's peak resident set since it started (:meth:`SpawnedPool.peak_rss_kib`; empty before
        the first big file)."""
        return self._spawned.peak_rss_kib()

    def close(self) -> None:
        """Stop the workers (after the batches they hold)."""
        self._spawned.close()
