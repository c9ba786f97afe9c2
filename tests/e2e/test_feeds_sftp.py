"""Batch feeds end to end with the real ``ledger`` console script, a real SFTP server and real OpenPGP keys.

A partner uploads an eligibility file over SFTP, encrypted to our key and signed with its own; ``ledger
feeds run`` decrypts, verifies and loads it; the report and the enrollment and outcome feeds appear in
the partner's outbound folder, encrypted to the partner and signed by us; the partner downloads and
decrypts them and they match the ledger. A tampered upload is rejected whole with a report.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh
import pysequoia
import pytest

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.members.feeds.outbound import prior_month

PARTNER = "acme_life"
TODAY = datetime.now(UTC).date()
STAMP = f"{TODAY:%Y%m%d}"
YESTERDAY = f"{TODAY - timedelta(days=1):%Y%m%d}"
ELIGIBILITY = (
    b"partner_member_id,email,first_name,last_name,date_of_birth,gender,state,policy_type,policy_start_date\n"
    b"1001,jo.doe@example.com,Jo,Doe,1980-05-15,F,IA,Life,2022-01-01\n"
    b"1002,sam.roe@example.com,Sam,Roe,1975-02-01,M,TX,Health,\n"
    b"1003,bad.state@example.com,Al,Bad,1970-01-01,O,XX,Life,\n"
)


def ledger(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", *args], capture_output=True, text=True, check=False, input=stdin
    )


@pytest.fixture
def where(database_url: str, tmp_path: Path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_partner_round_trip_over_sftp_with_openpgp(where: list[str], tmp_path: Path, database_url: str) -> None:
    init = ledger("init", *where)
    assert init.returncode == 0, init.stderr
    host_key_line = json.loads(init.stdout)["sftpHostKey"]
    host_key_file = tmp_path / "data" / "ssh_host_ed25519_key"
    assert host_key_file.stat().st_mode & 0o777 == 0o600
    assert ledger("feeds", "pgp", "generate", *where).returncode == 0
    exported = ledger("feeds", "pgp", "export", *where)
    assert exported.returncode == 0, exported.stderr
    our_cert = pysequoia.Cert.from_bytes(exported.stdout.encode())

    partner_pgp = pysequoia.Tsk.generate(f"{PARTNER} <it@acme.example>")
    (tmp_path / "partner.asc").write_text(str(partner_pgp.extract_certificate()))
    partner_ssh = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "partner_ssh.pub").write_bytes(partner_ssh.export_public_key())
    for command in (
        ("feeds", "keys", "add", PARTNER, "--ssh-key", str(tmp_path / "partner_ssh.pub")),
        ("feeds", "pgp", "import", PARTNER, str(tmp_path / "partner.asc")),
        ("feeds", "pgp", "require-signature", PARTNER, "--on"),
    ):
        result = ledger(*command, *where)
        assert result.returncode == 0, result.stderr

    good = pysequoia.encrypt(ELIGIBILITY, recipients=[our_cert], signer=partner_pgp.signer(), armor=False)
    tampered = bytearray(good)
    tampered[len(tampered) // 2] ^= 0x01
    outbound: dict[str, bytes] = {}

    async def partner_upload(port: int) -> None:
        async with (
            asyncssh.connect(
                "127.0.0.1",
                port,
                username=PARTNER,
                client_keys=[partner_ssh],
                known_hosts=([asyncssh.import_public_key(host_key_line)], [], []),
                agent_path=None,
            ) as conn,
            conn.start_sftp_client() as sftp,
        ):
            async with sftp.open(f"/inbound/{PARTNER}/eligibility_{PARTNER}_{STAMP}.csv.pgp", "wb") as handle:
                await handle.write(good)
            async with sftp.open(f"/inbound/{PARTNER}/eligibility_{PARTNER}_{YESTERDAY}.csv.pgp", "wb") as handle:
                await handle.write(bytes(tampered))

    async def partner_download(port: int) -> None:
        async with (
            asyncssh.connect(
                "127.0.0.1",
                port,
                username=PARTNER,
                client_keys=[partner_ssh],
                known_hosts=([asyncssh.import_public_key(host_key_line)], [], []),
                agent_path=None,
            ) as conn,
            conn.start_sftp_client() as sftp,
        ):
            for name in await sftp.listdir(f"/outbound/{PARTNER}"):
                if name.endswith(".pgp"):
                    async with sftp.open(f"/outbound/{PARTNER}/{name}", "rb") as handle:
                        outbound[name[: -len(".pgp")]] = await handle.read()

    server = subprocess.Popen(
        [sys.executable, "-m", "api", "sftp", "serve", "--port", "0", *where], stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None
        port = int(json.loads(server.stderr.readline())["sftp"].rsplit(":", 1)[1])
        asyncio.run(partner_upload(port))

        loaded = ledger("feeds", "run", "--partner", PARTNER, "--feed", "eligibility", *where)
        assert loaded.returncode == 0, loaded.stderr
        steps = {step["file"]: step for step in json.loads(loaded.stdout)}
        assert steps[f"eligibility_{PARTNER}_{STAMP}.csv"]["accepted"] == 2
        assert steps[f"eligibility_{PARTNER}_{STAMP}.csv"]["rejected"] == 1
        assert steps[f"eligibility_{PARTNER}_{YESTERDAY}.csv"]["error"] == "damaged"

        with open_ledger(StorageConfig(tmp_path / "data", database_url)) as opened:  # member 1001 enrolls
            opened.membership.enroll(PARTNER, "1001", (TODAY - timedelta(days=1)).isoformat())
            opened.membership.order_kit(PARTNER, "1001", TODAY.isoformat())
        produced = ledger("feeds", "run", "--partner", PARTNER, *where)
        assert produced.returncode == 0, produced.stderr
        asyncio.run(partner_download(port))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()

    plain = {}
    for name, sealed in outbound.items():
        opened_file = pysequoia.decrypt(sealed, decryptor=partner_pgp.decryptor(), store=lambda _ids: [our_cert])
        assert [str(sig.certificate) for sig in opened_file.valid_sigs] == [our_cert.fingerprint]  # signed by us
        plain[name] = opened_file.bytes or b""

    report = _rows(plain[f"eligibility_{PARTNER}_{STAMP}.report.csv"])
    assert [(r["partner_member_id"], r["outcome"], r["field"]) for r in report[1:]] == [("1003", "skipped", "state")]
    rejected = _rows(plain[f"eligibility_{PARTNER}_{YESTERDAY}.report.csv"])
    assert rejected[0]["outcome"] == "rejected"
    assert "damaged" in rejected[0]["reason"]
    enrollment = _rows(plain[f"enrollment_{PARTNER}_{STAMP}.csv"])
    with open_ledger(StorageConfig(tmp_path / "data", database_url)) as opened:
        status = opened.membership.enrollment(PARTNER, "1001").enrollment
        assert status is not None
        assert [
            (r["partner_member_id"], r["enrollment_date"], r["kit_order_date"], r["result_type"]) for r in enrollment
        ] == [("1001", status.enrollment_date.isoformat(), str(status.kit_order_date), "")]
        for pmid in ("1001", "1002"):
            assert opened.membership.eligibility(PARTNER, pmid).decision.eligible
    month = prior_month(TODAY)
    outcome = _rows(plain[f"outcome_{PARTNER}_{month:%Y%m}.csv"])
    assert outcome
    assert {r["period_start"] for r in outcome} == {month.isoformat()}
    for name, data in plain.items():  # no personal datum from the eligibility file in anything we sent
        for personal in (b"jo.doe@example.com", b"Doe", b"1980-05-15", b"sam.roe"):
            assert personal not in data, name

    processed = sorted(p.name for p in (tmp_path / "data" / "feeds" / "root" / "processed" / PARTNER).iterdir())
    expected = [f"eligibility_{PARTNER}_{STAMP}.csv.pgp.json", f"eligibility_{PARTNER}_{YESTERDAY}.csv.pgp.json"]
    assert processed == sorted(expected)  # receipts: no copy of personal data outside the sealed store
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    for personal in (b"jo.doe@example.com", b"1980-05-15", b"sam.roe@example.com"):
        assert personal not in stored
    status_rows = json.loads(ledger("feeds", "status", "--json", *where).stdout)
    assert {r["feed"]: r["lastFile"] for r in status_rows} == {
        "eligibility": f"eligibility_{PARTNER}_{YESTERDAY}.csv",
        "enrollment": f"enrollment_{PARTNER}_{STAMP}.csv.pgp",
        "outcome": f"outcome_{PARTNER}_{month:%Y%m}.csv.pgp",
    }
    verify = ledger("verify", *where)
    assert verify.returncode == 0, verify.stdout
    assert os.listdir(tmp_path / "data" / "feeds" / "root" / "sftp" / PARTNER / "inbound" / PARTNER) == []
