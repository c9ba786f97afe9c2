"""The ``email_opt_in`` extension on real storage (SQLite and PostgreSQL): recorded on the member, the file's
new opted-in members listed in its batch events, and each member's "you're eligible" email claimed once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.clock import SteppingClock
from support.feeds import csv_bytes, member_row

from adapters.feeds.processing import process_eligibility_file
from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.ledger import Ledger
from ledger_core.members.feeds.formats import ELIGIBILITY_COLUMNS
from ledger_core.members.feeds.loading import FeedPolicy
from ledger_core.members.feeds.use_cases import Feeds
from ledger_core.members.member import Member, member_id
from ledger_core.members.member_record import EligibilityRecord

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
P = "acme"
COLUMNS = (*ELIGIBILITY_COLUMNS, "email_opt_in")


@pytest.fixture
def ledger(tmp_path: Path, database_url: str) -> Iterator[Ledger]:
    opened = open_ledger(
        StorageConfig(tmp_path / "data", database_url), clock=SteppingClock(NOW), feed_policy=FeedPolicy(batch_size=7)
    )
    yield opened
    opened.close()


def _feeds(ledger: Ledger) -> Feeds:
    assert ledger.feeds is not None
    return ledger.feeds


def _member(ledger: Ledger, index: int) -> Member:
    found = ledger.app.find(Member, member_id(P, member_row(index)["partner_member_id"]))
    assert found is not None
    return found


def _load(ledger: Ledger, tmp_path: Path, name: str, rows: list[dict[str, str]]) -> list[str]:
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(csv_bytes(rows, columns=COLUMNS))
    outcome = process_eligibility_file(ledger, P, path, tmp_path / "out")
    notices = _feeds(ledger).eligibility_notices(P, outcome.result.digest)
    assert {notice.file_id for notice in notices} <= {outcome.result.file_id}
    return [notice.partner_member_id for notice in notices]


def test_new_opted_in_members_of_a_file_are_listed_once_each(ledger: Ledger, tmp_path: Path) -> None:
    """Across batches, in file order; an existing member who opts in later is not newly eligible."""
    ledger.membership.upsert(P, EligibilityRecord.from_row(member_row(0)))
    rows = [member_row(index, email_opt_in="Y" if index % 3 == 0 else "N") for index in range(20)]
    listed = _load(ledger, tmp_path, f"eligibility_{P}_20260115.csv", rows)
    assert listed == [member_row(index)["partner_member_id"] for index in range(3, 20, 3)]
    assert _member(ledger, 0).email_opt_in  # recorded on the existing member (an update)
    assert not _member(ledger, 1).email_opt_in


def test_each_member_is_claimed_once_and_never_when_erased(ledger: Ledger, tmp_path: Path) -> None:
    rows = [member_row(index, email_opt_in="true") for index in range(3)]
    feeds = _feeds(ledger)
    listed = _load(ledger, tmp_path, f"eligibility_{P}_20260115.csv", rows)
    outcome_digest = process_eligibility_file(ledger, P, tmp_path / "in" / f"eligibility_{P}_20260115.csv", tmp_path)
    notices = feeds.eligibility_notices(P, outcome_digest.result.digest)  # the same file again: same list
    assert [notice.partner_member_id for notice in notices] == listed
    ledger.membership.erase(P, rows[2]["partner_member_id"])
    assert feeds.claim_eligibility_email(P, notices[0]) == rows[0]["email"]
    assert feeds.claim_eligibility_email(P, notices[0]) is None  # claimed: never a second time
    assert feeds.claim_eligibility_email(P, notices[1]) == rows[1]["email"]
    assert feeds.claim_eligibility_email(P, notices[2]) is None  # erased
    assert _member(ledger, 0).eligibility_emailed
    assert not _member(ledger, 2).eligibility_emailed


def test_the_api_record_carries_the_flag_and_a_change_is_recorded(ledger: Ledger) -> None:
    created = ledger.membership.upsert(P, EligibilityRecord.from_row(member_row(1, email_opt_in="1")))
    assert created.created
    assert _member(ledger, 1).email_opt_in
    changed = ledger.membership.upsert(P, EligibilityRecord.from_row(member_row(1)))  # absent: not opted in
    assert changed.changed == ("email_opt_in",)
    assert not _member(ledger, 1).email_opt_in
    events = ledger.history(_member(ledger, 1).id)
    assert [envelope.payload["email_opt_in"] for envelope in events] == [True, False]
