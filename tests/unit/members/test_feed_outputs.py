"""Outbound cells: formula injection neutralised, outcome metrics in the seed's formats."""

from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from adapters.feeds.csv_files import FORMULA_PREFIXES, neutralise, write_csv
from ledger_core.members.feeds.outbound import format_metric


def test_formula_cells_are_neutralised(tmp_path: Path) -> None:
    """=, +, -, @ (and tab, CR) at the start of a cell get a leading apostrophe; other cells are untouched."""
    path = tmp_path / "report.csv"
    write_csv(path, ["a", "b"], [["=HYPERLINK(1)", "+1"], ["-2", "@SUM(A1)"], ["plain", 7]])
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["a", "b"], ["'=HYPERLINK(1)", "'+1"], ["'-2", "'@SUM(A1)"], ["plain", "7"]]
    assert not list(tmp_path.glob(".*part"))  # written atomically, nothing left behind


@given(st.text(max_size=30))
def test_no_neutralised_cell_starts_a_formula(cell: str) -> None:
    """Whatever the cell, the written one never starts with a formula character."""
    assert not neutralise(cell).startswith(FORMULA_PREFIXES)
    assert neutralise(cell).endswith(cell)


def test_metric_formats_follow_the_seed() -> None:
    """Counts as integers, rates as percentages (8.42%, 34%), money in whole dollars, suppressed named."""
    assert format_metric("enrolled_members", 842, False) == "842"
    assert format_metric("enrollment_rate", 0.0842, False) == "8.42%"
    assert format_metric("action_rate_smoking_cessation", 0.34, False) == "34%"
    assert format_metric("mz_detection_rate", 0.0408, False) == "4.08%"
    assert format_metric("projected_savings_5yr", 57600, False) == "$57600"
    assert format_metric("nps_overall", 64, False) == "64"
    assert format_metric("cost_per_mz", None, True) == "suppressed"
    assert format_metric("enrollment_rate", None, False) == ""
