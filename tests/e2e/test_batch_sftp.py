"""Claims files end to end over SFTP (issue 15, seed 000 §3.2 Pattern B), as an operator and a partner do it.

The real ``ledger`` console script, our SFTP server (``ledger sftp serve``) on loopback, real OpenPGP keys on
both sides: the partner uploads a claims file and a reconciliation file, encrypted to us and signed; ``ledger
feeds run`` processes them; the partner downloads the results file and the reconciliation report over SFTP,
decrypts them, checks our signature, and verifies every proof with the 40-line verifier of docs/proofs.md
against the checkpoint signed with the log's key (``ledger checkpoint vkey``). ``ledger batch status`` shows
both files; ``ledger verify`` finds the log intact.

The crash test SIGKILLs ``ledger feeds run`` 5 times mid claims file; the file stays in ``processing/`` and the
next run resumes it: every claim in the log once, the results file complete, the log intact.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import asyncssh
import orjson
import pysequoia
import pytest
from support.results_files import check_every_proof, parse_results, read_results

from adapters.feeds.folders import FeedFolders

P = "acme"
DAY = "20260115"


def ledger(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def where(database_url: str, tmp_path: Path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]


def claims(count: int) -> bytes:
    lines = [
        {
            "partnerClaimId": f"E-{i:04d}",
            "claimType": "property",
            "claimAmount": f"{500 + i}.00",
            "currency": "USD",
            "submittedAt": "2025-09-01T08:00:00Z",
            "documents": [],
            "verificationLevel": "enhanced",
        }
        for i in range(count)
    ]
    return (
        b"".join(orjson.dumps(line) + b"\n" for line in lines) + b'{"partnerClaimId": "E-9999", "claimAmount": 1.5}\n'
    )


def test_claims_and_reconciliation_files_over_sftp(where: list[str], tmp_path: Path) -> None:
    init = ledger("init", *where)
    assert init.returncode == 0, init.stderr
    host_key = asyncssh.import_public_key(json.loads(init.stdout)["sftpHostKey"])
    partner_ssh = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "partner_ssh.pub").write_bytes(partner_ssh.export_public_key())
    partner_pgp = pysequoia.Tsk.generate(f"{P} <it@acme.example>")
    (tmp_path / "partner.asc").write_text(str(partner_pgp.extract_certificate()))
    for command in (
        ("partners", "create", "Acme", "--partner-id", P),
        ("feeds", "pgp", "generate"),
        ("feeds", "keys", "add", P, "--ssh-key", str(tmp_path / "partner_ssh.pub")),
        ("feeds", "pgp", "import", P, str(tmp_path / "partner.asc")),
        ("feeds", "pgp", "require-signature", P, "--on"),
    ):
        result = ledger(*command, *where)
        assert result.returncode == 0, (command, result.stderr)
    ours = pysequoia.Cert.from_bytes(ledger("feeds", "pgp", "export", *where).stdout.encode())

    def sealed(data: bytes) -> bytes:
        return pysequoia.encrypt(data, recipients=[ours], signer=partner_pgp.signer(), armor=False)

    reconcile = "partnerClaimId,claimAmount,currency,status\nE-0000,500.00,USD,verified\nE-0001,1.00,USD,verified\n"
    uploads = [
        (f"claims_{P}_{DAY}.jsonl.pgp", sealed(claims(25))),
        (f"reconcile_{P}_{DAY}.csv.pgp", sealed(reconcile.encode())),
    ]
    downloaded: dict[str, bytes] = {}

    async def session(port: int, upload: bool) -> None:
        known: tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]] = ([host_key], [], [])
        async with (
            asyncssh.connect(
                "127.0.0.1", port, username=P, client_keys=[partner_ssh], known_hosts=known, agent_path=None
            ) as conn,
            conn.start_sftp_client() as sftp,
        ):
            if upload:
                for name, data in uploads:
                    async with sftp.open(f"/inbound/{P}/{name}", "wb") as handle:
                        await handle.write(data)
                return
            for name in await sftp.listdir(f"/outbound/{P}"):
                if name.endswith(".pgp"):
                    async with sftp.open(f"/outbound/{P}/{name}", "rb") as handle:
                        data = await handle.read()
                        assert isinstance(data, bytes)
                        downloaded[name.removesuffix(".pgp")] = data

    server = subprocess.Popen(
        [sys.executable, "-m", "api", "sftp", "serve", "--port", "0", *where], stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None
        port = int(json.loads(server.stderr.readline())["sftp"].rsplit(":", 1)[1])
        asyncio.run(session(port, upload=True))
        ran = ledger("feeds", "run", "--partner", P, "--feed", "eligibility", *where)
        assert ran.returncode == 0, ran.stderr
        steps = {step["file"]: step for step in json.loads(ran.stdout) if step["feed"] != "eligibility"}
        assert steps[f"claims_{P}_{DAY}.jsonl"] == {
            "partner_id": P,
            "feed": "claims",
            "action": "processed",
            "file": f"claims_{P}_{DAY}.jsonl",
            "accepted": 25,
            "rejected": 1,
        }
        assert steps[f"reconcile_{P}_{DAY}.csv"]["action"] == "processed"
        asyncio.run(session(port, upload=False))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()

    plain = {}
    for name, data in downloaded.items():
        opened = pysequoia.decrypt(data, decryptor=partner_pgp.decryptor(), store=lambda _ids: [ours])
        assert [str(sig.certificate) for sig in opened.valid_sigs] == [ours.fingerprint]  # signed by us
        plain[name] = (opened.bytes or b"").decode()
    assert sorted(plain) == [f"claims_{P}_{DAY}.results.jsonl", f"reconcile_{P}_{DAY}.report.jsonl"]
    header, lines = parse_results(plain[f"claims_{P}_{DAY}.results.jsonl"])
    assert (header["status"], header["counts"]) == ("completed", {"imported": 25, "invalid": 1})
    vkey = ledger("checkpoint", "vkey", *where)
    assert vkey.returncode == 0, vkey.stderr
    assert check_every_proof(header, lines, vkey.stdout.strip()) == 25
    report, findings = parse_results(plain[f"reconcile_{P}_{DAY}.report.jsonl"])
    assert report["counts"]["unknown_to_partner"] == 23
    mismatch = {f["partnerClaimId"]: f["fields"] for f in findings if f["outcome"] == "mismatch"}
    assert "claimAmount" in mismatch["E-0001"]

    status = ledger("batch", "status", P, *where)
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["waiting"] == []  # nothing arrived and unfinished: no deadline pending
    files = {file["file_name"]: file for file in shown["files"]}
    assert files[f"claims_{P}_{DAY}.jsonl"]["status"] == "completed"
    assert files[f"claims_{P}_{DAY}.jsonl"]["counts"] == {"imported": 25, "invalid": 1}
    assert files[f"reconcile_{P}_{DAY}.csv"]["status"] == "completed"
    root = tmp_path / "data" / "feeds" / "root"
    receipts = sorted(p.name for p in (root / "processed" / P).iterdir())
    assert receipts == sorted(f"{name}.json" for name, _ in uploads)
    verify = ledger("verify", *where)
    assert verify.returncode == 0, verify.stdout


def log_size(database: Path) -> int:
    """Entries in the SQLite log, read beside the running process (WAL: readers never block the writer)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
        (size,) = connection.execute("SELECT count(*) FROM ledger_log").fetchone()
    connection.close()
    return int(size)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_worker_killed_mid_file_resumes_it(where: list[str], tmp_path: Path) -> None:
    assert ledger("init", *where).returncode == 0
    assert ledger("partners", "create", "Acme", "--partner-id", P, *where).returncode == 0
    count, name = 300, f"claims_{P}_20260116.jsonl"
    folders = FeedFolders(tmp_path / "data" / "feeds" / "root")
    folders.ensure(P)
    folders.inbound(P).joinpath(name).write_bytes(claims(count))  # as a transport leaves it: file, then marker
    folders.mark_ready(P, name)
    command = [sys.executable, "-m", "api", "feeds", "run", "--partner", P, "--feed", "eligibility", *where]
    environment = {**os.environ, "LEDGER_BATCH_CHUNK_LINES": "7"}
    database = tmp_path / "ledger.db"  # the sqlite database_url of tests/conftest.py
    rng = random.Random(20260116)
    for _ in range(5):  # each kill lands mid-file: after a random number of new log entries, before the end
        start = log_size(database)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment)
        target = start + rng.randint(1, 40)
        while log_size(database) < target:
            assert process.poll() is None, "the run ended before the kill: make the file longer"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert [path.name for path in folders.in_processing(P)] == [name]  # taken, not finished
    final = subprocess.run(command, capture_output=True, text=True, check=False, env=environment)
    assert final.returncode == 0, final.stderr
    (step,) = [step for step in json.loads(final.stdout) if step["feed"] == "claims"]
    assert (step["action"], step["accepted"], step["rejected"]) == ("processed", count, 1)
    header, lines = read_results(folders.outbound(P) / f"claims_{P}_20260116.results.jsonl")
    assert header["counts"] == {"imported": count, "invalid": 1}
    assert [line["line"] for line in lines] == list(range(1, count + 2))
    vkey = ledger("checkpoint", "vkey", *where).stdout.strip()
    assert check_every_proof(header, lines, vkey) == count
    log = ledger("log", "tail", "-n", "100000", *where)
    assert log.returncode == 0, log.stderr
    submitted = Counter(
        entry["aggregate"]["id"]
        for entry in map(json.loads, log.stdout.splitlines())
        if entry["type"] == "claim.submitted"
    )
    assert len(submitted) == count
    assert set(submitted.values()) == {1}
    assert folders.in_processing(P) == []
    verify = ledger("verify", *where)
    assert verify.returncode == 0, verify.stdout
