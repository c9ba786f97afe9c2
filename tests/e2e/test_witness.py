"""Witness cosigning end to end (issue 18, item 10; c2sp.org/tlog-witness, tlog-cosignature).

A real witness process (``ledger witness serve`` on loopback, its own key and state) cosigns a real
log's checkpoints: the server's embedded sealer (``LEDGER_WITNESSES``) and ``ledger sealer
--witnesses`` submit each new checkpoint with its consistency proof, and the checkpoints are then
served with the cosignature appended (HTTP and ``ledger checkpoint show``); ``ledger audit verify
--witness`` requires it. A forked copy of the ledger (same key, other entries: two different
checkpoints of one size) and a rollback are refused by the witness (409 / 400 / 422), and detected by
the CLI's and the SDK's checkpoint state.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.http_server import live_server

from adapters.opening import open_ledger
from adapters.storage import StorageConfig, open_tree_store
from api.client.ledger_client import LedgerClient
from proofs.client_state import StateMismatch
from proofs.cosignature import CosignatureMissing, generate_cosigner, parse_cosigner_vkey, verify_cosignatures
from proofs.prove import consistency_proof
from proofs.witness_protocol import SIZE_CONTENT_TYPE, format_add_checkpoint

LEDGER = str(Path(sys.executable).parent / "ledger")
WITNESS_NAME = "witness.test/w1"
WAIT = 60.0  # seconds a background process may take to report (a bound on waiting, not a timing assertion)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}


def ledger(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEDGER, *args], capture_output=True, text=True, check=False, cwd=cwd, env=_env(), timeout=120
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


class Running:
    """A ``ledger`` subprocess whose stdout JSON lines are read in a thread."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [LEDGER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=_env()
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                continue

    def wait_for(self, matches: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                event = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    stderr = self.process.stderr.read() if self.process.stderr else ""
                    raise AssertionError(f"process exited {self.process.returncode}: {stderr}") from None
                continue
            self.seen.append(event)
            if matches(event):
                return event
        raise AssertionError(f"no matching event within {WAIT}s; seen {self.seen}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def running(args: list[str], cwd: Path) -> Iterator[Running]:
    process = Running(args, cwd)
    try:
        yield process
    finally:
        process.stop()


@contextmanager
def witness(tmp_path: Path, log_vkey: str) -> Iterator[tuple[str, str]]:
    """A witness process trusting ``log_vkey``: (its URL, its verifier key)."""
    key = tmp_path / "witness.key"
    if not key.exists():
        _ok(ledger("witness", "init", "--name", WITNESS_NAME, "--key", str(key), cwd=tmp_path))
    args = ["witness", "serve", "--key", str(key), "--state-dir", str(tmp_path / "witness-state")]
    with running([*args, "--log", log_vkey, "--port", "0"], tmp_path) as process:
        started = process.wait_for(lambda event: event.get("event") == "listening")
        yield started["url"], started["vkey"]


def _ledger_with_entries(tmp_path: Path, name: str, database_url: str | None = None) -> list[str]:
    where = ["--data-dir", str(tmp_path / name)] + ([] if database_url is None else ["--database-url", database_url])
    _ok(ledger("init", *where, cwd=tmp_path))
    _ok(ledger("demo", *where, cwd=tmp_path))
    return where


def _fork(tmp_path: Path, source: str, name: str) -> list[str]:
    """Another ledger signed by the same key (a forked copy: same origin, other entries)."""
    (tmp_path / name).mkdir()
    for file in ("checkpoint.key", "master.key"):
        (tmp_path / name / file).write_bytes((tmp_path / source / file).read_bytes())
    return _ledger_with_entries(tmp_path, name)


def _sealed_with_witness(where: list[str], url: str, vkey: str, cwd: Path) -> str:
    """Run ``ledger sealer --witnesses`` until the newest checkpoint is cosigned; that checkpoint's note."""
    with running(["sealer", *where, "--witnesses", f"{url} {vkey}", "--interval-ms", "0"], cwd) as sealer:
        sealer.wait_for(lambda event: event.get("event") == "cosigned")
    return _ok(ledger("checkpoint", "show", *where, cwd=cwd))


def test_a_witness_cosigns_the_checkpoints_served_over_http(database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    where = _ledger_with_entries(tmp_path, "data", database_url)
    log_vkey = _ok(ledger("checkpoint", "vkey", *where, cwd=tmp_path)).strip()
    with witness(tmp_path, log_vkey) as (url, witness_vkey):
        with live_server(data_dir, database_url, extra_env={"LEDGER_WITNESSES": f"{url} {witness_vkey}"}) as server:
            client = server.client(server.create_partner("auditor"), vkey=log_vkey)
            with open_ledger(StorageConfig(data_dir, database_url)) as opened:
                log_size = opened.app.log_size()  # nothing writes after this: the client only reads
            note = _cosigned_checkpoint(client, witness_vkey, log_size)
            size = int(note.splitlines()[1])
            assert client.checkpoint(size) == note  # every checkpoint route serves the cosignatures
        assert _ok(ledger("checkpoint", "show", *where, cwd=tmp_path)) == note

        bundle = tmp_path / "bundle.json"
        _ok(ledger("export", *where, "--partner", "demo_partner", "--out", str(bundle), cwd=tmp_path))
        verified = json.loads(
            _ok(ledger("audit", "verify", str(bundle), "--vkey", log_vkey, "--witness", witness_vkey, cwd=tmp_path))
        )
        assert [w["name"] for w in verified["witnesses"]] == [WITNESS_NAME]
        stranger = generate_cosigner(WITNESS_NAME).verifier().vkey
        refused = ledger("audit", "verify", str(bundle), "--vkey", log_vkey, "--witness", stranger, cwd=tmp_path)
        assert refused.returncode == 1
        assert refused.stderr.startswith("PROOF_INVALID: witness witness.test/w1")


def _cosigned_checkpoint(client: LedgerClient, witness_vkey: str, log_size: int) -> str:
    """The latest checkpoint once it covers ``log_size`` entries and carries the witness's cosignature.

    Waiting for the size too matters: the partner created just before is sealed by a later checkpoint,
    and a cosigned checkpoint of the log before it would be superseded while the test reads it.
    """
    verifier = parse_cosigner_vkey(witness_vkey)
    deadline = time.monotonic() + WAIT
    while True:
        note = client.checkpoint()
        try:
            size = int(note.splitlines()[1])
            if size < log_size:
                raise CosignatureMissing(WITNESS_NAME, f"checkpoint of {size} entries, log has {log_size}")
            verify_cosignatures(note, [verifier])
            return note
        except CosignatureMissing:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_split_view_and_rollback_are_refused_by_the_witness_and_detected_by_cli(tmp_path: Path) -> None:
    main = _ledger_with_entries(tmp_path, "main")
    fork = _fork(tmp_path, "main", "fork")
    log_vkey = _ok(ledger("checkpoint", "vkey", *main, cwd=tmp_path)).strip()
    with witness(tmp_path, log_vkey) as (url, witness_vkey):
        first = _sealed_with_witness(main, url, witness_vkey, tmp_path)
        size = int(first.splitlines()[1])

        # The fork: the same key signs another tree of the same size. The witness refuses it (409).
        _ok(ledger("seal", *fork, cwd=tmp_path))
        forked = _ok(ledger("checkpoint", "show", *fork, cwd=tmp_path))
        assert int(forked.splitlines()[1]) == size
        assert forked.splitlines()[2] != first.splitlines()[2]
        split = httpx.post(f"{url}/add-checkpoint", content=format_add_checkpoint(size, [], forked))
        assert split.status_code == 409
        assert split.headers["content-type"].startswith(SIZE_CONTENT_TYPE)
        assert split.text == f"{size}\n"
        # ... and its sealer gets no cosignature: the witness-error is logged, sealing goes on.
        with running(["sealer", *fork, "--witnesses", f"{url} {witness_vkey}"], tmp_path) as sealer:
            error = sealer.wait_for(lambda event: event.get("event") == "witness-error")
        assert "409" in error["error"]
        with pytest.raises(CosignatureMissing):
            verify_cosignatures(
                _ok(ledger("checkpoint", "show", *fork, cwd=tmp_path)), [parse_cosigner_vkey(witness_vkey)]
            )

        # The log grows; the witness follows (consistency proof from its size), then refuses a rollback.
        _ok(ledger("demo", *main, cwd=tmp_path))
        second = _sealed_with_witness(main, url, witness_vkey, tmp_path)
        newer = int(second.splitlines()[1])
        assert newer > size
        back = httpx.post(f"{url}/add-checkpoint", content=format_add_checkpoint(size, [], first))
        assert (back.status_code, back.text) == (409, f"{newer}\n")
        below = httpx.post(f"{url}/add-checkpoint", content=format_add_checkpoint(newer, [], first))
        assert below.status_code == 400

        # The fork extended past the witness's size: its consistency proof from the witness's tree fails (422).
        for _ in range(3):
            _ok(ledger("demo", *fork, cwd=tmp_path))
        _ok(ledger("seal", *fork, cwd=tmp_path))
        far = _ok(ledger("checkpoint", "show", *fork, cwd=tmp_path))
        far_size = int(far.splitlines()[1])
        assert far_size > newer
        store = open_tree_store(StorageConfig(tmp_path / "fork"))
        try:
            proof = consistency_proof(newer, far_size, store.fetch_nodes)
        finally:
            store.close()
        inconsistent = httpx.post(f"{url}/add-checkpoint", content=format_add_checkpoint(newer, proof, far))
        assert inconsistent.status_code == 422

    # The CLI's checkpoint state: the main log's checkpoint remembered, the fork's of the same size refused.
    state = tmp_path / "auditor-state.json"
    for name, where in (("main", main), ("fork", fork)):
        _ok(
            ledger(
                "proof",
                "inclusion",
                "0",
                "--out",
                str(tmp_path / f"{name}.json"),
                *where,
                "--size",
                str(size),
                cwd=tmp_path,
            )
        )
    _ok(ledger("proof", "verify", str(tmp_path / "main.json"), "--vkey", log_vkey, "--state", str(state), cwd=tmp_path))
    seen = ledger(
        "proof", "verify", str(tmp_path / "fork.json"), "--vkey", log_vkey, "--state", str(state), cwd=tmp_path
    )
    assert seen.returncode == 1
    assert "split view" in seen.stderr


def test_the_sdk_detects_a_split_view_between_two_servers(tmp_path: Path) -> None:
    """A partner's SDK remembers the checkpoint it verified on one server; a fork's of the same size fails."""
    main = _ledger_with_entries(tmp_path, "main")
    fork = _fork(tmp_path, "main", "fork")
    for where in (main, fork):
        _ok(ledger("seal", *where, cwd=tmp_path))
    log_vkey = _ok(ledger("checkpoint", "vkey", *main, cwd=tmp_path)).strip()
    state = tmp_path / "sdk-state.json"
    with live_server(tmp_path / "main") as honest, live_server(tmp_path / "fork") as forked:
        with honest.client(honest.create_partner("auditor"), vkey=log_vkey, state=state) as client:
            remembered = client.checkpoint()
        with (
            forked.client(forked.create_partner("auditor"), vkey=log_vkey, state=state) as client,
            pytest.raises(StateMismatch, match="split view"),
        ):
            client.checkpoint()
    assert remembered.splitlines()[1] == _ok(ledger("checkpoint", "show", *fork, cwd=tmp_path)).splitlines()[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_witness_never_blocks_sealing_and_is_retried(tmp_path: Path) -> None:
    """The witness is down when the sealer seals: the seal happens, the failure is logged and retried,
    and the checkpoint is cosigned once the witness is up."""
    where = _ledger_with_entries(tmp_path, "data")
    log_vkey = _ok(ledger("checkpoint", "vkey", *where, cwd=tmp_path)).strip()
    key = tmp_path / "witness.key"
    witness_vkey = _ok(ledger("witness", "init", "--name", WITNESS_NAME, "--key", str(key), cwd=tmp_path)).strip()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with running(["sealer", *where, "--witnesses", f"{url} {witness_vkey}", "--interval-ms", "0"], tmp_path) as sealer:
        sealed = sealer.wait_for(lambda event: event.get("event") == "sealed")
        failed = sealer.wait_for(lambda event: event.get("event") == "witness-error")
        assert failed["witness"] == url
        args = ["witness", "serve", "--key", str(key), "--state-dir", str(tmp_path / "state"), "--log", log_vkey]
        with running([*args, "--port", str(port)], tmp_path) as witness_process:
            witness_process.wait_for(lambda event: event.get("event") == "listening")
            cosigned = sealer.wait_for(lambda event: event.get("event") == "cosigned")
    assert cosigned["size"] == sealed["size"]
    note = _ok(ledger("checkpoint", "show", *where, cwd=tmp_path))
    (found,) = verify_cosignatures(note, [parse_cosigner_vkey(witness_vkey)])
    assert found.witness == WITNESS_NAME
    _ok(ledger("verify", *where, cwd=tmp_path))  # cosigned checkpoints still verify (unknown lines ignored)
