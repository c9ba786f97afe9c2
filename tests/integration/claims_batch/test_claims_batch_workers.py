"""A claims file's work on worker processes (``adapters.batch.workers``), both backends: the results file proven
there is the one-process file byte for byte (every proof checked with the docs' verifier), a batch a worker
cannot fold is written by the writing process, a small file starts no worker, and on PostgreSQL a sealing
process of the pool seals during the load. (The load's records prepared
there write the same log: ``test_claims_import_bulk.py``.)"""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson
import pytest
from support.ledgers import CLAIMS_NOW, CLAIMS_PARTNER, historical_claim
from support.results_files import check_every_proof, read_results

from adapters.batch import results, workers
from adapters.batch.processing import import_claims, process_claims_file
from adapters.batch.results import folded_lines, write_results
from adapters.batch.workers import BatchWorkers
from adapters.opening import open_audit_log, seal_pending, verifier_key
from adapters.storage import StorageConfig, open_tree_store
from ledger_core.claims.batch.claims_file import LineResult
from ledger_core.claims.batch.formats import BatchFormat, LineOutcome
from ledger_core.claims.batch.lines import ClaimLine, ClaimReader
from ledger_core.claims.batch.preparation import record_chunks
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.errors import InvalidCommand
from ledger_core.engine.merkle import CheckpointRecord
from ledger_core.ledger import Ledger
from proofs import verify_checkpoint

NOW = CLAIMS_NOW
P = CLAIMS_PARTNER
claim = historical_claim


def covering(config: StorageConfig) -> Any:
    def sealed(size: int) -> CheckpointRecord:
        record = seal_pending(config)
        assert record is not None
        assert record.size >= size
        return record

    return sealed


