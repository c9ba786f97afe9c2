"""The chain verifier names the first broken position with expected and found values."""

from __future__ import annotations

import dataclasses

import pytest

from ledger_core.engine.chain import ChainVerifier, StoredRow
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.errors import ChainBroken
from ledger_core.engine.sequencer import EMPTY_LOG, sequence_batch

NOW = "2026-01-01T00:00:00.000000Z"


def rows(count: int) -> list[StoredRow]:
    saves = [[EventDraft(f"e{i}", "t.x", "T", f"agg-{i % 3}", i // 3 + 1, "p", {"i": i})] for i in range(count)]
    batch = sequence_batch(EMPTY_LOG, saves, {}, NOW)
    return [
        StoredRow(e.position, e.aggregate_id, e.aggregate_version, e.type, e.partner_id, e.entry, e.leaf_hash)
        for e in batch.entries
    ]


def broken_at(log: list[StoredRow]) -> ChainBroken:
    with pytest.raises(ChainBroken) as caught:
        ChainVerifier().feed(log)
    return caught.value


def test_intact_chain_summary() -> None:
    """An untouched log verifies and reports its size, head and aggregate count."""
    log = rows(9)
    verifier = ChainVerifier()
    verifier.feed(log)
    summary = verifier.summary()
    assert (summary.size, summary.head_leaf_hash, summary.aggregates) == (9, log[-1].leaf_hash, 3)


def test_deleted_row() -> None:
    """A missing row breaks at its position."""
    log = rows(6)
    del log[3]
    assert (broken_at(log).position, broken_at(log).reason) == (3, "missing entry")


def test_flipped_byte_with_stale_leaf_hash() -> None:
    """Editing entry bytes is caught by the stored leaf hash."""
    log = rows(5)
    entry = bytearray(log[2].entry)
    entry[40] ^= 1
    log[2] = dataclasses.replace(log[2], entry=bytes(entry))
    assert broken_at(log).position == 2


def test_rewritten_entry_with_recomputed_hash() -> None:
    """Rewriting an entry and its leaf hash is caught by the next entry's prev link."""
    log = rows(5)
    forged = rows(5)
    forged_entry = forged[2].entry.replace(b'"i":2', b'"i":7')
    from proofs.hashing import leaf_hash

    log[2] = dataclasses.replace(log[2], entry=forged_entry, leaf_hash=leaf_hash(forged_entry))
    error = broken_at(log)
    assert (error.position, error.reason) == (3, "prev link")
    assert error.expected == leaf_hash(forged_entry).hex()


def test_reordered_rows() -> None:
    """Swapping two entries' contents breaks at the first swapped position."""
    log = rows(5)
    a, b = log[1], log[2]
    log[1] = dataclasses.replace(b, position=1)
    log[2] = dataclasses.replace(a, position=2)
    assert broken_at(log).position == 1


def test_edited_index_column() -> None:
    """A column that disagrees with the envelope is caught (queries cannot be misled)."""
    log = rows(4)
    log[1] = dataclasses.replace(log[1], partner_id="other")
    assert broken_at(log).reason == "indexed columns"
