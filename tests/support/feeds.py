"""Eligibility files for feed tests: rows with recognisable personal values, written as CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ledger_core.members.feeds.formats import ELIGIBILITY_COLUMNS


def member_row(index: int, **changes: str) -> dict[str, str]:
    """A valid row whose personal values are unique and easy to search for in stored bytes."""
    row = {
        "partner_member_id": f"pm{index:07d}",
        "email": f"quintessa.{index}@example.org",
        "first_name": f"Quintessa{index}",
        "last_name": f"Vandermolen{index}",
        "date_of_birth": f"19{50 + index % 40:02d}-0{1 + index % 9}-1{index % 9}",
        "gender": "MFO"[index % 3],
        "state": ("IA", "TX", "CA", "NY")[index % 4],
        "policy_type": ("Life", "Health", "Disability")[index % 3],
        "policy_start_date": "2022-01-01" if index % 2 else "",
    }
    row.update(changes)
    return row


def csv_bytes(
    rows: list[dict[str, str]], *, line_end: str = "\r\n", columns: tuple[str, ...] = ELIGIBILITY_COLUMNS
) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator=line_end, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def write_csv_file(folder: Path, name: str, rows: list[dict[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(csv_bytes(rows))
    return path


def write_json_file(folder: Path, name: str, rows: list[dict[str, str]], *, lines: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if lines:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    else:
        path.write_text(json.dumps(rows), encoding="utf-8")
    return path
