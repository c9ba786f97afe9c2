"""The storage contract: the same behaviour on SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

import multiprocessing
import threading
from uuid import UUID

import pytest
from support.databases import execute
from support.ledgers import open_toy_ledger
from support.toy import Account
from support.writers import write_accounts

from ledger_core.envelope import decode_entry
from ledger_core.errors import ChainBroken, ConcurrencyConflict
from proofs.hashing import leaf_hash


def test_save_reload_and_positions(database_url: str) -> None:
    """Saved events get positions 0.. in order and the aggregate reloads from the log."""
    ledger, _ = open_toy_ledger(database_url)
    with ledger:
        account = Account.open("acme", "alice")
        account.note("first", "10.00")
        assert ledger.app.save_returning_positions(account) == [0, 1]
        account.note("second")
        assert ledger.app.save_returning_positions(account) == [2]
    reopened, _ = open_toy_ledger(database_url)
    with reopened:
        loaded = reopened.app.load(Account, account.id, "account")
        assert (loaded.name, loaded.notes, loaded.version) == ("alice", ["first", "second"], 3)
        assert reopened.size() == 3


def test_envelope_links(database_url: str) -> None:
    """Each entry links to the previous leaf hash and to its aggregate's previous position."""
    ledger, recorder = open_toy_ledger(database_url)
    with ledger:
        a, b = Account.open("acme", "a"), Account.open("other", "b")
        ledger.app.save(a, b)
        a.note("x")
        ledger.app.save(a)
        rows = recorder.read_rows(0, 10)
        envelopes = [decode_entry(row.entry) for row in rows]
        assert [e.position for e in envelopes] == [0, 1, 2]
        assert envelopes[0].prev is None
        assert envelopes[2].prev == leaf_hash(rows[1].entry).hex()
        assert envelopes[2].aggregate_prev_position == 0
        assert envelopes[1].partner_id == "other"
        assert [e.type for e in ledger.history(a.id)] == ["test_account.opened", "test_account.noted"]


def test_optimistic_concurrency(database_url: str) -> None:
    """Two writers of one aggregate version: the second gets ConcurrencyConflict and stores nothing."""
    ledger, _ = open_toy_ledger(database_url)
    with ledger:
        account = Account.open("acme", "c")
        ledger.app.save(account)
        first = ledger.app.repository.get(account.id)
        second = ledger.app.repository.get(account.id)
        first.note("one")
        second.note("two")
        ledger.app.save(first)
        with pytest.raises(ConcurrencyConflict) as caught:
            ledger.app.save(second)
        assert (caught.value.expected_version, caught.value.found_version) == (1, 2)
        assert ledger.size() == 2
        assert ledger.verify().size == 2


def test_notification_log(database_url: str) -> None:
    """eventsourcing's notification log reads the same log (ids are positions + 1)."""
    ledger, recorder = open_toy_ledger(database_url)
    with ledger:
        ledger.app.save(*[Account.open("acme", f"n{i}") for i in range(5)])
        notifications = recorder.select_notifications(start=2, limit=2)
        assert [n.id for n in notifications] == [2, 3]
        assert recorder.max_notification_id() == 5
        section = ledger.app.notification_log.select(start=1, limit=10)
        assert len(section) == 5
        assert isinstance(section[0].originator_id, UUID)


def test_concurrent_threads_make_a_gapless_chain(database_url: str) -> None:
    """Sixteen threads saving at once: every event stored once, positions gapless, chain intact."""
    ledger, recorder = open_toy_ledger(database_url)
    with ledger:

        def work(thread: int) -> None:
            for index in range(40):
                ledger.app.save(Account.open("acme", f"t{thread}-{index}"))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        summary = ledger.verify()
        assert summary.size == 16 * 40 == ledger.size()
        assert recorder.committer.batches < 16 * 40  # group commit did batch


def test_concurrent_processes_make_a_gapless_chain(database_url: str) -> None:
    """Two processes and this one writing together: no lost event, one linear chain."""
    open_toy_ledger(database_url)[0].close()  # create the schema first
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        pending = [pool.apply_async(write_accounts, (database_url, f"proc{n}", 60)) for n in range(2)]
        written_here = write_accounts(database_url, "main", 30)
        written = sum(result.get(timeout=120) for result in pending) + written_here
    ledger, _ = open_toy_ledger(database_url)
    with ledger:
        assert ledger.verify().size == written == 300


def test_verify_names_the_tampered_position(database_url: str) -> None:
    """Editing a stored entry in the database is caught at that position."""
    ledger, _ = open_toy_ledger(database_url)
    with ledger:
        ledger.app.save(*[Account.open("acme", f"v{i}") for i in range(6)])
    entry = execute(database_url, "SELECT entry FROM ledger_log WHERE position = 4")[0][0]
    forged = bytes(entry).replace(b'"v4"', b'"v9"')
    execute(database_url, "UPDATE ledger_log SET entry = ? WHERE position = 4", (forged,))
    ledger, _ = open_toy_ledger(database_url)
    with ledger, pytest.raises(ChainBroken) as caught:
        ledger.verify()
    assert caught.value.position == 4
