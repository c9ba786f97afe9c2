"""The roster inbox: stable files applied oldest day first, refused ones set aside with their reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.roster import Roster
from adapters.workers.roster_inbox import RosterInbox


def test_stable_files_are_applied_in_day_order_and_moved(tmp_path: Path) -> None:
    """A file is applied on the pass after it stopped growing; rosters of older days go first."""
    applied: list[tuple[str, str, frozenset[str]]] = []

    def apply(roster: Roster, name: str) -> dict[str, Any]:
        applied.append((name, roster.partner_id, roster.active_ids))
        return {"deactivated": []}

    inbox = RosterInbox(tmp_path, apply)
    (tmp_path / "users_acme_20260116.csv").write_text("staff_id\nEMP1\n")
    (tmp_path / "users_acme_20260115.csv").write_text("staff_id\nEMP1\nEMP2\n")
    (tmp_path / "notes.txt").write_text("ignored")
    assert inbox.run_once() == []  # first sight: sizes recorded, nothing applied yet
    reports = inbox.run_once()
    assert [r["file"] for r in reports] == ["users_acme_20260115.csv", "users_acme_20260116.csv"]
    assert applied[0] == ("users_acme_20260115.csv", "acme", frozenset({"EMP1", "EMP2"}))
    assert sorted(p.name for p in (tmp_path / "processed").iterdir()) == [
        "users_acme_20260115.csv",
        "users_acme_20260116.csv",
    ]
    assert (tmp_path / "notes.txt").exists()


def test_a_refused_roster_is_set_aside_with_its_reason(tmp_path: Path) -> None:
    """An empty roster deactivates nobody: it moves to rejected/ with a .reason file."""
    inbox = RosterInbox(tmp_path, lambda roster, name: {})
    (tmp_path / "users_acme_20260115.csv").write_text("staff_id\n")
    inbox.run_once()
    (report,) = inbox.run_once()
    assert report["status"] == "rejected"
    reason = (tmp_path / "rejected" / "users_acme_20260115.reason").read_text()
    assert "no user" in reason


def test_a_growing_file_waits(tmp_path: Path) -> None:
    """A file whose size changed between passes (still being uploaded) is not applied."""
    inbox = RosterInbox(tmp_path, lambda roster, name: {})
    path = tmp_path / "users_acme_20260115.csv"
    path.write_text("staff_id\nEMP1\n")
    inbox.run_once()
    path.write_text("staff_id\nEMP1\nEMP2\n")
    assert inbox.run_once() == []
    assert len(inbox.run_once()) == 1


def test_a_file_claimed_by_another_worker_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers see the same stable file: the one that renames it first applies it, the other skips it."""
    applied: list[str] = []

    def apply(roster: Roster, name: str) -> dict[str, Any]:
        applied.append(name)
        return {}

    first, second = RosterInbox(tmp_path, apply), RosterInbox(tmp_path, apply)
    (tmp_path / "users_acme_20260115.csv").write_text("staff_id\nEMP1\n")
    first.pending()
    second.pending()
    seen_by_second = second.pending()
    assert seen_by_second  # the second worker considers it ready too
    assert len(first.run_once()) == 1
    monkeypatch.setattr(second, "pending", lambda: seen_by_second)
    assert second.run_once() == []
    assert applied == ["users_acme_20260115.csv"]
