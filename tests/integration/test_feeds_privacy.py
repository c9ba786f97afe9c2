"""Privacy of the feeds: after loading members from a file and erasing one, none of that member's name,
email or date of birth is in any stored byte (database with WAL, or every PostgreSQL row), in the report or in
any outbound file; the other members' data stays readable."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from support.clock import SteppingClock
from support.feeds import member_row, write_csv_file
from support.storage_dump import database_dump, found

from adapters.feeds.processing import process_eligibility_file, write_enrollment_feed, write_outcome_feed
from adapters.opening import open_ledger
from adapters.storage import StorageConfig

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
P = "acme"
SECRET = {
    "email": "zenobia.phelpsworthy@example.org",
    "first_name": "Zenobia",
    "last_name": "Phelpsworthy",
    "date_of_birth": "1961-07-29",
}


def test_erased_member_leaves_no_personal_byte(tmp_path: Path, database_url: str) -> None:
    """Load (the member twice: an update, so two ciphertexts), enroll, write every feed, erase, then search."""
    config = StorageConfig(tmp_path / "data", database_url)
    out = tmp_path / "outbound"
    inbound = tmp_path / "inbound"
    rows = [member_row(i) for i in range(30)]
    rows[7] = member_row(7, **{**SECRET, "first_name": "=Zenobia"})
    with open_ledger(config, clock=SteppingClock(NOW)) as ledger:
        first = write_csv_file(inbound, f"eligibility_{P}_20260115.csv", rows)
        process_eligibility_file(ledger, P, first, out)
        rows[7] = member_row(7, **SECRET)
        process_eligibility_file(ledger, P, write_csv_file(inbound, f"eligibility_{P}_20260116.csv", rows), out)
        ledger.membership.enroll(P, "pm0000007", "2026-01-15")
        write_enrollment_feed(ledger, P, date(2026, 1, 16), out)
        write_outcome_feed(ledger, P, date(2026, 1, 1), out)
        ledger.membership.erase(P, "pm0000007")
        write_enrollment_feed(ledger, P, date(2026, 1, 17), out, full=True)
        assert ledger.members.reveal(P, "pm0000008")["first_name"] == "Quintessa8"
        assert ledger.verify().size == ledger.size()

    stored = database_dump(config)
    outbound = b"".join(path.read_bytes() for path in sorted(out.iterdir()))
    assert len(list(out.iterdir())) >= 4
    for value in SECRET.values():
        needle = value.encode()
        assert not found(stored, needle), value
        assert needle not in outbound, value
    assert found(stored, b"pm0000007")  # the partner's own id is not personal data and stays
