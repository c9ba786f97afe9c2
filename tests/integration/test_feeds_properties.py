"""Property of the eligibility feed on real storage: whatever mix of valid, invalid and repeated rows a file
holds, every row is accounted for once, the last row of each member wins when it is valid, and the report
names exactly the skipped rows."""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.clock import SteppingClock
from support.feeds import member_row, write_csv_file

from adapters.feeds.processing import process_eligibility_file
from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.members.feeds.loading import FeedPolicy

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
P = "acme"

rows_strategy = st.lists(
    st.tuples(st.integers(min_value=0, max_value=7), st.booleans(), st.integers(min_value=0, max_value=3)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows_strategy, st.integers(min_value=1, max_value=6))
def test_every_row_is_accounted_for_and_the_last_valid_row_wins(
    spec: list[tuple[int, bool, int]], batch_size: int
) -> None:
    """accepted + skipped = rows; each member holds its last row if that row is valid; the report lists the rest."""
    rows = [
        member_row(member, email=f"v{version}.{member}@example.org", state="IA" if valid else "XX")
        for member, valid, version in spec
    ]
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        path = write_csv_file(folder / "in", f"eligibility_{P}_20260115.csv", rows)
        with open_ledger(
            StorageConfig(folder / "data"), clock=SteppingClock(NOW), feed_policy=FeedPolicy(batch_size=batch_size)
        ) as ledger:
            outcome = process_eligibility_file(ledger, P, path, folder / "out")
            last = {member: index for index, (member, _, _) in enumerate(spec)}
            wins = {member: spec[index] for member, index in last.items() if spec[index][1]}
            result = outcome.result
            assert result.accepted + result.refused == len(spec)
            assert result.created == len(wins)
            for member, (_, _, version) in wins.items():
                revealed = ledger.members.reveal(P, f"pm{member:07d}")
                assert revealed["email"] == f"v{version}.{member}@example.org"
            with outcome.report_path.open(newline="") as handle:
                skipped = sorted(int(row[0]) for row in list(csv.reader(handle))[2:])
            expected = sorted(
                index + 1 for index, (member, valid, _) in enumerate(spec) if last[member] != index or not valid
            )
            assert skipped == expected
