"""One writer per ledger (issue 13, item 1): API workers hand their saves to ``ledger writer`` over a Unix
socket; SIGKILL the leading writer under load and the standby takes over.

Topology on PostgreSQL: two ``ledger writer`` processes on one socket path (the leader elected by the
advisory lock, the other standing by), ``ledger serve --no-embedded-sealer`` with
``LEDGER_WRITER_SOCKET`` and Redis. Four threads submit signed claims; after some are acknowledged the
leader is SIGKILLed; the load goes on until claims are acknowledged through the standby. Then: every
acknowledged (2xx) claim is in the log with an inclusion proof that verifies offline against the vkey,
the standby led and sealed, and ``ledger verify`` passes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.databases import fresh_database
from support.http_server import claim_body, live_server, server_env

from adapters.opening import verifier_key
from api.client.ledger_client import LedgerApiError, LedgerClient

ROOT = Path(__file__).resolve().parents[2]


class Writer:
    """A ``ledger writer`` subprocess whose JSON-line events are read from a file."""

    def __init__(self, name: str, logs: Path, env: dict[str, str]) -> None:
        self.name = name
        self.out = logs / f"writer-{name}.out"
        with self.out.open("w") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli.writer", "writer", "--poll-seconds", "0.05"],
                stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            )  # fmt: skip

    def events(self) -> list[dict[str, Any]]:
        lines = self.out.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def has(self, name: str, role: str = "writer") -> bool:
        return any(event.get("event") == name and event.get("role") == role for event in self.events())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


@dataclass
class Load:
    """Signed claims from ``threads`` clients until stopped; the claim ids answered 2xx."""

    clients: list[LedgerClient]
    acknowledged: set[str] = field(default_factory=set)
    failed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, client: LedgerClient) -> None:
        while not self.stop.is_set():
            try:
                result = client.submit_claim(claim_body(f"CLM-WRITER-{uuid.uuid4().hex}"))
            except (LedgerApiError, httpx.HTTPError):
                with self.lock:
                    self.failed += 1  # not acknowledged: not counted
                continue
            with self.lock:
                self.acknowledged.add(result.claim_id)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


@pytest.fixture
def database(postgres_server: str) -> Iterator[str]:
    with fresh_database("postgresql", postgres_server) as url:
        yield url


def test_sigkill_writer_under_load_standby_takes_over(tmp_path: Path, database: str, redis_server: str) -> None:
    data_dir = tmp_path / "data"
    socket_path = str(tmp_path / "writer.sock")
    extra = {
        "LEDGER_REDIS_URL": redis_server,
        "LEDGER_REDIS_PREFIX": f"test:{uuid.uuid4().hex[:12]}:",
        "LEDGER_WRITER_SOCKET": socket_path,
    }
    env = server_env(data_dir, database, extra) | {"PYTHONPATH": str(ROOT)}
    where = ["--data-dir", str(data_dir), "--database-url", database]
    subprocess.run([sys.executable, "-m", "api", "init", *where], env=env, check=True, capture_output=True)
    first = Writer("first", tmp_path, env)
    wait_until(lambda: first.has("leader"), 60, "the first writer leads")
    standby = Writer("standby", tmp_path, env)
    try:
        wait_until(lambda: standby.has("waiting"), 60, "the standby waits")
        # One API worker: a two-worker start (uvicorn spawning) outlasted the 30 s health wait on the loaded host.
        with live_server(data_dir, database, args=["--no-embedded-sealer"], extra_env=extra) as server:
            partner = server.create_partner("acme", tier="enterprise")
            clients = [server.client(partner, timeout=30.0) for _ in range(4)]
            load = Load(clients)
            threads = [threading.Thread(target=load.run, args=(client,), daemon=True) for client in clients]
            for thread in threads:
                thread.start()
            try:
                wait_until(lambda: load.count() >= 20, 120, "20 claims through the first writer")
                first.process.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                first.process.wait(30)
                before = load.count()
                wait_until(lambda: standby.has("leader"), 30, "the standby takes over")
                print(f"standby leads {time.monotonic() - killed_at:.2f} s after the SIGKILL")  # noqa: T201
                wait_until(lambda: load.count() >= before + 20, 120, "20 claims through the standby")
            finally:
                load.stop.set()
                for thread in threads:
                    thread.join(60)
            acknowledged = set(load.acknowledged)
            print(f"{len(acknowledged)} acknowledged, {load.failed} requests failed after retries")  # noqa: T201
            vkey = verifier_key(data_dir)
            reader = clients[0]
            for claim_id in acknowledged:  # 0 acknowledged claims lost: each is in the log, with its proof
                deadline = time.monotonic() + 60
                while (proof := reader.get_claim_proof(claim_id).proof) is None:
                    assert time.monotonic() < deadline, f"claim {claim_id} never got a proof"
                    time.sleep(0.1)
                reader.verify_proof_offline(proof, vkey)
        assert standby.has("sealed", role="sealer"), "the standby seals"
        verified = subprocess.run(
            [sys.executable, "-m", "api", "verify", *where], env=env, capture_output=True, text=True, check=False
        )
        assert verified.returncode == 0, verified.stderr
        report = json.loads(verified.stdout)
        assert report["tree"]["signaturesChecked"] is True
        assert report["tree"]["integratedSize"] >= len(acknowledged)
    finally:
        first.stop()
        standby.stop()
