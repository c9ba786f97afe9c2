"""Saves through the writer process's socket (adapters/writer): the same outcomes as committing in process.

Each test runs on SQLite and PostgreSQL: the writer side is a real :class:`WriterServer` (or
:class:`WriterProcess`) on a Unix socket, the worker side a ledger opened with ``writer_socket``.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support.clock import SteppingClock
from support.ledgers import TOY_MASTER_KEY
from support.toy import Account, account_id

from adapters.files.signing_key import ensure_signing_key
from adapters.log_recorder import SequencedRecorder
from adapters.opening import open_ledger
from adapters.storage import StorageConfig, open_recorder, open_tree_store
from adapters.writer.client import WriterClient, WriterUnavailable
from adapters.writer.process import WriterProcess
from adapters.writer.recent import RecentRows
from adapters.writer.server import WriterServer
from adapters.writer.wire import Committed, SaveReply, frame, reply_decoder, split_frames
from ledger_core.domain import ALL_AGGREGATES
from ledger_core.engine.envelope import decode_entry, encode_entry, encode_payload
from ledger_core.engine.errors import ConcurrencyConflict
from ledger_core.engine.sequencer import SequencedEntry
from ledger_core.engine.tree_verification import verify_tree_and_checkpoints
from ledger_core.ledger import Ledger


def _socket_path() -> str:
    return str(Path(tempfile.mkdtemp(prefix="ledger-writer-")) / "writer.sock")  # short: sun_path is 108 bytes


def _worker_ledger(data_dir: Path, url: str, socket_path: str) -> Ledger:
    return open_ledger(
        StorageConfig(data_dir, url, writer_socket=socket_path),
        clock=SteppingClock(),
        aggregates=(*ALL_AGGREGATES, Account),
        master_key=TOY_MASTER_KEY,
    )


@contextmanager
def writer_server(data_dir: Path, url: str, socket_path: str) -> Iterator[WriterServer]:
    recorder = open_recorder(StorageConfig(data_dir, url))
    server = WriterServer(socket_path, recorder.committer)
    recorder.on_commit = server.broadcast  # as adapters/writer/process.py wires it
    server.bind()
    stop = threading.Event()
    thread = threading.Thread(target=server.serve, args=(lambda: not stop.is_set(),), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(10)
        server.stop_accepting()
        recorder.close()
        server.close()


def test_saves_conflicts_and_concurrency_through_the_writer(database_url: str, tmp_path: Path) -> None:
    socket_path = _socket_path()
    with (
        writer_server(tmp_path, database_url, socket_path),
        _worker_ledger(tmp_path, database_url, socket_path) as ledger,
    ):
        account = Account.open("acme", "alice")
        account.note("first", "10.00")
        assert ledger.app.save_returning_positions(account) == [0, 1]
        stale = copy.deepcopy(account)
        account.note("second")
        assert ledger.app.save_returning_positions(account) == [2]
        stale.note("late")
        with pytest.raises(ConcurrencyConflict) as conflict:
            ledger.app.save(stale)
        assert (conflict.value.aggregate_id, conflict.value.found_version) == (str(account.id), 3)

        async def save_many() -> list[list[int]]:
            accounts = [Account.open("acme", f"async-{index}") for index in range(20)]
            return await asyncio.gather(*(ledger.app.save_async(item) for item in accounts))

        async_positions = asyncio.run(save_many())

        def save_accounts(prefix: str) -> None:
            for index in range(15):
                ledger.app.save(Account.open("acme", f"{prefix}-{index}"))

        threads = [threading.Thread(target=save_accounts, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(p for saved in async_positions for p in saved) == list(range(3, 23))
        assert ledger.size() == 3 + 20 + 60
        loaded = ledger.app.load(Account, account.id, "account")
        assert (loaded.notes, loaded.version) == (["first", "second"], 3)


def test_encoded_payloads_cross_the_socket_as_bytes(database_url: str, tmp_path: Path) -> None:
    """A draft carrying its payload encoded (:class:`CanonicalPayload`, the bulk paths') is stored through the
    writer with the same entry bytes as the draft carrying the value, and its aggregate loads."""
    socket_path = _socket_path()
    with (
        writer_server(tmp_path, database_url, socket_path),
        _worker_ledger(tmp_path, database_url, socket_path) as ledger,
    ):
        names = ["plain", "encoded \ue001 past U+E000"]
        ids = [account_id("acme", name) for name in names]
        drafts = [ledger.app.creation_draft(Account.Opened, ids[0], "acme", {"name": names[0]})]
        value = ledger.app.creation_draft(Account.Opened, ids[1], "acme", {"name": names[1]})
        drafts.append(value._replace(payload=encode_payload({"name": names[1]})))
        assert ledger.app.save_drafts(drafts) == [0, 1]
        assert [ledger.app.load(Account, aggregate_id, "account").name for aggregate_id in ids] == names
        stored = ledger.app.log_reader.read_rows(0, 2)
        assert [row.entry for row in stored] == [
            encode_entry(draft, position=row.position, prev=prev, aggregate_prev_position=None, recorded_at=recorded)
            for draft, row, prev, recorded in zip(
                [drafts[0], value],
                stored,
                [None, stored[0].leaf_hash],
                [decode_entry(row.entry).recorded_at for row in stored],
                strict=True,
            )
        ]


def test_followers_read_the_pushed_rows_not_the_database(database_url: str, tmp_path: Path) -> None:
    """The writer pushes each committed batch; a worker's reads of those rows come from memory, equal to
    the database's, and a read past them goes to the database."""
    socket_path = _socket_path()
    with (
        writer_server(tmp_path, database_url, socket_path),
        _worker_ledger(tmp_path, database_url, socket_path) as ledger,
    ):
        for index in range(10):
            ledger.app.save(Account.open("acme", f"pushed-{index}"))
        recorder = ledger.app.recorder
        assert isinstance(recorder, SequencedRecorder)
        assert recorder.recent is not None
        from_database = recorder.reader.read_rows(0, 100)
        assert len(from_database) == 10
        assert recorder.read_rows(0, 100) == from_database
        assert recorder.read_rows(4, 3) == from_database[4:7]
        assert recorder.recent.hits == 13
        assert recorder.read_rows(10, 100) == []  # past the pushed rows: the database answers
        assert recorder.recent.hits == 13


def test_no_writer_listening_is_unavailable(tmp_path: Path) -> None:
    client = WriterClient(_socket_path(), connect_timeout=0.2)
    with pytest.raises(WriterUnavailable):
        client.write([])
    client.close()


def test_standby_takes_over_and_seals(database_url: str, tmp_path: Path) -> None:
    """Two writers on one socket path: one leads; stopped, the other takes over; saves go on; all sealed."""
    socket_path = _socket_path()
    signer = ensure_signing_key(tmp_path)
    with _worker_ledger(tmp_path, database_url, socket_path) as ledger:  # creates the ledger's tables
        events: list[tuple[str, dict[str, Any]]] = []
        writers = [
            WriterProcess(
                StorageConfig(tmp_path, database_url),
                socket_path,
                report=functools.partial(_record, events, name),
                poll_seconds=0.02,
            )
            for name in ("first", "standby")
        ]
        threads = [threading.Thread(target=writer.run, daemon=True) for writer in writers]
        threads[0].start()
        _wait(lambda: ("first", "leader") in _said(events))
        threads[1].start()
        _wait(lambda: ("standby", "waiting") in _said(events))
        ledger.app.save(Account.open("acme", "before"))
        writers[0].stop()
        threads[0].join(30)
        ledger.app.save(Account.open("acme", "after"))  # waits for the standby (the client reconnects)
        assert ("standby", "leader") in _said(events)
        _wait(
            lambda: (
                ("standby", "sealed", 2) in [(n, e["event"], e.get("size")) for n, e in events if e["role"] == "sealer"]
            )
        )
        writers[1].stop()
        threads[1].join(30)
        assert ledger.size() == 2
    store = open_tree_store(StorageConfig(tmp_path, database_url))
    try:
        assert store.integrated_size() == 2
        verify_tree_and_checkpoints(store, [signer.verifier()])
    finally:
        store.close()


def _record(events: list[tuple[str, dict[str, Any]]], name: str, event: dict[str, Any]) -> None:
    events.append((name, event))


def _said(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, object]]:
    """(writer, event) of each writer's own events (not its sealer's)."""
    return [(name, event["event"]) for name, event in events if event["role"] == "writer"]


