"""The eligibility feed on real storage (SQLite and PostgreSQL): loading, reports, idempotence, updates, alerts."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from support.clock import SteppingClock
from support.feeds import member_row, write_csv_file, write_json_file

from adapters.feeds.processing import process_eligibility_file
from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.engine.envelope import Envelope, decode_entry
from ledger_core.ledger import Ledger
from ledger_core.members.feeds.eligibility_file import FileStatus
from ledger_core.members.feeds.formats import FileRejection
from ledger_core.members.feeds.loading import FeedPolicy
from ledger_core.members.outcomes import ELIGIBLE
from ledger_core.webhooks.events import partner_events

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
P = "acme"


@pytest.fixture
def ledger(tmp_path: Path, database_url: str) -> Iterator[Ledger]:
    opened = open_ledger(
        StorageConfig(tmp_path / "data", database_url),
        clock=SteppingClock(NOW),
        feed_policy=FeedPolicy(batch_size=7, alert_share=0.25),
    )
    yield opened
    opened.close()


def report_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def alerts(ledger: Ledger) -> list[dict[str, object]]:
    """The audit.alert webhooks the log's entries produce (the projector's mapping)."""

    def history(aggregate_id: str, before: int) -> list[Envelope]:
        return [envelope for envelope in ledger.history(UUID(aggregate_id)) if envelope.position < before]

    found: list[dict[str, object]] = []
    for row in ledger.app.log_reader.read_rows(0, 100_000):
        events = partner_events(decode_entry(row.entry), row.leaf_hash, history)
        found.extend(dict(event.data) for event in events if event.type == "audit.alert")
    return found


def test_valid_rows_load_and_bad_ones_are_reported(ledger: Ledger, tmp_path: Path) -> None:
    """Every valid record loads; each invalid one is skipped with row, field and reason, never its value."""
    rows = [member_row(i) for i in range(20)]
    rows[3] = member_row(3, state="XX")
    rows[5] = member_row(5, date_of_birth="2015-01-01")  # under 18
    rows[8] = member_row(8, email="")
    rows[9] = member_row(9, date_of_birth="15/01/1980")
    rows[11] = member_row(11, first_name='=HYPERLINK("http://x")', gender="Q")
    rows.append(member_row(2, email="quintessa.latest@example.org"))  # row 21 supersedes row 3
    path = write_csv_file(tmp_path / "in", f"eligibility_{P}_20260115.csv", rows)

    outcome = process_eligibility_file(ledger, P, path, tmp_path / "out")

    result = outcome.result
    assert (result.status, result.rows, result.created, result.refused) == (FileStatus.PARTIAL, 21, 15, 6)
    assert outcome.report_path == tmp_path / "out" / f"eligibility_{P}_20260115.report.csv"
    report = report_rows(outcome.report_path)
    assert report[0] == ["row", "line", "partner_member_id", "outcome", "field", "reason"]
    assert report[1][3] == "partial"
    skipped = {int(row[0]): row for row in report[2:]}
    assert sorted(skipped) == [3, 4, 6, 9, 10, 12]
    assert skipped[3][2:5] == ["pm0000002", "skipped", "partner_member_id"]
    assert "row 21" in skipped[3][5]
    assert skipped[4][4] == "state"
    assert skipped[6][4] == "date_of_birth"
    assert "not_eligible" in skipped[6][5]
    assert skipped[9][4] == "email"
    assert skipped[10][4] == "date_of_birth"
    assert skipped[12][4] == "gender"
    text = outcome.report_path.read_text(encoding="utf-8")
    for row in rows:
        for name in ("email", "first_name", "last_name", "date_of_birth"):
            if row[name] and row[name] != '=HYPERLINK("http://x")':
                assert row[name] not in text
    assert "HYPERLINK" not in text
    assert ledger.members.reveal(P, "pm0000002")["email"] == "quintessa.latest@example.org"
    counts = ledger.outcomes.store.period_sums(P, NOW.date(), NOW.date())
    assert counts == {ELIGIBLE: 15}
    assert ledger.verify().size == ledger.size()


def test_same_file_twice_changes_nothing_and_a_later_file_updates(ledger: Ledger, tmp_path: Path) -> None:
    """The same bytes again record nothing; a later file updates only what changed and adds the new."""
    rows = [member_row(i) for i in range(10)]
    first = write_csv_file(tmp_path / "in", f"eligibility_{P}_20260115.csv", rows)
    done = process_eligibility_file(ledger, P, first, tmp_path / "out")
    size = ledger.size()
    report = done.report_path.read_bytes()

    again = process_eligibility_file(ledger, P, first, tmp_path / "out")
    assert again.result.already_processed
    assert again.status is FileStatus.ACCEPTED
    assert ledger.size() == size
    assert again.report_path.read_bytes() == report

    later_rows = [*rows[:9], member_row(9, state="TX", email="new.address@example.org"), member_row(10)]
    later = write_json_file(tmp_path / "in", f"eligibility_{P}_20260116.jsonl", later_rows, lines=True)
    result = process_eligibility_file(ledger, P, later, tmp_path / "out").result
    assert (result.created, result.updated, result.unchanged, result.refused) == (1, 1, 9, 0)
    assert ledger.size() == size + 2 + 2 + 2  # received; 1 update + 1 registration + 2 batch events; completed
    member = ledger.members.get(P, "pm0000009")
    assert member.state == "TX"
    assert ledger.members.reveal(P, "pm0000009")["email"] == "new.address@example.org"
    assert ledger.outcomes.store.period_sums(P, NOW.date(), NOW.date()) == {ELIGIBLE: 11}


def test_json_array_loads_like_csv(ledger: Ledger, tmp_path: Path) -> None:
    """The JSON array form loads the same records."""
    rows = [member_row(i) for i in range(3)]
    path = write_json_file(tmp_path / "in", f"eligibility_{P}_20260115.json", rows, lines=False)
    result = process_eligibility_file(ledger, P, path, tmp_path / "out").result
    assert (result.status, result.created) == (FileStatus.ACCEPTED, 3)


@pytest.mark.parametrize(
    ("content", "rejection"),
    [
        (b"", FileRejection.EMPTY),
        (b"partner_member_id,email\n1,a@b.co\n", FileRejection.HEADER),
        (
            "partner_member_id,email,first_name,last_name,date_of_birth,gender,state,policy_type,policy_start_date\n"
            "1,a@b.co,Jos\u00e9,Doe,1980-01-01,M,IA,Life,\n".encode("latin-1"),
            FileRejection.NOT_UTF8,
        ),
    ],
)
def test_rejected_file_loads_nothing_and_alerts(
    ledger: Ledger, tmp_path: Path, content: bytes, rejection: FileRejection
) -> None:
    """A rejected file records only its rejection (with an audit.alert) and a one-line report."""
    path = tmp_path / "in" / f"eligibility_{P}_20260115.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    outcome = process_eligibility_file(ledger, P, path, tmp_path / "out")
    assert outcome.status is FileStatus.REJECTED
    assert outcome.result.rejection is rejection
    assert ledger.size() == 1
    report = report_rows(outcome.report_path)
    assert report[1][3] == "rejected"
    assert report[1][5].startswith(rejection.value)
    assert [alert["alert"] for alert in alerts(ledger)] == ["eligibility_file_rejected"]
    assert process_eligibility_file(ledger, P, path, tmp_path / "out").result.already_processed
    assert ledger.size() == 1


def test_misnamed_file_is_rejected(ledger: Ledger, tmp_path: Path) -> None:
    """A file named for another partner never loads."""
    path = write_csv_file(tmp_path / "in", "eligibility_other_20260115.csv", [member_row(1)])
    outcome = process_eligibility_file(ledger, P, path, tmp_path / "out")
    assert outcome.result.rejection is FileRejection.FILE_NAME
    assert outcome.report_path.name == "eligibility_other_20260115.csv.report.csv"


def test_alert_when_too_many_rows_fail(ledger: Ledger, tmp_path: Path) -> None:
    """More than the configured share of skipped records raises audit.alert; fewer does not."""
    few = [member_row(i) for i in range(8)] + [member_row(8, state="XX")]
    process_eligibility_file(ledger, P, write_csv_file(tmp_path, f"eligibility_{P}_20260115.csv", few), tmp_path)
    assert alerts(ledger) == []
    many = [member_row(i, state="XX") for i in range(20, 24)] + [member_row(30)]
    outcome = process_eligibility_file(
        ledger, P, write_csv_file(tmp_path, f"eligibility_{P}_20260116.csv", many), tmp_path
    )
    assert outcome.alert
    [alert] = alerts(ledger)
    assert alert["alert"] == "eligibility_rows_refused"
    assert (alert["rows"], alert["rows_refused"], alert["file_name"]) == (5, 4, f"eligibility_{P}_20260116.csv")


def crash_between_commit_and_counters(ledger: Ledger, path: Path, out: Path) -> None:
    """Process ``path`` until the second batch's save committed and its counter update 'crashed'."""
    store = ledger.outcomes.store
    original = store.settle_change
    calls = 0

    def crash_on_second(change_id: str, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> bool:
        nonlocal calls
        calls += 1
        if calls in (2, 3):  # the batch's settle, then the settle its clean-up tries: as if killed there
            raise SystemExit("killed")
        return original(change_id, partner_id, deltas)

    store.settle_change = crash_on_second  # type: ignore[method-assign] # a crash, just there
    with pytest.raises(SystemExit):
        process_eligibility_file(ledger, P, path, out)
    store.settle_change = original  # type: ignore[method-assign]
    assert len(store.open_changes()) == 1


def test_crash_after_a_batch_commit_settles_its_counters_on_restart(ledger: Ledger, tmp_path: Path) -> None:
    """A batch saved but whose counters were not updated (a crash) is counted once when the file resumes."""
    rows = [member_row(i) for i in range(20)]
    path = write_csv_file(tmp_path / "in", f"eligibility_{P}_20260115.csv", rows)
    crash_between_commit_and_counters(ledger, path, tmp_path / "out")
    store = ledger.outcomes.store
    result = process_eligibility_file(ledger, P, path, tmp_path / "out").result
    assert (result.created, result.already_processed) == (20, False)
    assert store.open_changes() == []
    assert store.period_sums(P, NOW.date(), NOW.date()) == {ELIGIBLE: 20}


def test_outcome_recovery_settles_a_crashed_batch_from_the_log(ledger: Ledger, tmp_path: Path) -> None:
    """The outcome recovery worker settles a crashed batch too (its marker event is in the log): exactly once."""
    rows = [member_row(i) for i in range(20)]
    path = write_csv_file(tmp_path / "in", f"eligibility_{P}_20260115.csv", rows)
    crash_between_commit_and_counters(ledger, path, tmp_path / "out")
    assert ledger.outcomes.recover(min_age=timedelta(0)) == 1
    assert ledger.outcomes.recover(min_age=timedelta(0)) == 0
    assert ledger.outcomes.store.period_sums(P, NOW.date(), NOW.date()) == {ELIGIBLE: 14}  # two batches of 7
    process_eligibility_file(ledger, P, path, tmp_path / "out")
    assert ledger.outcomes.store.period_sums(P, NOW.date(), NOW.date()) == {ELIGIBLE: 20}
