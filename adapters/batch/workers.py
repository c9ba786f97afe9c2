"""A claims file's work on worker processes (issue 15): :class:`BatchWorkers`, beside the loading process.

**The load** (:meth:`BatchWorkers.prepare`, a :class:`~ledger_core.claims.batch.preparation.LinePreparer`):
parsing and checking a JSON Lines file's records needs neither the log nor the other lines, so the loader reads
the records as text and hands them out a chunk at a time, up to :data:`AHEAD` chunks per worker ahead of the one
it decides, and takes the lines back in file order (a chunk no worker has started yet when the loader needs it
is prepared by the loader itself; a file of at most :data:`LOCAL_CHUNKS` chunks is all prepared there). The
decisions and the saves stay in the loader.

**The results file** (:meth:`BatchWorkers.lines`): every line is proven against the one checkpoint that covers
the whole file, so the batches of lines (:data:`~adapters.batch.results.RESULTS_BATCH` each) are independent:
they only read the log's rows and the tree's tiles. Of each ``workers + 1`` consecutive batches the writing
process proves the first itself and hands the others to the workers (up to :data:`AHEAD` each ahead of the one
it writes), and it writes them all in file order. A worker folds each claim from its rows
(:func:`~adapters.batch.results.folded_lines`) and answers the batch's lines as bytes; a batch naming a claim
its rows do not describe comes back as None and the writing process writes it itself (it rebuilds that claim
through the ledger, as the one-process path does). The bytes are those of the one-process path either way.

**Sealing during the load** (PostgreSQL): every :data:`SEAL_EVERY` chunks handed out, a sealing process of the
pool's own (spawned with the first seal, apart from the workers so that a seal never holds up a chunk) seals what
waits (:func:`~adapters.opening.seal_pending`, one seal at a time, under the sealer lock as ``ledger seal`` takes
it), so that the checkpoint the results file needs is mostly signed when the load ends, on the core the loader
leaves idle, instead of after it. A seal that fails is raised in the loading process (at the next seal handed out,
or when the load ends, which waits for the seal in flight). Not on SQLite, where a seal writes the tree into the
file whose write lock the loader's saves hold.

Workers are spawned by :meth:`BatchWorkers.start` or the first use (``spawn``: the loading process has
threads); a worker opens its own recorder and tree store (:func:`~adapters.opening.open_audit_log`) the first
time it proves results. They end with :meth:`BatchWorkers.close` or with their parent (they watch its
sentinel), so a SIGKILLed run leaves none behind. Nothing a worker does is durable.
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from itertools import chain, islice
from pathlib import Path

import orjson

from adapters.batch.results import RESULTS_BATCH, folded_lines, result_lines
from adapters.gc_threshold import BULK_THRESHOLDS
from adapters.opening import open_audit_log, seal_pending
from adapters.storage import StorageConfig
from adapters.worker_processes import SpawnedPool, die_with_parent
from ledger_core.claims.batch.claim_rows import rows_reader
from ledger_core.claims.batch.claims_file import LineResult
from ledger_core.claims.batch.lines import ClaimLine, RawRecord
from ledger_core.claims.batch.preparation import PackedLine, prepare_records, unpack_line
from ledger_core.engine.audit_log import AuditLog
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.ledger import Ledger
from ledger_core.shared.chunks import chunked

AHEAD = 4
"""Chunks (or batches) handed to each worker before the loading process waits for the first of them."""
LOCAL_CHUNKS = 2
"""A file of at most this many chunks is prepared in the loading process (no worker is started for it)."""
SEAL_EVERY = 16
"""On PostgreSQL, the pool's sealing process seals what waits after every this many chunks handed out during a load."""

_config: StorageConfig | None = None
"""The worker process's storage (set by :func:`_start_worker`)."""
_audit: AuditLog | None = None
"""The worker process's reader and proofs (opened by its first :func:`_prove`, open until the process ends)."""
_opened = ExitStack()


