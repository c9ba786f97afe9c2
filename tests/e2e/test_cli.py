"""The ``ledger`` command line end to end, as a user runs it (subprocess), on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def ledger(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def where(database_url: str, tmp_path: Path) -> list[str]:
    """The storage options every command takes."""
    return ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]


def test_init_demo_verify_tail_stats(where: list[str]) -> None:
    """init creates the store, demo writes a real flow, verify says intact, tail and stats read it."""
    init = ledger("init", *where)
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout)["size"] == 0

    demo = ledger("demo", *where)
    assert demo.returncode == 0, demo.stderr
    summary = json.loads(demo.stdout)
    assert summary["log"]["intact"] is True
    assert "secret" in summary["apiKey"]

    again = ledger("demo", *where)  # repeatable on the same store; the partner already exists
    assert again.returncode == 0, again.stderr
    assert "apiKey" not in json.loads(again.stdout)

    verify = ledger("verify", *where)
    assert verify.returncode == 0, verify.stderr
    report = json.loads(verify.stdout)
    assert report["intact"] is True
    assert report["size"] == json.loads(again.stdout)["log"]["size"]

    tail = ledger("log", "tail", "-n", "3", *where)
    assert tail.returncode == 0, tail.stderr
    lines = [json.loads(line) for line in tail.stdout.splitlines()]
    assert [line["position"] for line in lines] == [report["size"] - 3, report["size"] - 2, report["size"] - 1]
    assert all(line["prev"] and len(line["prev"]) == 64 for line in lines)

    stats = ledger("stats", *where)
    assert stats.returncode == 0, stats.stderr
    counts = json.loads(stats.stdout)
    assert counts["size"] == report["size"]
    assert counts["aggregatesByType"]["Claim"] == 4
    assert counts["eventsByType"]["partner.registered"] == 1


def test_personal_data_never_reaches_the_log(where: list[str]) -> None:
    """The demo's member email and names appear in no log entry (sealed or committed only)."""
    assert ledger("init", *where).returncode == 0
    assert ledger("demo", *where).returncode == 0
    tail = ledger("log", "tail", "-n", "1000", *where)
    assert tail.returncode == 0
    for plaintext in ("jane.smith@example.com", "Jane", "Smith", "1985-09-20"):
        assert plaintext not in tail.stdout


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    """An unsupported URL exits 2 with the VALIDATION_ERROR code, not a traceback."""
    result = ledger("verify", "--data-dir", str(tmp_path), "--database-url", "mysql://nope")
    assert result.returncode == 2
    assert "VALIDATION_ERROR" in result.stderr
    assert "Traceback" not in result.stderr
