"""The results file's proofs on worker processes (issue 15): :class:`ResultsWorkers`.

Every line of a results file is proven against the one checkpoint that covers the whole file, so the batches of
lines (:data:`~adapters.batch.results.RESULTS_BATCH` each) are independent of one another: they only read the
log's rows and the tree's tiles, never write. Of each ``workers + 1`` consecutive batches the writing process
proves the first itself and hands the others to the workers (up to :data:`AHEAD` each ahead of the line it
writes), and it writes them all in file order. A worker folds each claim from its rows
(:func:`~adapters.batch.results.folded_lines`) and answers the batch's lines as bytes; a batch naming a claim
its rows do not describe comes back as None and the writing process writes it itself (it rebuilds that claim
through the ledger, as the one-process path does). The bytes are those of the one-process path either way.

Workers are spawned on the first big file (``spawn``: the writing process has threads), each with its own
recorder and tree store (:func:`~adapters.opening.open_audit_log`), and end with :meth:`ResultsWorkers.close` or
with their parent (they watch its sentinel), so a SIGKILLed run leaves none behind. Nothing a worker does is
durable: a crash mid-file leaves the temporary results file, never a partial one under the final name.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack

import orjson

from adapters.batch.results import RESULTS_BATCH, folded_lines, result_lines
from adapters.gc_threshold import BULK_THRESHOLDS
from adapters.opening import open_audit_log
from adapters.storage import StorageConfig
from adapters.worker_processes import die_with_parent
from ledger_core.claims.batch.claim_rows import rows_reader
from ledger_core.claims.batch.claims_file import LineResult
from ledger_core.engine.audit_log import AuditLog
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.ledger import Ledger

AHEAD = 4
"""Batches handed to each worker before the writing process waits for the first of them."""

_audit: AuditLog | None = None
"""The worker process's reader and proofs (set by :func:`_start_worker`, open until the process ends)."""
_opened = ExitStack()


def _start_worker(config: StorageConfig) -> None:
    """A worker's start: its own recorder and tree store; the cyclic collector rarely (a batch makes thousands of
    small containers and no cycles: :mod:`adapters.gc_threshold`)."""
    global _audit
    die_with_parent()
    _audit = _opened.enter_context(open_audit_log(config))
    gc.freeze()  # what the start imported is permanent: never scanned again
    gc.set_threshold(*BULK_THRESHOLDS)


def _prove(batch: list[LineResult], checkpoint: CheckpointRecord) -> bytes | None:
    """``batch``'s results lines as the file holds them, or None when the writing process must write them."""
    if _audit is None:  # the initializer runs first in every worker; a worker without it is a bug
        raise RuntimeError("results worker started without its audit log")
    lines = folded_lines(rows_reader(_audit.reader), _audit.proofs, batch, checkpoint)
    return None if lines is None else b"".join(orjson.dumps(line) + b"\n" for line in lines)


class ResultsWorkers:
    """Proves a results file's batches on ``workers`` spawned processes besides the calling one."""

    def __init__(self, config: StorageConfig, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError("results workers need at least one worker")
        self._config = config
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.proven = 0
        """Batches the workers proved (since this was made)."""

    def lines(
        self, ledger: Ledger, audit: AuditLog, results: Iterable[LineResult], checkpoint: CheckpointRecord
    ) -> Iterator[bytes]:
        """The results lines of ``results`` (after the header), in order, a batch of lines per item."""
        pool = self._started()
        queued: deque[tuple[list[LineResult], Future[bytes | None] | None]] = deque()
        try:
            for index, batch in enumerate(_batches(results)):
                handed = None if index % (self.workers + 1) == 0 else pool.submit(_prove, batch, checkpoint)
                queued.append((batch, handed))
                if len(queued) > AHEAD * (self.workers + 1):
                    yield self._written(ledger, audit, *queued.popleft(), checkpoint)
            while queued:
                yield self._written(ledger, audit, *queued.popleft(), checkpoint)
        finally:
            for _, handed in queued:  # stopped early (an error): what was not started need not run
                if handed is not None:
                    handed.cancel()

    def _written(
        self,
        ledger: Ledger,
        audit: AuditLog,
        batch: list[LineResult],
        handed: Future[bytes | None] | None,
        checkpoint: CheckpointRecord,
    ) -> bytes:
        proven = None if handed is None else handed.result()
        if proven is not None:
            self.proven += 1
            return proven
        return b"".join(orjson.dumps(line) + b"\n" for line in result_lines(ledger, audit, batch, checkpoint))

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self._config,),
                )
            return self._pool

    def close(self) -> None:
        """Stop the workers (after the batches they hold)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _batches(results: Iterable[LineResult]) -> Iterator[list[LineResult]]:
    batch: list[LineResult] = []
    for result in results:
        batch.append(result)
        if len(batch) == RESULTS_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
