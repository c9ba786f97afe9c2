"""Enrollment and outcome feeds on real storage: incremental deliveries tracked in the log, full files,
``result_type`` always empty, outcome figures equal to the API's (suppressed the same way)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from support.clock import SteppingClock
from support.feeds import member_row, write_csv_file

from adapters.feeds.processing import (
    feed_status,
    process_eligibility_file,
    write_enrollment_feed,
    write_outcome_feed,
)
from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.ledger import Ledger
from ledger_core.members.feeds.eligibility_file import FileStatus
from ledger_core.members.feeds.formats import ENROLLMENT_COLUMNS, OUTCOME_COLUMNS
from ledger_core.members.feeds.outbound import format_metric
from ledger_core.members.use_cases import MemberPolicy

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
P = "acme"


@pytest.fixture
def ledger(tmp_path: Path, database_url: str) -> Iterator[Ledger]:
    opened = open_ledger(
        StorageConfig(tmp_path / "data", database_url),
        clock=SteppingClock(NOW),
        member_policy=MemberPolicy(suppression_threshold=3),
    )
    rows = [member_row(i) for i in range(12)]
    process_eligibility_file(
        opened, P, write_csv_file(tmp_path / "in", f"eligibility_{P}_20260115.csv", rows), tmp_path
    )
    yield opened
    opened.close()


def read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_enrollment_feed_is_incremental_caught_up_and_repeatable(ledger: Ledger, tmp_path: Path) -> None:
    """Each day holds what changed since the last delivery; a lost day is caught up; a day rewritten is the same."""
    out = tmp_path / "out"
    membership = ledger.membership
    membership.enroll(P, "pm0000001", "2026-01-10")
    membership.order_kit(P, "pm0000001", "2026-01-11")
    membership.enroll(P, "pm0000002", "2026-01-12")
    day1 = write_enrollment_feed(ledger, P, date(2026, 1, 13), out)
    assert day1.name == f"enrollment_{P}_20260113.csv"
    rows = read(day1)
    assert rows[0] == list(ENROLLMENT_COLUMNS)
    assert rows[1:] == [
        ["pm0000001", "2026-01-10", "2026-01-11", "", "", "", "None"],
        ["pm0000002", "2026-01-12", "", "", "", "", "None"],
    ]
    first_bytes = day1.read_bytes()

    assert read(write_enrollment_feed(ledger, P, date(2026, 1, 14), out))[1:] == []  # nothing changed

    membership.receive_sample(P, "pm0000001", "2026-01-15", "2026-01-22")
    membership.deliver_result(P, "pm0000001", "2026-01-22", "MZ")
    membership.start_subscription(
        P, "pm0000001", start_date="2026-01-23", amount=Decimal("50"), currency="USD", frequency="annual"
    )
    # The run of the 15th was lost: nothing was written. The 16th catches up, without repeating pm0000002.
    day3 = read(write_enrollment_feed(ledger, P, date(2026, 1, 16), out))
    assert day3[1:] == [["pm0000001", "2026-01-10", "2026-01-11", "2026-01-15", "2026-01-22", "", "Active"]]

    assert write_enrollment_feed(ledger, P, date(2026, 1, 13), out).read_bytes() == first_bytes  # same range again

    full = read(write_enrollment_feed(ledger, P, date(2026, 1, 16), out, full=True))
    assert [row[0] for row in full[1:]] == ["pm0000001", "pm0000002"]
    assert all(row[5] == "" for row in full[1:])  # result_type: never for a partner

    membership.erase(P, "pm0000002")
    assert [row[0] for row in read(write_enrollment_feed(ledger, P, date(2026, 1, 17), out, full=True))[1:]] == [
        "pm0000001"
    ]
    status = feed_status(ledger, [P])[0]
    assert status.eligibility is not None
    assert status.eligibility.status is FileStatus.ACCEPTED
    assert status.eligibility.accepted == 12
    assert status.enrollment is not None
    assert status.enrollment.period == "2026-01-17"


def test_outcome_feed_matches_the_api_figures(ledger: Ledger, tmp_path: Path) -> None:
    """The outcome file holds GET /outcomes' figures for the month, formatted as the seed shows them."""
    for index in range(4):
        ledger.membership.enroll(P, f"pm{index:07d}", "2026-01-12")
    path = write_outcome_feed(ledger, P, date(2026, 1, 1), tmp_path / "out")
    assert path.name == f"outcome_{P}_202601.csv"
    rows = read(path)
    assert rows[0] == list(OUTCOME_COLUMNS)
    report = ledger.membership.outcomes(P, date(2026, 1, 1), date(2026, 1, 31))
    expected = [
        [name, format_metric(name, value, name in report.suppressed), "2026-01-01", "2026-01-31"]
        for name, value in report.metrics.items()
    ]
    assert rows[1:] == expected
    by_name = {row[0]: row[1] for row in rows[1:]}
    assert by_name["eligible_members"] == "12"
    assert by_name["enrolled_members"] == "4"
    assert by_name["enrollment_rate"] == "33.33%"
    status = feed_status(ledger, [P])[0]
    assert status.outcome is not None
    assert status.outcome.period == "2026-01"
