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
    copy = tmp_path / "data"
    shutil.copytree(WRITTEN_BEFORE, copy)
    return copy


def verify(data_dir: Path) -> dict[str, object]:
    command = [sys.executable, "-m", "api", "verify", "--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_ledger_verify_passes_on_a_ledger_written_before_the_change(data_dir: Path) -> None:
    """The chain, every stored node and the checkpoint signed by the old code check out."""
    report = verify(data_dir)
    assert report["intact"] is True
    assert report["size"] == 9
    assert report["headLeafHash"] == HEAD_LEAF_HASH
    assert report["tree"] == {
        "checkpoints": 1,
        "integratedSize": 9,
        "latestCheckpoint": 9,
        "nodes": 7,
        "signaturesChecked": True,
    }


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
