"""The loader takes preparation work from its workers while they are behind: it takes batches back and
prepares them while it waits (``ProcessPreparer(local=...)``, PostgreSQL), or its feeder checks the rows itself
and the workers only seal them (``check_here``, SQLite).

The pool is a thread pool here, so that the test can hold the first batch: while the loader waits for it, it
cancels the newest batches the pool has not started and prepares them itself, newest first, at most two ahead;
the batches still come out in file order, each prepared once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from unit.domain.fakes import InMemoryKeyStore

from adapters.feed_preparation import ProcessPreparer
from adapters.storage import StorageConfig
from ledger_core.members.feeds.parsing import RawRecord
from ledger_core.members.feeds.preparation import CheckedBatch, PreparedBatch, RowBatch, prepare_batch
from ledger_core.members.privacy import PersonalDataVault

ON = date(2026, 12, 7)
COLUMNS = {"email": "a@example.org", "first_name": "Ann", "last_name": "Lee", "date_of_birth": "1980-02-02"}


def _batch(number: int, size: int = 3) -> RowBatch:
    rows = [
        RawRecord(
            number * size + index + 1,
            number * size + index + 2,
            {"partner_member_id": f"m{number}-{index}", **COLUMNS, "state": "IA", "policy_type": "Life"},
        )
        for index in range(size)
    ]
    return RowBatch(rows, [], number * size + size)


class HeldPool:
    """A one-thread pool whose first task waits for ``release`` (the ProcessPoolExecutor's ``submit``)."""

    def __init__(self, vault: PersonalDataVault) -> None:
        self.vault = vault
        self.release = threading.Event()
        self.ran: list[int] = []
        self.handed: list[RowBatch | CheckedBatch] = []
        self._threads = ThreadPoolExecutor(max_workers=1)

    def submit(
        self, _function: Any, partner_id: str, on: date, batch: RowBatch | CheckedBatch
    ) -> Future[PreparedBatch]:
        self.handed.append(batch)

        def run() -> PreparedBatch:
            if not self.ran:
                self.release.wait(30)
            self.ran.append(batch.through)
            return prepare_batch(self.vault, partner_id, on, batch)

        return self._threads.submit(run)

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        self._threads.shutdown(wait=wait, cancel_futures=cancel_futures)


def _release_after_two(preparer: ProcessPreparer, pool: HeldPool) -> None:
    """The first batch runs once the loader has taken two others back (or after 20 s: the test fails)."""
    for _ in range(2000):
        if preparer.taken_back >= 2:
            break
        threading.Event().wait(0.01)
    pool.release.set()


def test_the_loader_prepares_the_batches_the_pool_has_not_started(tmp_path: Path) -> None:
    vault = PersonalDataVault(InMemoryKeyStore())
    preparer = ProcessPreparer(StorageConfig(tmp_path), b"\0" * 32, workers=1, local=vault)
    pool = HeldPool(vault)
    preparer._spawned.executor = pool  # type: ignore[assignment]  # the pool the test holds
    batches = [_batch(number) for number in range(4)]

    def read() -> Iterator[RowBatch]:
        yield from batches

    outputs = preparer.prepare("acme", ON, read())
    watch = threading.Thread(target=_release_after_two, args=(preparer, pool), daemon=True)
    watch.start()
    try:
        prepared = list(outputs)
    finally:
        pool.release.set()
        pool.shutdown()
    assert [batch.through for batch in prepared] == [3, 6, 9, 12]
    assert [[record.partner_member_id for record in batch.records] for batch in prepared] == [
        [f"m{number}-{index}" for index in range(3)] for number in range(4)
    ]
    assert preparer.taken_back == 2  # the newest two; then the cap of batches prepared ahead
    assert pool.ran == [3, 6]  # the pool prepared the batch it had started, then the next


def _release_after(pool: HeldPool, handed: int) -> None:
    """The first batch runs once ``handed`` batches were handed to the pool (or after 20 s: the test fails)."""
    for _ in range(2000):
        if len(pool.handed) >= handed:
            break
        threading.Event().wait(0.01)
    pool.release.set()


def test_the_feeder_checks_the_rows_itself_while_the_pool_is_behind(tmp_path: Path) -> None:
    """Two batches handed and not prepared: the next ones cross checked, and the pool only seals them; the
    batches come out in file order with the same records and problems as prepared in one step."""
    vault = PersonalDataVault(InMemoryKeyStore())
    preparer = ProcessPreparer(StorageConfig(tmp_path), b"\0" * 32, workers=1, check_here=True)
    pool = HeldPool(vault)
    preparer._spawned.executor = pool  # type: ignore[assignment]  # the pool the test holds
    batches = [_batch(number) for number in range(4)]
    batches[3].rows[1].fields["state"] = "Iowa"  # type: ignore[index]  # a refused row in a checked batch

    watch = threading.Thread(target=_release_after, args=(pool, 4), daemon=True)
    watch.start()
    try:
        prepared = list(preparer.prepare("acme", ON, iter(batches)))
    finally:
        pool.release.set()
        pool.shutdown()
    assert [type(batch) for batch in pool.handed] == [RowBatch, RowBatch, CheckedBatch, CheckedBatch]
    assert [batch.through for batch in prepared] == [3, 6, 9, 12]
    expected = [prepare_batch(vault, "acme", ON, batch) for batch in batches]
    assert [[record.member_id for record in batch.records] for batch in prepared] == [
        [record.member_id for record in batch.records] for batch in expected
    ]
    assert [(batch.places, batch.problems) for batch in prepared] == [
        (batch.places, batch.problems) for batch in expected
    ]
    assert [problem.field for problem in prepared[3].problems] == ["state"]
    assert preparer.taken_back == 0
