"""``ledger batch run|status`` as an operator runs them (the console script), both backends; the crash test.

The crash test SIGKILLs ``ledger batch run`` 10 times at random points mid-file (each after a random number of
new log entries), then lets it finish: every claim is in the log exactly once, the results file lists every line as
imported, and ``ledger verify`` finds the log intact. The runs prepare their lines in a batch worker process
(``--workers 1``), and no worker outlives its killed run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.processes import marked_processes

LEDGER = shutil.which("ledger", path=str(Path(sys.executable).parent)) or shutil.which("ledger")
P = "acme"


def ledger(*args: str) -> subprocess.CompletedProcess[str]:
    assert LEDGER is not None, "the ledger console script is installed with the package"
    return subprocess.run([LEDGER, *args], capture_output=True, text=True, check=False)


@pytest.fixture
def where(database_url: str, tmp_path: Path) -> list[str]:
    location = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    assert ledger("init", *location).returncode == 0
    created = ledger("partners", "create", "Acme", "--partner-id", P, *location)
    assert created.returncode == 0, created.stderr
    return location


def claims_file(directory: Path, name: str, count: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        {
            "partnerClaimId": f"K-{i:06d}",
            "claimType": "property",
            "claimAmount": f"{1000 + i}.00",
            "currency": "USD",
            "submittedAt": "2025-03-01T09:00:00Z",
            "documents": [],
            "verificationLevel": "enhanced",
        }
        for i in range(count)
    ]
    path = directory / name
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def log_size(database: Path) -> int:
    """Entries in the SQLite log, read beside the running process (WAL: readers never block the writer)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
        (size,) = connection.execute("SELECT count(*) FROM ledger_log").fetchone()
    connection.close()
    return int(size)


def results(path: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, *lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    return header, lines


def test_run_status_and_a_rejected_file(where: list[str], tmp_path: Path) -> None:
    path = claims_file(tmp_path / "in", f"claims_{P}_20260201.jsonl", 30)
    ran = ledger("batch", "run", str(path), "--out", str(tmp_path / "out"), *where)
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert (summary["status"], summary["lines"], summary["counts"]) == ("completed", 30, {"imported": 30})
    header, lines = results(summary["results"])
    assert header["treeSize"] >= 30
    assert all(line["proof"]["treeSize"] == header["treeSize"] for line in lines)

    broken = tmp_path / "in" / f"claims_{P}_20260202.csv"
    broken.write_text("partnerClaimId,claimType\nX,auto\n")
    rejected = ledger("batch", "run", str(broken), "--out", str(tmp_path / "out"), *where)
    assert rejected.returncode == 2
    assert json.loads(rejected.stdout)["rejection"] == "header_mismatch"

    shown = ledger("batch", "status", P, *where)
    assert shown.returncode == 0, shown.stderr
    files = json.loads(shown.stdout)["files"]
    assert [(f["file_name"], f["status"]) for f in files] == [
        (broken.name, "rejected"),
        (path.name, "completed"),
    ]
    bad_name = ledger("batch", "run", str(claims_file(tmp_path / "in", "claims.jsonl", 1)), *where)
    assert bad_name.returncode == 2
    assert "file name" in bad_name.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sigkill_mid_file_loses_and_doubles_nothing(where: list[str], tmp_path: Path) -> None:
    count = 1000
    path = claims_file(tmp_path / "in", f"claims_{P}_20260203.jsonl", count)
    command = [
        LEDGER or "ledger",
        "batch",
        "run",
        str(path),
        "--out",
        str(tmp_path / "out"),
        "--chunk-lines",
        "7",
        *where,
    ]
    database = tmp_path / "ledger.db"  # the sqlite database_url of tests/conftest.py
    rng = random.Random(20260203)
    mark = f"batch-crash-{os.getpid()}"
    env = {**os.environ, "LEDGER_BATCH_WORKERS": "1", "LEDGER_TEST_MARK": mark}
    workers_seen = False
    for _ in range(10):  # each kill lands mid-file: after a random number of new log entries, before the end
        start = log_size(database)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        target = start + rng.randint(1, 40)
        while log_size(database) < target:
            assert process.poll() is None, "the run ended before the kill: make the file longer"
            time.sleep(0.005)
        workers_seen |= len(marked_processes(mark)) > 1  # the run and its batch worker
        process.send_signal(signal.SIGKILL)
        process.wait()
        status = json.loads(ledger("batch", "status", P, *where).stdout)["files"][0]
        assert status["status"] == "loading"
    assert workers_seen, "no run prepared its lines in a worker process"
    deadline = time.monotonic() + 10
    while marked_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked_processes(mark) == [], "a batch worker outlived its killed run"
    final = ledger(*command[1:])
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout)
    assert summary["counts"] == {"imported": count}
    _, lines = results(summary["results"])
    assert [line["line"] for line in lines] == list(range(1, count + 1))
    assert {line["outcome"] for line in lines} == {"imported"}

    log = ledger("log", "tail", "-n", "100000", *where)
    assert log.returncode == 0, log.stderr
    submitted = Counter(
        entry["aggregate"]["id"]
        for entry in map(json.loads, log.stdout.splitlines())
        if entry["type"] == "claim.submitted"
    )
    assert len(submitted) == count
    assert set(submitted.values()) == {1}
    verify = ledger("verify", *where)
    assert verify.returncode == 0, verify.stderr