def _wait(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _entries(first: int, count: int) -> list[SequencedEntry]:
    return [
        SequencedEntry(p, f"e{p}", f"a{p}", 1, "t", "acme", "2026-01-01T00:00:00.000000Z", b"{}", bytes(32))
        for p in range(first, first + count)
    ]


def test_recent_rows_keep_one_contiguous_run() -> None:
    """Inside the run: rows from memory; outside it or at its end: None (the database answers); a batch
    after a gap (a push missed while the writer changed) starts a new run; the oldest rows fall off."""
    recent = RecentRows(capacity=5)
    assert recent.read(0, 10) is None
    recent.add(_entries(0, 3))
    assert [row.position for row in recent.read(1, 10) or []] == [1, 2]
    assert recent.read(3, 10) is None
    recent.add(_entries(5, 2))  # positions 3 and 4 were never pushed
    assert recent.read(0, 10) is None
    assert [row.position for row in recent.read(5, 1) or []] == [5]
    recent.add(_entries(7, 4))  # capacity 5: 5 falls off
    assert recent.read(5, 10) is None
    assert [row.position for row in recent.read(6, 10) or []] == [6, 7, 8, 9, 10]


def test_recent_rows_answer_one_row_from_before_the_run_restarted() -> None:
    """An entry looked up by position (its proof) is answered from the newest rows added, gaps or not: the run
    restarted after a gap still answers one-row reads of the rows before it; ranges only inside the run."""
    recent = RecentRows(capacity=5)
    recent.add(_entries(0, 2))
    recent.add(_entries(4, 2))  # another process committed 2 and 3: a new run
    assert [row.position for row in recent.read(1, 1) or []] == [1]
    assert recent.read(1, 2) is None  # a range outside the run: the database answers (2 is not here)
    assert recent.read(2, 1) is None
    assert [row.position for row in recent.read(4, 5) or []] == [4, 5]
    recent.add(_entries(8, 2))  # six rows added, capacity 5: row 0 falls off
    assert recent.read(0, 1) is None
    assert [row.position for row in recent.read(1, 1) or []] == [1]
    assert [row.entry for row in recent.read(9, 1) or []] == [b"{}"]


def test_frames_split_across_reads() -> None:
    """Frames come back whole whatever the chunks the socket delivers."""
    data = frame(SaveReply(1, positions=[4, 5])) + frame(Committed(_entries(4, 2))) + frame(SaveReply(2, error="x"))
    buffer = bytearray()
    messages = []
    for start in range(0, len(data), 7):
        buffer += data[start : start + 7]
        messages += [reply_decoder.decode(body) for body in split_frames(buffer)]
    assert not buffer
    assert messages == [SaveReply(1, positions=[4, 5]), Committed(_entries(4, 2)), SaveReply(2, error="x")]
