"""Sequencing a batch: positions, prev links, back-links, conflicts, monotonic time."""

from __future__ import annotations

from ledger_core.engine.envelope import EventDraft, decode_entry
from ledger_core.engine.errors import ConcurrencyConflict, LogMoved
from ledger_core.engine.sequencer import (
    EMPTY_LOG,
    AggregateHead,
    AnchoredDrafts,
    LogHead,
    SequencedEntry,
    created_in,
    sequence_batch,
)
from proofs.hashing import leaf_hash

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-01T00:00:01.000000Z"


def draft(aggregate: str, version: int) -> EventDraft:
    return EventDraft(f"e-{aggregate}-{version}", "t.happened", "T", aggregate, version, "p", {"n": version})


def test_positions_and_prev_links_follow_the_head() -> None:
    """Entries get consecutive positions after the head and each links to the previous leaf hash."""
    head = LogHead(size=5, last_leaf_hash=b"\x11" * 32, last_recorded_at=T0)
    batch = sequence_batch(head, [[draft("a", 1)], [draft("b", 1), draft("b", 2)]], {}, T1)
    assert [e.position for e in batch.entries] == [5, 6, 7]
    envelopes = [decode_entry(e.entry) for e in batch.entries]
    assert envelopes[0].prev == "11" * 32
    assert envelopes[1].prev == leaf_hash(batch.entries[0].entry).hex()
    assert envelopes[2].aggregate_prev_position == 6
    assert batch.outcomes == [[5], [6, 7]]
    assert batch.head == LogHead(8, batch.entries[-1].leaf_hash, T1)


def test_conflicting_save_is_refused_alone() -> None:
    """A save whose version does not follow the stored head is refused; the rest of the batch goes ahead."""
    heads = {"a": AggregateHead(version=3, position=2)}
    batch = sequence_batch(EMPTY_LOG, [[draft("a", 3)], [draft("a", 4)], [draft("c", 1)]], heads, T0)
    conflict = batch.outcomes[0]
    assert isinstance(conflict, ConcurrencyConflict)
    assert (conflict.expected_version, conflict.found_version) == (2, 3)
    assert batch.outcomes[1:] == [[0], [1]]
    assert decode_entry(batch.entries[0].entry).aggregate_prev_position == 2


def test_two_saves_of_the_same_version_in_one_batch() -> None:
    """Two callers racing to write version 1 of the same aggregate: the first wins, the second conflicts."""
    batch = sequence_batch(EMPTY_LOG, [[draft("a", 1)], [draft("a", 1)]], {}, T0)
    assert batch.outcomes[0] == [0]
    assert isinstance(batch.outcomes[1], ConcurrencyConflict)
    assert len(batch.entries) == 1


def test_save_is_all_or_nothing() -> None:
    """A save with one bad event writes none of its events."""
    batch = sequence_batch(EMPTY_LOG, [[draft("a", 1), draft("b", 2)]], {}, T0)
    assert isinstance(batch.outcomes[0], ConcurrencyConflict)
    assert batch.entries == []
    assert batch.head == EMPTY_LOG


def test_recorded_at_never_goes_backwards() -> None:
    """A clock that steps back is clamped to the head's time."""
    head = LogHead(size=1, last_leaf_hash=b"\x00" * 32, last_recorded_at=T1)
    batch = sequence_batch(head, [[draft("a", 1)]], {}, T0)
    assert batch.entries[0].recorded_at == T1


def test_entries_are_rows_in_storage_column_order() -> None:
    """A sequenced entry is the tuple of the storage columns, in their order; its leaf hash is RFC 9162's."""
    assert SequencedEntry._fields == (
        "position", "event_id", "aggregate_id", "aggregate_version", "type", "partner_id", "recorded_at", "entry",
        "leaf_hash",
    )  # fmt: skip
    batch = sequence_batch(EMPTY_LOG, [[draft("a", 1), draft("a", 2)], [draft("b", 1)]], {}, T0)
    for entry in batch.entries:
        envelope = decode_entry(entry.entry)
        assert tuple(entry) == (
            envelope.position, envelope.event_id, envelope.aggregate_id, envelope.aggregate_version, envelope.type,
            envelope.partner_id, envelope.recorded_at, entry.entry, leaf_hash(entry.entry),
        )  # fmt: skip
    assert batch.outcomes == [[0, 1], [2]]


def test_back_links_within_one_batch_and_across_saves() -> None:
    """An aggregate written twice in a batch links to its own earlier entry of that batch."""
    heads = {"a": AggregateHead(version=1, position=7)}
    head = LogHead(size=9, last_leaf_hash=b"\x22" * 32, last_recorded_at=T0)
    batch = sequence_batch(head, [[draft("a", 2)], [draft("b", 1)], [draft("a", 3), draft("a", 4)]], heads, T1)
    links = [decode_entry(entry.entry).aggregate_prev_position for entry in batch.entries]
    assert links == [7, None, 9, 11]
    assert batch.outcomes == [[9], [10], [11, 12]]


def test_an_anchored_save_is_written_only_at_its_position() -> None:
    """An anchored save that finds the log where it expected it is written there; one that finds another save
    came first is refused whole (:class:`LogMoved`) and the other saves go ahead."""
    head = LogHead(size=5, last_leaf_hash=b"\x11" * 32, last_recorded_at=T0)
    late = AnchoredDrafts(5, [draft("b", 1), draft("b", 2)])
    batch = sequence_batch(head, [AnchoredDrafts(5, [draft("a", 1)]), late, [draft("c", 1)]], {}, T1)
    assert batch.outcomes[0] == [5]
    moved = batch.outcomes[1]
    assert isinstance(moved, LogMoved)
    assert (moved.expected, moved.found) == (5, 6)
    assert batch.outcomes[2] == [6]
    assert [entry.aggregate_id for entry in batch.entries] == ["a", "c"]


def test_created_in_names_the_aggregates_a_batch_starts_at_version_1() -> None:
    """Aggregates whose FIRST event in the batch is version 1 (not those continued, nor a second creation of
    one already created earlier in the batch, which the sequencer refuses on the batch's own heads)."""
    saves = [[draft("a", 1), draft("a", 2)], [draft("b", 4)], [draft("c", 1)], [draft("b", 1)], [draft("a", 1)]]
    assert created_in(saves) == {"a", "c"}
    batch = sequence_batch(EMPTY_LOG, saves, {"b": AggregateHead(3, 0)}, T1)
    assert batch.outcomes[:3] == [[0, 1], [2], [3]]
    assert all(isinstance(outcome, ConcurrencyConflict) for outcome in batch.outcomes[3:])
