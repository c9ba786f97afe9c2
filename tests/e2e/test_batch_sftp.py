"""Claims files end to end over SFTP (issue 15, seed 000 §3.2 Pattern B), as an operator and a partner do it.

The real ``ledger`` console script, our SFTP server (``ledger sftp serve``) on loopback, real OpenPGP keys on
both sides: the partner uploads a claims file and a reconciliation file, encrypted to us and signed; ``ledger
feeds run`` processes them; the partner downloads the results file and the reconciliation report over SFTP,
decrypts them, checks our signature, and verifies every proof with the 40-line verifier of docs/proofs.md
against the checkpoint signed with the log's key (``ledger checkpoint vkey``). ``ledger batch status`` shows
both files; ``ledger verify`` finds the log intact.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import asyncssh
import orjson
import pysequoia
import pytest
from support.results_files import check_every_proof, parse_results

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
