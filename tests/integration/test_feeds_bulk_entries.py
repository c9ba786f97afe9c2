"""The eligibility bulk path stores the entries the per-record path stores (on SQLite and PostgreSQL).

``member.registered`` drafts are built straight from checked rows and sealed values
(:mod:`ledger_core.members.member_batches`), not through the aggregate and the mapper: every stored entry must
be, byte for byte, the entry :meth:`Member.register` plus the mapper would make of the same values at the same
place in the log, and every member must replay to the state the per-record path gives it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from support.clock import SteppingClock
from support.feeds import member_row, write_csv_file

from adapters.feeds.processing import process_eligibility_file
from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.engine.envelope import decode_entry, encode_entry
from ledger_core.engine.errors import ConcurrencyConflict
from ledger_core.engine.mapper import EnvelopeMapper
from ledger_core.ledger import Ledger
from ledger_core.members.feeds.eligibility_file import EligibilityFile
from ledger_core.members.feeds.loading import FeedPolicy
from ledger_core.members.member import Member, member_id
from ledger_core.members.member_batches import BatchChange, MemberBatches
from ledger_core.members.member_record import PERSONAL_FIELDS, EligibilityRecord
from ledger_core.members.outcomes import ELIGIBLE

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
P = "acme"


@pytest.fixture(params=[0, 1], ids=["in-process", "one-worker"])
def ledger(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> Iterator[Ledger]:
    """Files of more than two batches are prepared in the loading process, or in one worker process."""
    opened = open_ledger(
        StorageConfig(tmp_path / "data", database_url),
        clock=SteppingClock(NOW),
        feed_policy=FeedPolicy(batch_size=6, workers=request.param),
    )
    yield opened
    opened.close()


def per_record_entry(mapper: EnvelopeMapper, stored: bytes, prev: bytes | None) -> bytes:
    """The entry the per-record path (``Member.register``, the mapper, the sequencer) makes of the values of
    the stored ``member.registered`` entry, at its place in the log."""
    envelope = decode_entry(stored)
    values = dict(envelope.payload)
    member = Member.register(partner_id=str(envelope.partner_id), **values)
    (event,) = member.collect_events()
    return encode_entry(
        mapper.to_draft(event),
        position=envelope.position,
        prev=prev,
        aggregate_prev_position=envelope.aggregate_prev_position,
        recorded_at=envelope.recorded_at,
    )


def test_bulk_entries_are_the_per_record_entries_and_replay(ledger: Ledger, tmp_path: Path) -> None:
    rows = [member_row(i) for i in range(14)]
    rows[4] = member_row(4, state="XX")  # skipped
    rows[9] = {**member_row(9), "first_name": "Zoë ☃ \U0001f3e0"}  # non-ASCII, astral plane
    path = write_csv_file(tmp_path / "in", f"eligibility_{P}_20260115.csv", rows)

    outcome = process_eligibility_file(ledger, P, path, tmp_path / "out")

    assert (outcome.result.created, outcome.result.refused) == (13, 1)
    mapper = ledger.app.mapper
    assert isinstance(mapper, EnvelopeMapper)
    stored = ledger.app.log_reader.read_rows(0, 1000)
    registered = [
        (row, stored[index - 1].leaf_hash) for index, row in enumerate(stored) if row.type == "member.registered"
    ]
    assert len(registered) == 13
    for row, prev in registered:
        assert row.entry == per_record_entry(mapper, row.entry, prev)
    for index, plain in enumerate(rows):
        if index == 4:
            continue
        member = ledger.members.get(P, plain["partner_member_id"])  # replayed from the log
        assert member.id == member_id(P, plain["partner_member_id"])
        assert member.plain_fields() == {
            "gender": plain["gender"],
            "state": plain["state"],
            "policy_type": plain["policy_type"],
            "policy_start_date": plain["policy_start_date"] or None,
            "email_opt_in": False,
        }
        assert ledger.members.reveal(P, plain["partner_member_id"]) == {name: plain[name] for name in PERSONAL_FIELDS}
    today = NOW.date()
    assert ledger.outcomes.store.period_sums(P, today, today)[ELIGIBLE] == 13
    assert ledger.verify().size == len(stored)


def test_a_member_twice_in_one_batch_is_registered_then_updated(ledger: Ledger) -> None:
    """The bulk path's aggregate fallback: a new member repeated in one batch (not from the feed, whose scan keeps
    the last row only) is registered and updated in the same save; its neighbours go through drafts."""
    records = [
        ledger.members.check(EligibilityRecord.from_row(row))
        for row in (member_row(1), member_row(2), member_row(1, state="NY", email="other.1@example.org"))
    ]
    batches = MemberBatches(ledger.members)
    before = ledger.size()
    marker = EligibilityFile.receive(P, f"eligibility_{P}_20260115.csv", "ab" * 32, 100, 3)

    outcomes = batches.upsert_batch(P, records, present=None, close_batch=lambda events, found: marker)

    assert [outcome.change for outcome in outcomes] == [BatchChange.CREATED, BatchChange.CREATED, BatchChange.UPDATED]
    assert ledger.size() == before + 4  # registered (draft); registered, updated (aggregate); the marker
    first = ledger.members.get(P, "pm0000001")
    assert first.state == "NY"
    assert ledger.members.reveal(P, "pm0000001")["email"] == "other.1@example.org"
    assert [envelope.type for envelope in ledger.history(first.id)] == ["member.registered", "member.updated"]
    assert ledger.members.get(P, "pm0000002").state == member_row(2)["state"]


def test_existing_erased_and_unchanged_members_in_a_big_file(ledger: Ledger, tmp_path: Path) -> None:
    """With or without worker processes: an existing member is updated, an identical one left unchanged, an
    erased one refused (reported, nothing recorded), the others registered, every problem reported by row."""
    for index in (3, 5, 7):
        ledger.membership.upsert(P, EligibilityRecord.from_row(member_row(index)))
    ledger.members.erase(P, "pm0000005")
    rows = [member_row(i) for i in range(20)]
    rows[3] = member_row(3, state="IA")  # was NY
    rows[11] = member_row(11, email="not an email")
    path = write_csv_file(tmp_path / "in", f"eligibility_{P}_20260115.csv", rows)
    before = ledger.size()

    outcome = process_eligibility_file(ledger, P, path, tmp_path / "out")

    result = outcome.result
    assert (result.created, result.updated, result.unchanged, result.refused) == (16, 1, 1, 2)
    problems = ledger.feeds.problems(P, result.digest) if ledger.feeds is not None else []
    assert [(problem.row, problem.refusal.value, problem.field) for problem in problems] == [
        (6, "member_erased", None),
        (12, "invalid_field", "email"),
    ]
    assert ledger.members.get(P, "pm0000003").state == "IA"
    assert ledger.members.reveal(P, "pm0000019")["email"] == member_row(19)["email"]
    types = [envelope.type for envelope in ledger.entries(before)]
    assert types.count("member.registered") == 16
    assert types.count("member.updated") == 1
    assert ledger.verify().size == ledger.size()


def _marker(rows: int) -> EligibilityFile:
    return EligibilityFile.receive(P, f"eligibility_{P}_20260115.csv", "cd" * 32, 100, rows)


def test_only_members_whose_key_existed_are_looked_up(ledger: Ledger) -> None:
    """A member registers only with its key, so a member whose key the sealing just created does not exist:
    planning asks the existence query about the others only, and still updates the existing member."""
    ledger.membership.upsert(P, EligibilityRecord.from_row(member_row(3)))
    records = [ledger.members.check(EligibilityRecord.from_row(member_row(i, state="IA"))) for i in (1, 2, 3)]
    sealed = MemberBatches.seal_records(ledger.members.vault, P, records)
    assert [record.key_created for record in sealed] == [True, True, False]
    asked: list[list[UUID]] = []
    assert ledger.feeds is not None
    log = ledger.feeds.log

    def present(ids: Sequence[UUID]) -> Collection[UUID]:
        asked.append(list(ids))
        return {UUID(found) for found in log.existing_aggregates([str(i) for i in ids])}

    batches = MemberBatches(ledger.members)
    planned = batches.plan_sealed(P, sealed, present=present)
    assert asked == [[member_id(P, "pm0000003")]]
    outcomes = batches.save_batch(planned, lambda events, found: _marker(3))
    assert [outcome.change for outcome in outcomes] == [BatchChange.CREATED, BatchChange.CREATED, BatchChange.UPDATED]
    assert ledger.members.get(P, "pm0000003").state == "IA"
    again = MemberBatches.seal_records(ledger.members.vault, P, records)
    assert not any(record.key_created for record in again)  # the keys exist now


def test_a_member_registered_between_sealing_and_saving_refuses_the_save(ledger: Ledger) -> None:
    """The member's key was created by the sealing, then the API path registered the member with that key
    before the batch was saved: the log refuses the batch's save (the member exists), nothing of it is
    recorded, the member is registered once and counted once; the feed's next run plans it again."""
    records = [ledger.members.check(EligibilityRecord.from_row(member_row(i))) for i in (1, 2)]
    sealed = MemberBatches.seal_records(ledger.members.vault, P, records)
    assert all(record.key_created for record in sealed)
    ledger.membership.upsert(P, EligibilityRecord.from_row(member_row(2, state="NY")))
    size = ledger.size()
    batches = MemberBatches(ledger.members)
    planned = batches.plan_sealed(P, sealed, present=lambda ids: ())
    with pytest.raises(ConcurrencyConflict):
        batches.save_batch(planned, lambda events, found: _marker(2))
    assert ledger.size() == size
    assert ledger.members.get(P, "pm0000002").state == "NY"
    today = NOW.date()
    assert ledger.outcomes.store.period_sums(P, today, today)[ELIGIBLE] == 1
    replanned = batches.plan_sealed(P, MemberBatches.seal_records(ledger.members.vault, P, records), present=None)
    outcomes = batches.save_batch(replanned, lambda events, found: _marker(2))
    assert [outcome.change for outcome in outcomes] == [BatchChange.CREATED, BatchChange.UPDATED]
    assert ledger.outcomes.store.period_sums(P, today, today)[ELIGIBLE] == 2
    assert ledger.verify().size == ledger.size()