def _start_worker(config: StorageConfig) -> None:
    """A worker's start; the cyclic collector rarely (a chunk makes thousands of small containers and no cycles:
    :mod:`adapters.gc_threshold`)."""
    global _config
    die_with_parent()
    _config = config
    gc.freeze()  # what the start imported is permanent: never scanned again
    gc.set_threshold(*BULK_THRESHOLDS)


def _ready() -> None:
    """Nothing: submitted by :meth:`BatchWorkers.start` so that a worker is spawned now."""


def _worker_config() -> StorageConfig:
    """The worker process's storage; the initializer runs first in every worker, so a worker without it is a bug."""
    if _config is None:
        raise RuntimeError("batch worker started without its storage")
    return _config


def _seal(signing_key: Path | None) -> None:
    """Seal every entry waiting now, in the sealing process (:func:`~adapters.opening.seal_pending`)."""
    seal_pending(_worker_config(), signing_key=signing_key)


def _prove(batch: list[LineResult], checkpoint: CheckpointRecord) -> bytes | None:
    """``batch``'s results lines as the file holds them, or None when the writing process must write them."""
    global _audit
    if _audit is None:
        _audit = _opened.enter_context(open_audit_log(_worker_config()))
    lines = folded_lines(rows_reader(_audit.reader), _audit.proofs, batch, checkpoint)
    return None if lines is None else b"".join(orjson.dumps(line) + b"\n" for line in lines)


