"""``ledger feeds load`` and ``ledger feeds export`` as an operator runs them (the console script), both backends."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.feeds import member_row, write_csv_file

LEDGER = shutil.which("ledger", path=str(Path(sys.executable).parent)) or shutil.which("ledger")
P = "acme"


def ledger(*args: str) -> subprocess.CompletedProcess[str]:
    assert LEDGER is not None, "the ledger console script is installed with the package"
    return subprocess.run([LEDGER, *args], capture_output=True, text=True, check=False)


@pytest.fixture
def where(database_url: str, tmp_path: Path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]


def test_load_export_and_verify(where: list[str], tmp_path: Path) -> None:
    """Load a file (report written, exit 0), a broken one (exit 2), export both feeds, verify intact."""
    rows = [member_row(i) for i in range(25)] + [member_row(99, state="XX")]
    good = write_csv_file(tmp_path / "in", f"eligibility_{P}_20260115.csv", rows)
    assert ledger("init", *where).returncode == 0  # only init creates a ledger (issue 19)
    loaded = ledger("feeds", "load", P, str(good), "--out", str(tmp_path / "out"), *where)
    assert loaded.returncode == 0, loaded.stderr
    summary = json.loads(loaded.stdout)
    assert (summary["status"], summary["rows_accepted"], summary["rows_rejected"]) == ("partial", 25, 1)
    with Path(summary["report"]).open(newline="") as handle:
        assert [row[4] for row in csv.reader(handle)][2:] == ["state"]

    broken = tmp_path / "in" / f"eligibility_{P}_20260116.csv"
    broken.write_bytes(b"not,a,feed\n1,2,3\n")
    rejected = ledger("feeds", "load", P, str(broken), "--out", str(tmp_path / "out"), *where)
    assert rejected.returncode == 2
    assert json.loads(rejected.stdout)["rejection"] == "not_csv"

    enrollment = ledger(
        "feeds", "export", "enrollment", P, "--day", "2026-01-16", "--out", str(tmp_path / "out"), *where
    )
    assert enrollment.returncode == 0, enrollment.stderr
    assert Path(json.loads(enrollment.stdout)["path"]).name == f"enrollment_{P}_20260116.csv"
    outcome = ledger("feeds", "export", "outcome", P, "--month", "2026-01", "--out", str(tmp_path / "out"), *where)
    assert outcome.returncode == 0, outcome.stderr
    outcome_file = Path(json.loads(outcome.stdout)["path"])
    assert outcome_file.name == f"outcome_{P}_202601.csv"
    assert outcome_file.read_text().startswith("metric,value,period_start,period_end")

    verify = ledger("verify", *where)
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["intact"] is True
