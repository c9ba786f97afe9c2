"""The storage contract: the same behaviour on SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from support.databases import execute
from support.ledgers import open_toy_ledger
from support.toy import Account
from support.writers import write_accounts

from adapters.postgres.log import COPY_MIN_ENTRIES, PostgresLogRecorder, _uuid_bytes
from adapters.storage import StorageConfig, open_recorder
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.errors import ChainBroken, ConcurrencyConflict
from ledger_core.ledger import Ledger
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
        first: Account = ledger.app.repository.get(account.id)
        second: Account = ledger.app.repository.get(account.id)
        first.note("one")
        second.note("two")
        ledger.app.save(first)
        with pytest.raises(ConcurrencyConflict) as caught:
            ledger.app.save(second)
        assert (caught.value.expected_version, caught.value.found_version) == (1, 2)
        assert ledger.size() == 2
        assert ledger.verify().size == 2


def test_a_batch_creating_an_aggregate_that_exists_refuses_only_that_save(database_url: str, tmp_path: Path) -> None:
    """Writers do not read the heads of the aggregates a batch creates (version 1 first): when one existed (here
    created through another recorder, so no cache of this one knows it), the uniqueness of (aggregate,
    version) refuses the rows, the batch is written again with every head read, and only the save that
    created it again is refused; the log stays a gapless, verifiable chain."""
    ledger, recorder = open_toy_ledger(database_url)
    other = open_recorder(StorageConfig(tmp_path, database_url))
    with ledger:
        to_draft = ledger.app.envelope_mapper.to_draft
        existing = Account.open("acme", "taken")
        try:
            assert other.submit_drafts([to_draft(event) for event in existing.collect_events()]).result() == [0]
        finally:
            other.close()
        again, fresh = Account.open("acme", "taken"), Account.open("acme", "fresh")
        saves = [[to_draft(event) for event in account.collect_events()] for account in (again, fresh)]
        outcomes = recorder._commit_batch(saves)  # one batch, as the group commit makes it
        assert isinstance(outcomes[0], ConcurrencyConflict)
        assert (outcomes[0].aggregate_id, outcomes[0].found_version) == (str(existing.id), 1)
        assert outcomes[1] == [1]
        assert ledger.size() == 2
        assert ledger.verify().size == 2
        assert ledger.app.load(Account, fresh.id, "account").name == "fresh"


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


def _scripted_saves(ledger: Ledger) -> list[list[tuple[int, UUID | str, int, str, bytes]]]:
    """A fixed sequence of saves; per save, what its recordings say (id, originator, version, topic, state)."""
    a, b = Account.open("acme", "same-a"), Account.open(None, "same-b")
    said = []
    for step in range(4):
        a.note(f"a{step}", f"{step}.00")
        if step % 2:
            b.note("b", "1.50")
        recordings = ledger.app.save(a, b)
        notifications = [recording.notification for recording in recordings]
        said.append([(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notifications])
    return said


def test_draft_path_and_event_store_path_store_the_same_bytes(database_url: str, tmp_path: Path) -> None:
    """``save`` hands drafts straight to the group commit; eventsourcing's ``EventStore.put`` path (taken when
    the recorder is no ``DraftAppender``) stores byte-identical entries and returns the same recordings."""
    direct, direct_recorder = open_toy_ledger(database_url)
    via_store, store_recorder = open_toy_ledger(f"sqlite:///{tmp_path / 'via-store.db'}")
    via_store.app._draft_appender = None  # force Application._record -> EventStore.put -> insert_events
    with direct, via_store:
        said_direct, said_via_store = _scripted_saves(direct), _scripted_saves(via_store)
        assert said_direct == said_via_store
        assert [len(recordings) for recordings in said_direct] == [3, 2, 1, 2]
        assert said_direct[-1][-1][0] == direct.size() == 8
        rows = [(row.position, row.entry, row.leaf_hash) for row in direct_recorder.read_rows(0, 100)]
        assert rows == [(row.position, row.entry, row.leaf_hash) for row in store_recorder.read_rows(0, 100)]
        assert direct.verify().size == via_store.verify().size == 8


def test_save_async_callers_share_commits(database_url: str) -> None:
    """Coroutines saving at once get their own positions once committed; one gapless chain, batched commits."""
    ledger, recorder = open_toy_ledger(database_url)
    with ledger:
        accounts = [Account.open("acme", f"async-{k}") for k in range(16)]
        ledger.app.save(*accounts)

        async def caller(account: Account) -> list[list[int]]:
            positions = []
            for step in range(5):
                account.note(f"n{step}")
                positions.append(await ledger.app.save_async(account))
            return positions

        async def main() -> list[list[list[int]]]:
            return await asyncio.gather(*(caller(account) for account in accounts))

        batches_before = recorder.committer.batches
        results = asyncio.run(main())
        positions = sorted(p for per_caller in results for save in per_caller for p in save)
        assert positions == list(range(16, 16 + 16 * 5))
        assert recorder.committer.batches - batches_before < 16 * 5
        for account, per_caller in zip(accounts, results, strict=True):
            entries = [decode_entry(row.entry) for row in recorder.read_aggregate_rows(str(account.id))]
            assert [e.position for e in entries[1:]] == [save[0] for save in per_caller]
            assert [e.aggregate_version for e in entries] == [1, 2, 3, 4, 5, 6]
        assert ledger.verify().size == 16 * 6


def test_partner_rows_of_types_merges_types_in_position_order(database_url: str) -> None:
    """Rows of one partner and the given types only, in position order (or newest first), within
    ``[start, stop)``, at most ``limit``; a type named twice reads its rows once."""
    ledger, recorder = open_toy_ledger(database_url)
    with ledger:
        for index in range(6):
            mine, theirs = Account.open("acme", f"a{index}"), Account.open("other", f"o{index}")
            mine.note(f"n{index}")
            ledger.app.save(mine, theirs)  # 3i opened, 3i+1 noted, 3i+2 the other partner's
        types = ("test_account.noted", "test_account.opened", "test_account.noted")

        def read(start: int, stop: int, limit: int, descending: bool = False) -> list[tuple[int, str]]:
            found = recorder.partner_rows_of_types(
                "acme", types, start=start, stop=stop, limit=limit, descending=descending
            )
            return [(row.position, row.type) for row in found]

        everything = read(0, ledger.size(), 100)
        assert [position for position, _ in everything] == [p for i in range(6) for p in (3 * i, 3 * i + 1)]
        assert everything[:2] == [(0, "test_account.opened"), (1, "test_account.noted")]
        assert read(4, 12, 3) == [(4, "test_account.noted"), (6, "test_account.opened"), (7, "test_account.noted")]
        assert read(0, 9, 2, descending=True) == [(7, "test_account.noted"), (6, "test_account.opened")]
        assert (
            recorder.partner_rows_of_types("acme", ("test_account.noted",), start=0, stop=3, limit=9)[0].position == 1
        )
        assert recorder.partner_rows_of_types("acme", (), start=0, stop=99, limit=9) == []
        assert recorder.partner_rows_of_types("nobody", types, start=0, stop=99, limit=9) == []

        # The same reads without the entries: one type's positions and aggregate ids, and a fold's columns.
        opened = recorder.partner_rows_of_types("acme", ("test_account.opened",), start=0, stop=99, limit=99)
        ids = recorder.partner_aggregates_of_type("acme", "test_account.opened", start=3, stop=99, limit=2)
        assert list(ids) == [(row.position, row.aggregate_id) for row in opened[1:3]]
        assert recorder.partner_aggregates_of_type("nobody", "test_account.opened", start=0, stop=99, limit=9) == []
        wanted = [opened[4].aggregate_id, opened[0].aggregate_id, str(uuid4())]
        rows = recorder.rows_of_aggregates(wanted)
        entries = recorder.entries_of_aggregates(wanted)
        assert sorted(entries) == sorted((row.aggregate_id, row.type, row.entry) for row in rows)
        for aggregate_id in wanted[:2]:  # each aggregate's rows in version order
            assert [kind for found, kind, _ in entries if found == aggregate_id] == [
                "test_account.opened",
                "test_account.noted",
            ]
        assert recorder.entries_of_aggregates([]) == []


def test_a_ledger_without_the_partner_topic_index_gets_it_when_opened(database_url: str) -> None:
    """A ledger made before ``ledger_log_partner_topic`` existed gains it at its next open (the DDL is
    ``CREATE INDEX IF NOT EXISTS``: opening again changes nothing), and reads the same rows."""
    ledger, _ = open_toy_ledger(database_url)
    with ledger:
        ledger.app.save(Account.open("acme", "a"), Account.open("other", "b"))
    execute(database_url, "DROP INDEX ledger_log_partner_topic")
    for _ in range(2):
        reopened, recorder = open_toy_ledger(database_url)
        with reopened:
            found = recorder.partner_rows_of_types("acme", ("test_account.opened",), start=0, stop=9, limit=9)
            assert [row.position for row in found] == [0]
    assert execute(database_url, "SELECT count(*) FROM ledger_log WHERE partner_id = ?", ("acme",)) == [(1,)]
    sqlite = database_url.startswith("sqlite")
    names = "SELECT name FROM sqlite_master WHERE type = 'index'" if sqlite else "SELECT indexname FROM pg_indexes"
    assert ("ledger_log_partner_topic",) in execute(database_url, names)


def test_a_bulk_batch_stores_what_small_batches_store(database_url: str, tmp_path: Path) -> None:
    """A batch of ``COPY_MIN_ENTRIES`` entries or more (written with a binary COPY on PostgreSQL) stores the rows
    a save at a time would (the same columns and entries but their times, compared with a SQLite ledger fed
    the same saves one by one); and when one of its creations exists already, the batch is written again with
    every head read and only that save is refused."""
    ledger, recorder = open_toy_ledger(database_url)
    reference, reference_recorder = open_toy_ledger(f"sqlite:///{tmp_path / 'reference.db'}")
    with ledger, reference:
        to_draft = ledger.app.envelope_mapper.to_draft
        accounts = [Account.open("acme" if index % 2 else None, f"bulk-{index}") for index in range(COPY_MIN_ENTRIES)]
        saves = [[to_draft(event) for event in account.collect_events()] for account in accounts]
        assert recorder._commit_batch(saves) == [[index] for index in range(COPY_MIN_ENTRIES)]
        for save in saves:
            reference_recorder.submit_drafts(save).result()
        columns = ("position", "aggregate_id", "aggregate_version", "type", "partner_id")
        stored = recorder.read_rows(0, COPY_MIN_ENTRIES + 1)
        expected = reference_recorder.read_rows(0, COPY_MIN_ENTRIES + 1)
        assert [[getattr(row, name) for name in columns] for row in stored] == [
            [getattr(row, name) for name in columns] for row in expected
        ]
        entries = [decode_entry(row.entry) for row in stored]
        assert [(entry.event_id, entry.payload) for entry in entries] == [
            (entry.event_id, entry.payload) for entry in (decode_entry(row.entry) for row in expected)
        ]
        assert [entry.event_id for entry in entries] == [draft.event_id for [draft] in saves]
        assert ledger.app.load(Account, accounts[7].id, "account").name == "bulk-7"

        again = Account.open("acme", "bulk-3")  # the same id as accounts[3]: exists
        fresh = [Account.open("acme", f"bulk-fresh-{index}") for index in range(COPY_MIN_ENTRIES)]
        second = [[to_draft(event) for event in account.collect_events()] for account in (again, *fresh)]
        outcomes = recorder._commit_batch(second)
        assert isinstance(outcomes[0], ConcurrencyConflict)
        assert outcomes[1:] == [[COPY_MIN_ENTRIES + index] for index in range(COPY_MIN_ENTRIES)]
        assert ledger.size() == 2 * COPY_MIN_ENTRIES
        assert ledger.verify().size == 2 * COPY_MIN_ENTRIES


def test_a_bulk_batch_goes_by_copy_on_postgresql(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a batch of ``COPY_MIN_ENTRIES`` entries takes the COPY path, a smaller one the INSERT."""
    copied: list[int] = []
    copy = PostgresLogRecorder._copy

    def spy(conn: Any, entries: Any) -> bool:
        done = copy(conn, entries)
        copied.append(len(entries) if done else 0)
        return done

    monkeypatch.setattr(PostgresLogRecorder, "_copy", staticmethod(spy))
    ledger, recorder = open_toy_ledger(postgres_url)
    with ledger:
        to_draft = ledger.app.envelope_mapper.to_draft
        for count in (COPY_MIN_ENTRIES - 1, COPY_MIN_ENTRIES):
            accounts = [Account.open("acme", f"sized-{count}-{index}") for index in range(count)]
            recorder._commit_batch([[to_draft(event) for event in account.collect_events()] for account in accounts])
        assert copied == [COPY_MIN_ENTRIES]
        assert ledger.verify().size == 2 * COPY_MIN_ENTRIES - 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", bytes.fromhex("a0eebc999c0b4ef8bb6d6bb9bd380a11")),
        ("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", bytes.fromhex("a0eebc999c0b4ef8bb6d6bb9bd380a11")),
        ("a0eebc999c0b4ef8bb6d6bb9bd380a11", None),  # valid for PostgreSQL: left to INSERT's cast
        ("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", None),
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1 ", None),
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g", None),
        ("account-1", None),
    ],
)
def test_only_a_uuid_in_its_usual_form_is_copied_as_bytes(text: str, expected: bytes | None) -> None:
    """The COPY path converts ids in the 8-4-4-4-12 form only; anything else sends the batch by INSERT, whose
    cast decides as PostgreSQL always did."""
    assert _uuid_bytes(text) == expected
