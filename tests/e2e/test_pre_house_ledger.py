"""A ledger written before the house restructure (issue 12) still verifies and grows with today's code.

``tests/data/pre_house_ledger/`` is the data directory that ``ledger demo`` then ``ledger seal`` wrote on
commit 10b1179 (the last commit before the restructure): 9 entries (a partner, documents, two claims, a
member with sealed personal data, an enrollment) and one signed checkpoint. Its files are never modified:
each test works on a copy.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest

from adapters.opening import open_ledger
from ledger_core.shared.vocabulary import ClaimStatus

WRITTEN_BEFORE = Path(__file__).parents[1] / "data" / "pre_house_ledger"
HEAD_LEAF_HASH = "a2e8746e14c3d7caa97b0d7395e5c433a17855e3ec707f71a1bb7ce57536e0e6"
VERIFIED_CLAIM = UUID("52dc8121-a973-5ae6-a500-f7a60440fb8f")
SUBMITTED_CLAIM = UUID("6fc69e41-26f8-570d-884d-64b8f16e79db")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the old ledger, its tree migrated from node rows to tiles by ``ledger migrate``."""
    copy = tmp_path / "data"
    shutil.copytree(WRITTEN_BEFORE, copy)
    migrated = ledger("migrate", copy)
    assert (migrated["tiles"], migrated["size"], migrated["checkpoints"]) == ("migrated", 9, 1)
    return copy


def ledger(command: str, data_dir: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "api", command, "--data-dir", str(data_dir)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def verify(data_dir: Path) -> dict[str, object]:
    return ledger("verify", data_dir)


def test_ledger_verify_passes_on_a_ledger_written_before_the_change(data_dir: Path) -> None:
    """After ``ledger migrate``, the chain, every tile and the checkpoint signed by the old code check out."""
    report = verify(data_dir)
    assert report["intact"] is True
    assert report["size"] == 9
    assert report["headLeafHash"] == HEAD_LEAF_HASH
    assert report["tree"] == {
        "checkpoints": 1,
        "integratedSize": 9,
        "latestCheckpoint": 9,
        "nodes": 16,  # 9 leaves and 7 nodes above them, from the tiles
        "signaturesChecked": True,
    }


def test_verify_before_migrating_names_the_command(tmp_path: Path) -> None:
    """An old ledger not migrated yet: ``ledger verify`` says to run ``ledger migrate`` (nothing is changed)."""
    copy = tmp_path / "data"
    shutil.copytree(WRITTEN_BEFORE, copy)
    command = [sys.executable, "-m", "api", "verify", "--data-dir", str(copy)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "MIGRATION_NEEDED" in done.stderr
    assert "ledger migrate" in done.stderr


def test_migrating_twice_changes_nothing(data_dir: Path) -> None:
    """A second ``ledger migrate`` finds no node rows left and reports the tiles as they are."""
    again = ledger("migrate", data_dir)
    assert (again["tiles"], again["size"], again["checkpoints"]) == ("already", 9, 0)
    assert verify(data_dir)["intact"] is True


def test_todays_code_reads_and_extends_the_old_ledger(data_dir: Path) -> None:
    """The old entries decode into today's aggregates, and a new command chains onto the old head."""
    ledger = open_ledger(data_dir)
    try:
        assert ledger.claims.get(VERIFIED_CLAIM).status is ClaimStatus.VERIFIED
        assert ledger.claims.get(SUBMITTED_CLAIM).status is ClaimStatus.SUBMITTED
        changed = ledger.claims.change_status(SUBMITTED_CLAIM, "verified", "checked after the restructure")
        assert tuple(changed.positions) == (9,)
    finally:
        ledger.close()
    report = verify(data_dir)
    assert report["intact"] is True
    assert report["size"] == 10
