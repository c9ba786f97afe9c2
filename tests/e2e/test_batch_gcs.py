"""Claims files end to end through a partner's Google Cloud Storage bucket (issue 15 item 4, seed 000 §3.2 Pattern B).

The real ``ledger`` console script and a real local GCS server (gcp-storage-emulator, tests/support/gcs.py): the
partner drops a claims file and a reconciliation file in ``gs://<bucket>/<partner>/inbound/``; ``ledger feeds
run`` pulls them (moving them to ``processed/`` in the bucket), imports and reconciles, and pushes the results file
and the reconciliation report to ``gs://<bucket>/<partner>/outbound/``. The partner downloads the results file and
verifies every proof with the 40-line verifier of docs/proofs.md against the log's verifier key; ``ledger batch
status`` shows both files and ``ledger verify`` finds the log intact. (Over SFTP, with OpenPGP both ways and the
crash test: tests/e2e/test_batch_sftp.py; the GCS transport's own failures: tests/e2e/test_feeds_gcs.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from google.cloud import storage
from support.gcs import GcsEmulator, gcs_emulator
from support.results_files import check_every_proof, parse_results

P = "acme"
BUCKET = "acme-claims-exchange"
DAY = "20260115"


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GcsEmulator]:
    with gcs_emulator(tmp_path / "gcs") as running:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", running.endpoint)  # the ledger subprocesses inherit it
        yield running


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "api", *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, (args, result.stderr)
    return result


def claims_file(count: int) -> bytes:
    lines = [
        {
            "partnerClaimId": f"G-{i:04d}",
            "claimType": "auto",
            "claimAmount": f"{900 + i}.50",
            "currency": "USD",
            "submittedAt": "2025-10-01T09:30:00Z",
            "documents": [],
            "verificationLevel": "enhanced",
        }
        for i in range(count)
    ]
    malformed = b'{"partnerClaimId": "G-9999", "claimAmount": 2.5}\n'  # a float amount: refused, nothing lost
    return b"".join(orjson.dumps(line) + b"\n" for line in lines) + malformed


def _objects(bucket: storage.Bucket, folder: str) -> dict[str, bytes]:
    prefix = f"{P}/{folder}/"
    return {str(b.name)[len(prefix) :]: b.download_as_bytes() for b in bucket.client.list_blobs(bucket, prefix=prefix)}


def test_claims_and_reconciliation_files_through_a_gcs_bucket(
    emulator: GcsEmulator, tmp_path: Path, database_url: str
) -> None:
    where = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url]
    ok("init", *where)
    ok("partners", "create", "Acme", "--partner-id", P, *where)
    ok("feeds", "gcs", "set", P, "--bucket", BUCKET, *where)
    bucket = storage.Client().create_bucket(BUCKET)
    claims_name, reconcile_name = f"claims_{P}_{DAY}.jsonl", f"reconcile_{P}_{DAY}.csv"
    bucket.blob(f"{P}/inbound/{claims_name}").upload_from_string(claims_file(12))
    reconcile = "partnerClaimId,claimAmount,currency,status\nG-0000,900.50,USD,verified\nG-0001,1.00,USD,verified\n"
    bucket.blob(f"{P}/inbound/{reconcile_name}").upload_from_string(reconcile.encode())

    steps = json.loads(ok("feeds", "run", "--partner", P, "--feed", "eligibility", *where).stdout)
    assert sorted(s["file"] for s in steps if s["action"] == "pulled") == [claims_name, reconcile_name]
    processed = {s["file"]: s for s in steps if s["action"] == "processed"}
    assert (processed[claims_name]["accepted"], processed[claims_name]["rejected"]) == (12, 1)
    assert processed[reconcile_name]["feed"] == "reconcile"
    assert _objects(bucket, "inbound") == {}
    assert sorted(_objects(bucket, "processed")) == [claims_name, reconcile_name]

    outbound = _objects(bucket, "outbound")
    assert sorted(outbound) == [f"claims_{P}_{DAY}.results.jsonl", f"reconcile_{P}_{DAY}.report.jsonl"]
    header, lines = parse_results(outbound[f"claims_{P}_{DAY}.results.jsonl"].decode())
    assert (header["status"], header["counts"]) == ("completed", {"imported": 12, "invalid": 1})
    vkey = ok("checkpoint", "vkey", *where).stdout.strip()
    assert check_every_proof(header, lines, vkey) == 12
    report, findings = parse_results(outbound[f"reconcile_{P}_{DAY}.report.jsonl"].decode())
    assert report["counts"]["unknown_to_partner"] == 10
    mismatch = {f["partnerClaimId"]: f["fields"] for f in findings if f["outcome"] == "mismatch"}
    assert "claimAmount" in mismatch["G-0001"]

    again = json.loads(ok("feeds", "run", "--partner", P, "--feed", "eligibility", *where).stdout)
    assert [s for s in again if s["action"] in ("pulled", "processed")] == []  # nothing pulled or imported twice
    shown = json.loads(ok("batch", "status", P, *where).stdout)
    files = {file["file_name"]: file for file in shown["files"]}
    assert files[claims_name]["counts"] == {"imported": 12, "invalid": 1}
    assert files[reconcile_name]["status"] == "completed"
    assert shown["waiting"] == []
    ok("verify", *where)
