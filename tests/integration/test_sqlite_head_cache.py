"""The SQLite writer's cache of aggregate heads: used only while nobody else has written since."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.ledgers import open_toy_ledger
from support.toy import Account

from adapters.sqlite.log import WRITER_CACHE_MIB, HeadCache, SQLiteLogRecorder
from ledger_core.engine.envelope import EventDraft, decode_entry
from ledger_core.engine.errors import ConcurrencyConflict
from ledger_core.engine.sequencer import EMPTY_LOG, AggregateHead, LogHead, sequence_batch

T0 = "2026-01-01T00:00:00.000000Z"


def test_cache_holds_only_at_the_head_it_committed() -> None:
    """Remembered heads are offered only for the log head written last; clearing forgets everything."""
    cache = HeadCache()
    assert cache.lookup({"a"}) == {}
    assert not cache.holds_for(EMPTY_LOG)
    drafts = [EventDraft("e1", "t.x", "T", "a", 3, None, {}), EventDraft("e2", "t.x", "T", "b", 1, None, {})]
    batch = sequence_batch(LogHead(5, b"\x01" * 32, T0), [drafts[:1], drafts[1:]], {"a": AggregateHead(2, 4)}, T0)
    cache.remember({"a": AggregateHead(2, 4), "c": AggregateHead(7, 1)}, batch)
    assert cache.holds_for(batch.head)
    assert not cache.holds_for(LogHead(batch.head.size + 1, b"\x02" * 32, T0))
    assert cache.lookup({"a", "b", "c", "d"}) == {
        "a": AggregateHead(3, 5),
        "b": AggregateHead(1, 6),
        "c": AggregateHead(7, 1),
    }
    cache.clear()
    assert cache.lookup({"a"}) == {}
    assert not cache.holds_for(batch.head)


def test_cache_stays_bounded() -> None:
    """Past its size the cache starts over rather than grow."""
    cache = HeadCache(max_size=2)
    for k in range(5):
        batch = sequence_batch(EMPTY_LOG, [[EventDraft(f"e{k}", "t.x", "T", f"agg{k}", 1, None, {})]], {}, T0)
        cache.remember({f"old{k}": AggregateHead(1, 0)}, batch)
        assert len(cache.lookup({f"agg{k}", f"old{k}", "agg0"})) <= 2


def test_a_second_writer_invalidates_the_cache(tmp_path: Path) -> None:
    """Two ledgers (two writers, as two processes would be) on one file: a stale in-memory aggregate is
    refused with ConcurrencyConflict, and every back-link points at the aggregate's real previous entry."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    first, first_recorder = open_toy_ledger(url)
    second, _ = open_toy_ledger(url)
    with first, second:
        mine = Account.open("acme", "x")
        first.app.save(mine)  # first's writer now remembers x at version 1
        theirs = second.app.load(Account, mine.id, "account")
        theirs.note("from the second writer")
        second.app.save(theirs)  # version 2 written behind first's back
        mine.note("stale")
        with pytest.raises(ConcurrencyConflict):
            first.app.save(mine)
        fresh = first.app.load(Account, mine.id, "account")
        other = Account.open("acme", "y")
        second.app.save(other)
        fresh.note("after reload")
        other_here = first.app.load(Account, other.id, "account")
        other_here.note("y from first")
        first.app.save(fresh, other_here)
        theirs.note("stale again")  # second's writer has not seen version 3
        with pytest.raises(ConcurrencyConflict):
            second.app.save(theirs)
        rows = first_recorder.read_rows(0, 100)
        envelopes = [decode_entry(row.entry) for row in rows]
        links = [(e.aggregate_id, e.aggregate_version, e.aggregate_prev_position) for e in envelopes]
        x, y = str(mine.id), str(other.id)
        assert links == [(x, 1, None), (x, 2, 0), (y, 1, None), (x, 3, 1), (y, 2, 2)]
        assert first.verify().size == second.verify().size == 5


def test_the_writer_connection_has_its_own_page_cache(tmp_path: Path) -> None:
    """The connection that commits a batch gets WRITER_CACHE_MIB of page cache (set once, kept); a thread
    that only reads keeps SQLite's default (2,000 KiB)."""
    recorder = SQLiteLogRecorder(tmp_path / "ledger.db")
    try:

        def cache_size() -> int:
            with recorder._connections.connection() as conn:
                return int(conn.execute("PRAGMA cache_size").fetchone()[0])

        assert cache_size() == -2000
        recorder._commit_batch([[EventDraft("e1", "t.x", "T", "a", 1, None, {})]])  # writes on this thread
        assert cache_size() == -WRITER_CACHE_MIB * 1024
        recorder._commit_batch([[EventDraft("e2", "t.x", "T", "b", 1, None, {})]])
        assert cache_size() == -WRITER_CACHE_MIB * 1024
        assert recorder.read_rows(0, 10)[1].position == 1
    finally:
        recorder.close()
