"""Crash safety of the eligibility feed: a real ``ledger feeds load`` process SIGKILLed at random points (at
least 10 times), restarted each time, ends with the same ledger as one uninterrupted run: the same entries
(types and non-personal payloads, in order), the same members (their personal fields opened), the same
outcome counters with no open change, the same report, and ``ledger verify`` intact."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from support.databases import execute, fresh_database
from support.feeds import member_row, write_csv_file
from support.processes import marked_processes

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.members.feeds.use_cases import Feeds

P = "acme"
KILLS = 10
ROWS = 3000
_PERSONAL = ("personal", "fingerprints")


def run(log: Path, *args: str, workers: int = 0, mark: str = "") -> subprocess.Popen[bytes]:
    """Start ``ledger ARGS`` with its standard error appended to ``log``, ``workers`` preparation processes
    for the file's rows, and ``mark`` in the environment of it and its children."""
    env = {
        **os.environ,
        "LEDGER_FEEDS_BATCH_SIZE": "20",
        "LEDGER_FEEDS_WORKERS": str(workers),
        "LEDGER_TEST_MARK": mark,
    }
    with log.open("ab") as errors:
        return subprocess.Popen([sys.executable, "-m", "api", *args], stdout=subprocess.DEVNULL, stderr=errors, env=env)


def loaded_batches(url: str) -> int:
    """Batches of the file in the log so far (0 when the database does not exist yet)."""
    try:
        return int(
            execute(url, "SELECT COUNT(*) FROM ledger_log WHERE topic = ?", ["eligibilityfile.batch_loaded"])[0][0]
        )
    except (sqlite3.Error, psycopg.Error):
        return 0


def completed(url: str) -> bool:
    return bool(execute(url, "SELECT COUNT(*) FROM ledger_log WHERE topic = ?", ["eligibilityfile.completed"])[0][0])


def load_args(file: Path, out: Path, data_dir: Path, url: str) -> list[str]:
    return ["feeds", "load", P, str(file), "--out", str(out), "--data-dir", str(data_dir), "--database-url", url]


def snapshot(data_dir: Path, url: str) -> dict[str, Any]:
    """Everything that must match: entries without ciphertexts, opened members, counters, open changes."""
    with open_ledger(StorageConfig(data_dir, url)) as ledger:
        entries = []
        for envelope in ledger.entries():
            payload = {k: v for k, v in envelope.payload.items() if k not in _PERSONAL}
            entries.append((envelope.type, envelope.aggregate_id, envelope.aggregate_version, orjson.dumps(payload)))
        pmids = sorted(
            str(envelope.payload["partner_member_id"])
            for envelope in ledger.entries()
            if envelope.type == "member.registered"
        )
        members = {pmid: ledger.members.reveal(P, pmid) for pmid in pmids}
        store = ledger.outcomes.store
        assert isinstance(ledger.feeds, Feeds)
        day = date.fromisoformat(next(ledger.entries(0, 1)).recorded_at[:10])
        counters = store.period_sums(P, day, day)
        return {"entries": entries, "members": members, "counters": counters, "open": store.open_changes()}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_sigkill_mid_file_then_restart_equals_an_uninterrupted_run(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """>= 10 SIGKILLs at random points, restart after each: the result is the uninterrupted run's. The
    uninterrupted run prepares its rows in its own process, the killed ones in a worker process (which dies
    with the process it serves: none is left behind)."""
    server = request.getfixturevalue("postgres_server") if kind == "postgresql" else None
    rows = [member_row(i) for i in range(ROWS)]
    for index in range(0, ROWS, 97):
        rows[index] = member_row(index, state="XX")
    rows.extend(member_row(i, email=f"later.{i}@example.org") for i in range(5, 60, 11))  # duplicates: last wins
    file = write_csv_file(tmp_path / "in", f"eligibility_{P}_20260115.csv", rows)
    with fresh_database(kind, server) as reference_url, fresh_database(kind, server) as crashed_url:
        reference_dir, crashed_dir = tmp_path / "reference", tmp_path / "crashed"
        log = tmp_path / "stderr.log"
        for data_dir, url in ((reference_dir, reference_url), (crashed_dir, crashed_url)):  # only init creates
            assert run(log, "init", "--data-dir", str(data_dir), "--database-url", url).wait(timeout=120) == 0
        reference = run(log, *load_args(file, tmp_path / "out-reference", reference_dir, reference_url))
        assert reference.wait(timeout=600) == 0, log.read_text()

        mark, workers_seen = f"crash-{os.getpid()}-{kind}", False
        rng = random.Random(20260115)
        kills = 0  # SIGKILLs that landed mid-file: after 1-3 more batches, at a random moment of the next
        while kills < KILLS:
            target = loaded_batches(crashed_url) + rng.randint(1, 3)
            args = load_args(file, tmp_path / "out-crashed", crashed_dir, crashed_url)
            process = run(log, *args, workers=1, mark=mark)
            while process.poll() is None and loaded_batches(crashed_url) < target:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.02))  # a random moment within the next batch or two
            if process.poll() is not None:
                assert process.returncode == 0, log.read_text()
                break  # finished on its own: the remaining kills cannot land mid-file any more
            workers_seen |= len(marked_processes(mark)) > 1
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 0 if completed(crashed_url) else 1
        final = run(log, *load_args(file, tmp_path / "out-crashed", crashed_dir, crashed_url), workers=1, mark=mark)
        assert final.wait(timeout=600) == 0, log.read_text()
        assert kills >= KILLS
        assert workers_seen  # the killed loads did prepare in a worker process
        deadline = time.monotonic() + 10
        while marked_processes(mark) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marked_processes(mark) == []

        expected, actual = snapshot(reference_dir, reference_url), snapshot(crashed_dir, crashed_url)
        assert actual["entries"] == expected["entries"]
        assert actual["members"] == expected["members"]
        assert actual["counters"] == expected["counters"]
        assert actual["open"] == expected["open"] == []
        report = f"eligibility_{P}_20260115.report.csv"
        assert (tmp_path / "out-crashed" / report).read_bytes() == (tmp_path / "out-reference" / report).read_bytes()
        verify = subprocess.run(
            [sys.executable, "-m", "api", "verify", "--data-dir", str(crashed_dir), "--database-url", crashed_url],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert orjson.loads(verify.stdout)["intact"] is True