def test_workers_write_the_same_results_file_as_one_process(
    ledger: Ledger, config: StorageConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 8 lines, most proven by two workers: the file is byte for byte the one-process file."""
    monkeypatch.setattr(workers, "RESULTS_BATCH", 8)  # batches are cut in this process
    monkeypatch.setattr(results, "PARALLEL_LINES", 0)
    lines: list[bytes] = [orjson.dumps(claim(i)) for i in range(60)]
    lines[9] = b'{"partnerClaimId": "H-00009", '  # not JSON: a line without a claim in a worker's batch
    lines[20] = orjson.dumps(claim(3))  # a duplicate within the file
    source = tmp_path / "in" / f"claims_{P}_20260115.jsonl"
    source.parent.mkdir()
    source.write_bytes(b"\n".join(lines) + b"\n")
    pool = BatchWorkers(config, workers=2)
    try:
        with open_audit_log(config) as audit:
            outcome = process_claims_file(
                ledger, audit, source, tmp_path / "out", checkpoint_covering=covering(config), workers=pool
            )
            alone = write_results(
                ledger, audit, outcome.report, covering(config)(ledger.size()), tmp_path / "alone.jsonl"
            )
    finally:
        pool.close()
    assert pool.proven == 5  # of the 8 batches, the 2nd, 3rd, 5th, 6th and 8th
    assert outcome.results_path.read_bytes() == alone.read_bytes()
    header, found = read_results(outcome.results_path)
    assert [line["line"] for line in found] == list(range(1, 61))
    assert check_every_proof(header, found, verifier_key(config)) == 58


def test_a_small_file_is_written_without_starting_workers(
    ledger: Ledger, config: StorageConfig, tmp_path: Path
) -> None:
    """A file of at most PARALLEL_BYTES bytes (and PARALLEL_LINES lines) never starts the pool."""
    source = tmp_path / f"claims_{P}_20260115.jsonl"
    source.write_bytes(b"".join(orjson.dumps(claim(i)) + b"\n" for i in range(5)))
    pool = BatchWorkers(config)
    with open_audit_log(config) as audit:
        process_claims_file(ledger, audit, source, tmp_path / "out", checkpoint_covering=covering(config), workers=pool)
    assert pool._spawned.executor is None


class _Rows:
    """A claim whose rows do not start with ``claim.submitted`` (the fold leaves it to the aggregate)."""

    def rows_of_aggregates(self, aggregate_ids: Any) -> Iterator[StoredRow]:
        yield StoredRow(0, "c1", 1, "claim.something_new", P, b"{}", b"")

    def entries_of_aggregates(self, aggregate_ids: Any) -> Iterator[tuple[str, str, bytes]]:
        return iter(())


def test_a_batch_naming_a_claim_its_rows_do_not_describe_is_left_to_the_writer() -> None:
    """folded_lines answers None (the writing process rebuilds that claim through the ledger)."""
    batch = [LineResult(1, LineOutcome.IMPORTED, "H-1", "c1")]
    checkpoint = CheckpointRecord(2, b"\0" * 32, "note", "2026-01-15T12:00:00Z")
    assert folded_lines(_Rows(), None, batch, checkpoint) is None  # type: ignore[arg-type]


def test_a_dead_worker_loses_no_line_and_the_next_file_gets_a_new_pool(config: StorageConfig) -> None:
    """A worker killed: a file either fails (BrokenProcessPool, nothing silently lost) or its lines all come
    back (prepared by the loader); after a failure the next file is prepared by a new pool."""
    data = b"".join(orjson.dumps(claim(i)) + b"\n" for i in range(40))
    expected = list(ClaimReader(io.BytesIO(data), BatchFormat.JSON_LINES, P, "enhanced"))

    def prepared(pool: BatchWorkers) -> list[ClaimLine]:
        reader = ClaimReader(io.BytesIO(data), BatchFormat.JSON_LINES, P, "enhanced")
        chunks = record_chunks(reader.json_records(), 0, 4)
        return [line for chunk in pool.prepare(P, "enhanced", chunks) for line in chunk]

    pool = BatchWorkers(config)
    try:
        pool.start()
        executor = pool._spawned.executor
        assert executor is not None
        (pid,) = [process.pid for process in executor._processes.values()]
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        outcomes: list[object] = []
        # Until the pool's manager notices the death, a file may still come back whole (the loader prepares the
        # chunks no worker started); the file that finds the pool broken fails; the one after has a new pool.
        deadline = time.monotonic() + 30
        while "broken" not in outcomes and time.monotonic() < deadline:
            try:
                outcomes.append(prepared(pool) == expected)
            except BrokenProcessPool:
                assert pool._spawned.executor is None  # dropped: the next use starts another
                outcomes.append("broken")
        outcomes.append(prepared(pool) == expected)
    finally:
        pool.close()
    assert set(outcomes) <= {True, "broken"}
    assert outcomes.count("broken") <= 1
    assert outcomes[-1] is True


def test_on_postgresql_a_sealing_process_seals_during_the_load(
    ledger: Ledger, config: StorageConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 4 lines, a seal handed to the pool's sealing process every 2 chunks: on PostgreSQL the latest
    checkpoint covers claims of the file once the load ends (the load waits for the seal in flight), signed with
    the key the run's own seal uses; on SQLite nothing seals during the load (the run seals once it ends)."""
    monkeypatch.setattr(workers, "SEAL_EVERY", 2)
    ledger.batches.chunk_size = 4
    source = tmp_path / f"claims_{P}_20260115.jsonl"
    source.write_bytes(b"".join(orjson.dumps(claim(i)) + b"\n" for i in range(400)))
    sealed_before = seal_pending(config)
    assert sealed_before is not None
    assert sealed_before.size == ledger.size()
    pool = BatchWorkers(config)
    try:
        for processes in (pool._spawned, pool._sealer):  # up before the load, so that its seals run as handed
            if processes is not None:
                processes.get().submit(workers._ready).result(timeout=60)

        @contextmanager
        def open_file() -> Iterator[IO[bytes]]:
            with source.open("rb") as handle:
                yield handle

        report = import_claims(ledger, source.name, open_file, default_level="enhanced", workers=pool)
        store = open_tree_store(config)
        try:
            latest = store.latest_checkpoint()
        finally:
            store.close()
    finally:
        pool.close()
    assert report.counts == {LineOutcome.IMPORTED: 400}
    assert latest is not None
    if config.postgres_url() is None:
        assert pool.seals == 0
        assert latest.size == sealed_before.size
        return
    assert pool.seals >= 2  # one after another: the later ones while chunks were being saved
    assert sealed_before.size < latest.size <= ledger.size()
    # signed with the data directory's checkpoint key, as the run's own seal signs
    assert verify_checkpoint(latest.note, verifier_key(config)).size == latest.size


def test_a_seal_that_fails_during_the_load_fails_it_loudly(
    ledger: Ledger, config: StorageConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sealing process seals with a checkpoint key that is not one: on PostgreSQL the load raises the seal's
    failure, and the run again with the right key takes up where it stopped (every claim once); on SQLite nothing
    seals during the load, so it ends as usual (the run's own seal is what would refuse that key)."""
    monkeypatch.setattr(workers, "SEAL_EVERY", 2)
    ledger.batches.chunk_size = 4
    source = tmp_path / f"claims_{P}_20260115.jsonl"
    source.write_bytes(b"".join(orjson.dumps(claim(i)) + b"\n" for i in range(40)))
    broken_key = tmp_path / "checkpoint.key"
    broken_key.write_text("not a signing key\n")
    pool = BatchWorkers(config, signing_key=broken_key)

    @contextmanager
    def open_file() -> Iterator[IO[bytes]]:
        with source.open("rb") as handle:
            yield handle

    try:
        if config.postgres_url() is None:
            report = import_claims(ledger, source.name, open_file, default_level="enhanced", workers=pool)
            assert (report.counts, pool.seals) == ({LineOutcome.IMPORTED: 40}, 0)
            return
        with pytest.raises(InvalidCommand, match="signing key"):
            import_claims(ledger, source.name, open_file, default_level="enhanced", workers=pool)
    finally:
        pool.close()
    resumed = BatchWorkers(config)  # the run again, with the right key: it takes up where the failed one stopped
    try:
        report = import_claims(ledger, source.name, open_file, default_level="enhanced", workers=resumed)
    finally:
        resumed.close()
    assert report.counts == {LineOutcome.IMPORTED: 40}
    submitted = [entry.aggregate_id for entry in ledger.entries() if entry.type == "claim.submitted"]
    assert len(submitted) == len(set(submitted)) == 40  # every claim once
    assert ledger.verify().size == ledger.size()