class BatchWorkers:
    """Prepares a claims file's records and proves its results on ``workers`` spawned processes besides the
    calling one (see the module docstring)."""

    def __init__(self, config: StorageConfig, workers: int = 1, *, signing_key: Path | None = None) -> None:
        if workers < 1:
            raise ValueError("batch workers need at least one worker")
        self.workers = workers
        self._spawned = SpawnedPool(workers, _start_worker, (config,))
        self._sealer = SpawnedPool(1, _start_worker, (config,)) if config.postgres_url() is not None else None
        """The process that seals during a load (PostgreSQL only: see the module docstring); like the workers it
        lives until :meth:`close`."""
        self._signing_key = signing_key
        """The checkpoint key the sealing process seals with (None: the data directory's, as ``seal_pending``)."""
        self.seals = 0
        """Seals handed to the sealing process during loads (since this was made)."""
        self.proven = 0
        """Results batches the workers proved (since this was made)."""
        self.taken_back = 0
        """Chunks of records the loader prepared itself, no worker having started them (since this was made)."""

    def start(self) -> None:
        """Spawn the workers now (e.g. while the file's first pass runs) rather than on their first chunk."""
        pool = self._spawned.get()
        for _ in range(self.workers):
            pool.submit(_ready)

    def prepare(
        self, partner_id: str, default_level: str, chunks: Iterable[list[RawRecord]]
    ) -> Iterator[list[ClaimLine]]:
        """The lines of each of ``chunks`` (an import file's records), in order (a
        :class:`~ledger_core.claims.batch.preparation.LinePreparer`)."""
        reading = iter(chunks)
        first = list(islice(reading, LOCAL_CHUNKS + 1))
        if len(first) <= LOCAL_CHUNKS:  # a small file: no process to start
            for chunk in first:
                yield [unpack_line(line) for line in prepare_records(partner_id, default_level, chunk)]
            return
        pool = self._spawned.get()
        queued: deque[tuple[list[RawRecord], Future[list[PackedLine]]]] = deque()
        sealing: Future[None] | None = None
        try:
            for index, chunk in enumerate(chain(first, reading), start=1):
                queued.append((chunk, pool.submit(prepare_records, partner_id, default_level, chunk)))
                if self._sealer is not None and index % SEAL_EVERY == 0:
                    sealing = self._seal_behind(self._sealer, sealing)
                if len(queued) > AHEAD * self.workers:
                    yield self._prepared(partner_id, default_level, *queued.popleft())
            while queued:
                yield self._prepared(partner_id, default_level, *queued.popleft())
            if sealing is not None and self._sealer is not None:  # (the one implies the other)
                self._sealed(self._sealer, sealing)  # its failure is raised: a seal is never lost silently
        except BrokenProcessPool:
            self._spawned.drop(pool)
            raise
        finally:
            for _, handed in queued:  # stopped early: what was not started need not run
                handed.cancel()

    def _seal_behind(self, sealer: SpawnedPool, sealing: Future[None] | None) -> Future[None]:
        """Hand ``sealer`` a seal unless one is in flight (``sealing``); the failure of one that ended is raised."""
        if sealing is not None:
            if not sealing.done():
                return sealing
            self._sealed(sealer, sealing)
        self.seals += 1
        return sealer.get().submit(_seal, self._signing_key)

    @staticmethod
    def _sealed(sealer: SpawnedPool, sealing: Future[None]) -> None:
        """Wait for a seal; a sealing process that died is dropped (the next seal starts another; the caller drops
        the workers too, which the next file starts afresh)."""
        executor = sealer.executor
        try:
            sealing.result()
        except BrokenProcessPool:
            if executor is not None:
                sealer.drop(executor)
            raise

    def _prepared(
        self, partner_id: str, default_level: str, chunk: list[RawRecord], handed: Future[list[PackedLine]]
    ) -> list[ClaimLine]:
        if not handed.done() and handed.cancel():  # no worker has it yet: prepare it here rather than wait
            self.taken_back += 1
            packed = prepare_records(partner_id, default_level, chunk)
        else:
            packed = handed.result()
        return [unpack_line(line) for line in packed]

    def lines(
        self, ledger: Ledger, audit: AuditLog, results: Iterable[LineResult], checkpoint: CheckpointRecord
    ) -> Iterator[bytes]:
        """The results lines of ``results`` (after the header), in order, a batch of lines per item."""
        pool = self._spawned.get()
        queued: deque[tuple[list[LineResult], Future[bytes | None] | None]] = deque()
        try:
            for index, batch in enumerate(chunked(results, RESULTS_BATCH)):
                handed = None if index % (self.workers + 1) == 0 else pool.submit(_prove, batch, checkpoint)
                queued.append((batch, handed))
                if len(queued) > AHEAD * (self.workers + 1):
                    yield self._written(ledger, audit, *queued.popleft(), checkpoint)
            while queued:
                yield self._written(ledger, audit, *queued.popleft(), checkpoint)
        except BrokenProcessPool:
            self._spawned.drop(pool)
            raise
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

    def cpu_seconds(self) -> float:
        """User + system CPU the live workers and sealing process have used so far (:meth:`SpawnedPool.cpu_seconds`)."""
        return self._spawned.cpu_seconds() + (0.0 if self._sealer is None else self._sealer.cpu_seconds())

    def peak_rss_kib(self) -> list[int]:
        """Each live worker's (and the sealing process's) peak resident set since it started
        (:meth:`SpawnedPool.peak_rss_kib`)."""
        return self._spawned.peak_rss_kib() + ([] if self._sealer is None else self._sealer.peak_rss_kib())

    def close(self) -> None:
        """Stop the workers (after the batches they hold) and the sealing process (after its seal)."""
        try:
            self._spawned.close()
        finally:
            if self._sealer is not None:
                self._sealer.close()


@contextmanager
def batch_workers(
    config: StorageConfig, count: int, *, signing_key: Path | None = None
) -> Iterator[BatchWorkers | None]:
    """``count`` batch worker processes (None for 0), closed on exit; they start with the first file big enough
    (``signing_key``: the checkpoint key they seal with, as the run's own seal)."""
    if count < 0:
        raise ValueError(f"batch workers must be 0 or more, not {count}")
    workers = BatchWorkers(config, count, signing_key=signing_key) if count > 0 else None
    try:
        yield workers
    finally:
        if workers is not None:
            workers.close()
