"""Batch feeds end to end through a partner's Google Cloud Storage bucket: the real ``ledger`` console script,
a real local GCS server (gcp-storage-emulator, tests/support/gcs.py) and real OpenPGP keys.

The partner drops an eligibility file in ``gs://<bucket>/<partner>/inbound/`` (one encrypted to our key and
signed, one plain); ``ledger feeds run`` pulls both (moving them to ``processed/`` in the bucket), loads them,
and the reports and the enrollment and outcome feeds appear in ``gs://<bucket>/<partner>/outbound/``. With the
bucket misnamed, the run reports a clear error and loses nothing: the inbound objects stay where they are and
the outbound files are pushed by the next run once the name is corrected (the server down: the worker's test,
tests/integration/feeds/test_feed_worker_gcs.py, where the retries can be made short).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pysequoia
import pytest
from google.cloud import storage
from support.gcs import GcsEmulator, gcs_emulator

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.members.feeds.outbound import prior_month

PARTNER = "acme_life"
BUCKET = "acme-life-exchange"
TODAY = datetime.now(UTC).date()
STAMP = f"{TODAY:%Y%m%d}"
YESTERDAY = f"{TODAY - timedelta(days=1):%Y%m%d}"
HEADER = b"partner_member_id,email,first_name,last_name,date_of_birth,gender,state,policy_type,policy_start_date\n"
SIGNED = HEADER + (
    b"1001,jo.doe@example.com,Jo,Doe,1980-05-15,F,IA,Life,2022-01-01\n"
    b"1003,bad.state@example.com,Al,Bad,1970-01-01,O,XX,Life,\n"
)
PLAIN = HEADER + b"1002,sam.roe@example.com,Sam,Roe,1975-02-01,M,TX,Health,\n"


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GcsEmulator]:
    with gcs_emulator(tmp_path / "gcs") as running:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", running.endpoint)  # the ledger subprocesses inherit it
        yield running


def ledger(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api", *args], capture_output=True, text=True, check=False)


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    result = ledger(*args)
    assert result.returncode == 0, result.stderr
    return result


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def _objects(bucket: storage.Bucket, folder: str) -> dict[str, bytes]:
    prefix = f"{PARTNER}/{folder}/"
    return {str(b.name)[len(prefix) :]: b.download_as_bytes() for b in bucket.client.list_blobs(bucket, prefix=prefix)}


def test_partner_round_trip_through_a_gcs_bucket(emulator: GcsEmulator, tmp_path: Path, database_url: str) -> None:
    where = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    ok("init", *where)
    ok("feeds", "pgp", "generate", *where)
    our_cert = pysequoia.Cert.from_bytes(ok("feeds", "pgp", "export", *where).stdout.encode())
    partner_pgp = pysequoia.Tsk.generate(f"{PARTNER} <it@acme.example>")
    (tmp_path / "partner.asc").write_text(str(partner_pgp.extract_certificate()))
    ok("feeds", "pgp", "import", PARTNER, str(tmp_path / "partner.asc"), *where)
    set_bucket = ok("feeds", "gcs", "set", PARTNER, "--bucket", f"gs://{BUCKET}", *where)
    assert json.loads(set_bucket.stdout)["inbound"] == f"gs://{BUCKET}/{PARTNER}/inbound/"

    bucket = storage.Client().create_bucket(BUCKET)
    sealed = pysequoia.encrypt(SIGNED, recipients=[our_cert], signer=partner_pgp.signer(), armor=False)
    bucket.blob(f"{PARTNER}/inbound/eligibility_{PARTNER}_{STAMP}.csv.pgp").upload_from_string(sealed)
    bucket.blob(f"{PARTNER}/inbound/eligibility_{PARTNER}_{YESTERDAY}.csv").upload_from_string(PLAIN)
    assert json.loads(ok("feeds", "gcs", "check", PARTNER, *where).stdout)["inboundObjects"] == 2

    loaded = ok("feeds", "run", "--partner", PARTNER, "--feed", "eligibility", *where)
    steps = json.loads(loaded.stdout)
    assert sorted(s["file"] for s in steps if s["action"] == "pulled") == [
        f"eligibility_{PARTNER}_{YESTERDAY}.csv",
        f"eligibility_{PARTNER}_{STAMP}.csv.pgp",
    ]
    counts = {s["file"]: (s["accepted"], s["rejected"]) for s in steps if s["action"] == "processed"}
    assert counts == {f"eligibility_{PARTNER}_{STAMP}.csv": (1, 1), f"eligibility_{PARTNER}_{YESTERDAY}.csv": (1, 0)}
    assert _objects(bucket, "inbound") == {}
    assert sorted(_objects(bucket, "processed")) == [
        f"eligibility_{PARTNER}_{YESTERDAY}.csv",
        f"eligibility_{PARTNER}_{STAMP}.csv.pgp",
    ]

    with open_ledger(StorageConfig(tmp_path / "data", database_url)) as opened:  # member 1001 enrolls
        opened.membership.enroll(PARTNER, "1001", (TODAY - timedelta(days=1)).isoformat())
        for pmid in ("1001", "1002"):
            assert opened.membership.eligibility(PARTNER, pmid).decision.eligible
    ok("feeds", "run", "--partner", PARTNER, *where)

    plain = {}
    for name, data in _objects(bucket, "outbound").items():
        assert name.endswith(".pgp"), name  # everything we send is encrypted to the partner and signed by us
        opened_file = pysequoia.decrypt(data, decryptor=partner_pgp.decryptor(), store=lambda _ids: [our_cert])
        assert [str(sig.certificate) for sig in opened_file.valid_sigs] == [our_cert.fingerprint]
        plain[name.removesuffix(".pgp")] = opened_file.bytes or b""
    month = prior_month(TODAY)
    assert sorted(plain) == sorted(
        [
            f"eligibility_{PARTNER}_{STAMP}.report.csv",
            f"eligibility_{PARTNER}_{YESTERDAY}.report.csv",
            f"enrollment_{PARTNER}_{STAMP}.csv",
            f"outcome_{PARTNER}_{month:%Y%m}.csv",
        ]
    )
    report = _rows(plain[f"eligibility_{PARTNER}_{STAMP}.report.csv"])
    assert [(r["partner_member_id"], r["outcome"], r["field"]) for r in report[1:]] == [("1003", "skipped", "state")]
    assert [r["partner_member_id"] for r in _rows(plain[f"enrollment_{PARTNER}_{STAMP}.csv"])] == ["1001"]
    for name, data in plain.items():  # no personal datum from the eligibility files in anything we sent
        for personal in (b"jo.doe@example.com", b"Doe", b"1980-05-15", b"sam.roe"):
            assert personal not in data, name
    assert ok("verify", *where).returncode == 0


def test_a_failing_bucket_is_reported_and_loses_nothing(
    emulator: GcsEmulator, tmp_path: Path, database_url: str
) -> None:
    where = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    ok("init", *where)
    bucket = storage.Client().create_bucket(BUCKET)
    bucket.blob(f"{PARTNER}/inbound/eligibility_{PARTNER}_{STAMP}.csv").upload_from_string(PLAIN)
    refused = ledger("feeds", "gcs", "set", PARTNER, "--bucket", "Acme Bucket!", *where)
    assert (refused.returncode, refused.stderr.split(":")[0]) == (2, "VALIDATION_ERROR"), refused.stderr
    ok("feeds", "gcs", "set", PARTNER, "--bucket", f"{BUCKET}-typo", *where)

    missing = ledger("feeds", "gcs", "check", PARTNER, *where)
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"GCS_TRANSFER_FAILED: gs://{BUCKET}-typo: no_such_bucket"), missing.stderr
    first = json.loads(ok("feeds", "run", "--partner", PARTNER, *where).stdout)
    failures = [s for s in first if s["action"] in ("pull failed", "push failed")]
    assert [s["action"] for s in failures] == ["pull failed", "push failed"]
    assert all("no_such_bucket" in s["error"] for s in failures)
    assert list(_objects(bucket, "inbound")) == [f"eligibility_{PARTNER}_{STAMP}.csv"]  # untouched
    outbound_dir = tmp_path / "data" / "feeds" / "root" / "sftp" / PARTNER / "outbound" / PARTNER
    kept = sorted(os.listdir(outbound_dir))
    assert kept  # the feeds were written and wait to be pushed

    ok("feeds", "gcs", "set", PARTNER, "--bucket", BUCKET, *where)  # the name corrected
    recovered = json.loads(ok("feeds", "run", "--partner", PARTNER, "--feed", "eligibility", *where).stdout)
    assert [s["action"] for s in recovered if s["action"] != "pushed"] == ["pulled", "processed"]
    assert sorted(_objects(bucket, "outbound")) == sorted([*kept, f"eligibility_{PARTNER}_{STAMP}.report.csv"])
    assert list(_objects(bucket, "processed")) == [f"eligibility_{PARTNER}_{STAMP}.csv"]
    assert _objects(bucket, "inbound") == {}
