"""`ledger sealer` as a real process: SIGKILL mid-batch is harmless, SIGTERM is clean, PostgreSQL elects one leader."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.files.signing_key import SIGNING_KEY_FILE, ensure_signing_key
from adapters.ports import ManagedTreeStore
from adapters.storage import StorageConfig, open_tree_store
from ledger_core.engine.tree_verification import verify_tree_and_checkpoints
from proofs import NoteVerifier

ROOT = Path(__file__).resolve().parents[2]


def fill(url: str, start: int, count: int) -> None:
    """Append ``count`` synthetic rows to ``ledger_log`` quickly (the sealer reads only leaf hashes)."""
    rows = []
    for position in range(start, start + count):
        entry = f'{{"synthetic":{position}}}'.encode()
        ident = uuid.UUID(int=position + 1)
        rows.append((position, ident, ident, 1, "t", "acme", "2026-01-01T00:00:00.000000Z", entry,
                     hashlib.sha256(b"\x00" + entry).digest()))  # fmt: skip
    columns = "position, event_id, originator_id, originator_version, topic, partner_id, recorded_at, entry, leaf_hash"
    if url.startswith("sqlite:///"):
        with sqlite3.connect("/" + url.removeprefix("sqlite:///")) as conn:
            conn.executemany(f"INSERT INTO ledger_log ({columns}) VALUES (?,?,?,?,?,?,?,?,?)",
                             [(r[0], str(r[1]), str(r[2]), *r[3:]) for r in rows])  # fmt: skip
        return
    with psycopg.connect(url) as pg, pg.cursor().copy(f"COPY ledger_log ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


class Sealer:
    """A `ledger sealer` subprocess whose JSON-line events are read from a file."""

    def __init__(self, home: Path, url: str, name: str, *options: str) -> None:
        self.out = home / f"{name}.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")} | {"PYTHONPATH": str(ROOT)}
        env["LEDGER_SIGNING_KEY_FILE"] = str(home / SIGNING_KEY_FILE)  # PostgreSQL: the key is named explicitly
        with self.out.open("w") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli.proofs", "sealer", "--data-dir", str(home), "--database-url", url,
                 "--poll-interval", "0.02", *options],
                stdout=handle, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip

    def events(self) -> list[dict[str, Any]]:
        lines = self.out.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def names(self) -> list[str]:
        return [event["event"] for event in self.events()]

    def wait_for(self, check: Callable[[list[str]], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check(self.names()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"sealer output: {self.out.read_text()}")
            time.sleep(0.01)

    def kill(self, sig: int = signal.SIGKILL) -> int:
        self.process.send_signal(sig)
        return self.process.wait(30)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    ensure_signing_key(tmp_path)  # every sealer of the test signs with the same key
    return tmp_path


@pytest.fixture
def tree(database_url: str) -> Iterator[ManagedTreeStore]:
    store = open_tree_store(StorageConfig(Path("unused"), database_url))  # also creates the tables
    yield store
    store.close()


def verifier(home: Path) -> NoteVerifier:
    return ensure_signing_key(home).verifier()


def test_sigkill_mid_batch_then_restart_keeps_every_checkpoint(
    database_url: str, home: Path, tree: ManagedTreeStore
) -> None:
    """Killed while sealing a large backlog: nothing half-written; the restart extends every earlier checkpoint."""
    total = 120_000
    fill(database_url, 0, total)
    first = Sealer(home, database_url, "first", "--max-batch-entries", "30000", "--batch-entries", "1")
    first.wait_for(lambda names: "sealed" in names)
    first.kill()
    sealed_before = {c.size: c for c in tree.checkpoints(0, 100)}
    assert 0 < tree.integrated_size() < total, "the kill should land while the backlog is being sealed"
    verify_tree_and_checkpoints(tree, [verifier(home)])  # no orphan nodes: the killed batch left nothing
    second = Sealer(home, database_url, "second", "--max-batch-entries", "30000")
    second.wait_for(lambda names: names.count("sealed") >= 1 and tree.integrated_size() == total)
    assert second.kill(signal.SIGTERM) == 0
    summary = verify_tree_and_checkpoints(tree, [verifier(home)])  # includes consistency of every pair in order
    assert summary.integrated_size == total
    assert {size: tree.checkpoint_at(size) for size in sealed_before} == sealed_before


def test_sigterm_finishes_cleanly(database_url: str, home: Path, tree: ManagedTreeStore) -> None:
    """SIGTERM: the sealer finishes its round, reports `stopped` and exits 0."""
    sealer = Sealer(home, database_url, "solo", "--interval-ms", "20")
    sealer.wait_for(lambda names: "leader" in names)
    fill(database_url, 0, 500)
    sealer.wait_for(lambda names: "sealed" in names)
    assert sealer.kill(signal.SIGTERM) == 0
    assert sealer.names()[-1] == "stopped"
    assert tree.integrated_size() == 500


def test_two_sealers_on_postgres_one_leads_the_other_takes_over(
    postgres_url: str, home: Path, postgres_server: str
) -> None:
    """Only the lock holder seals; after SIGKILL of the leader the other takes over and continues the tree."""
    tree = open_tree_store(StorageConfig(Path("unused"), postgres_url))
    sealers: list[Sealer] = []
    try:
        a = Sealer(home, postgres_url, "a", "--interval-ms", "20")
        sealers.append(a)
        a.wait_for(lambda names: "leader" in names)
        b = Sealer(home, postgres_url, "b", "--interval-ms", "20")
        sealers.append(b)
        b.wait_for(lambda names: "waiting" in names)
        for round_ in range(3):
            fill(postgres_url, round_ * 100, 100)

            def sealed_this_round(names: list[str], n: int = round_) -> bool:
                return names.count("sealed") > n

            a.wait_for(sealed_this_round)
        assert "sealed" not in b.names()
        with psycopg.connect(postgres_url) as conn:  # this schema's lock only: the server is shared
            holders = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND granted"
                " AND objid = (hashtext(current_schema())::bigint & 4294967295)::text::oid",
                (0x4C454447,),
            ).fetchone()
        assert holders is not None
        assert holders[0] == 1
        a.kill()
        b.wait_for(lambda names: "leader" in names, timeout=30)
        fill(postgres_url, 300, 50)
        b.wait_for(lambda names: "sealed" in names)
        assert b.kill(signal.SIGTERM) == 0
        assert verify_tree_and_checkpoints(tree, [verifier(home)]).integrated_size == 350
    finally:
        for sealer in sealers:  # a failed assertion must not leave a sealer holding the lock
            if sealer.process.poll() is None:
                sealer.kill()
        tree.close()
