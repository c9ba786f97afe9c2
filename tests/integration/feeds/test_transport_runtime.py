"""The SFTP server and worker as ``ledger serve`` runs them (a thread), and PostgreSQL leadership."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncssh
import orjson
import pytest
from support.results_files import check_every_proof, parse_results
from support.sftp import partner_session

from adapters.feed_exchange import FeedPartnerConfig
from adapters.opening import open_ledger, verifier_key
from adapters.storage import open_outbox
from adapters.workers.feed_metrics import FeedMetrics
from api.claims_processing import LedgerClaimsProcessing
from api.feeds_runtime import feed_files, feed_worker, leadership, start_transport_thread
from api.settings import FeedsSection, Settings, StorageSection
from ledger_core.members.feeds.formats import FeedKind

CSV = (
    "partner_member_id,email,first_name,last_name,date_of_birth,gender,state,policy_type,policy_start_date\n"
    "1,jo@example.com,Jo,Doe,1980-05-15,F,IA,Life,\n"
)


def _settings(tmp_path: Path, database_url: str | None = None) -> Settings:
    storage = StorageSection(data_dir=tmp_path / "data", database_url=database_url)
    return Settings(storage=storage, feeds=FeedsSection(sftp_port=0, poll_seconds=60.0))


def test_upload_completion_wakes_the_worker_in_the_serve_thread(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key = asyncssh.generate_private_key("ssh-ed25519")
    files = feed_files(settings)
    files.keys.add_ssh_key("acme", key.export_public_key().decode())
    transport = start_transport_thread(settings)
    try:

        async def upload() -> None:
            async with (
                partner_session(transport.port, "acme", key) as sftp,
                sftp.open("/inbound/acme/eligibility_acme_20260115.csv", "wb") as handle,
            ):
                await handle.write(CSV.encode())

        asyncio.run(upload())
        report = files.folders.outbound("acme") / "eligibility_acme_20260115.report.csv"
        deadline = time.monotonic() + 60  # the upload wakes the worker at once; the poll interval is 60 s
        while not report.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        transport.stop()
    assert report.exists()
    assert files.journal.load("acme").feed("eligibility").accepted == 1
    assert [p.name for p in files.folders.processed("acme").iterdir()] == ["eligibility_acme_20260115.csv.json"]


@pytest.mark.postgres
def test_one_feeds_leader_per_schema_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    settings = _settings(tmp_path, postgres_url)
    first_leads, first_release = leadership(settings)
    second_leads, second_release = leadership(settings)
    try:
        assert first_leads()
        assert not second_leads()
        first_release()  # the server frees the lock when the holder's session ends (asynchronously)
        deadline = time.monotonic() + 30
        while not second_leads() and time.monotonic() < deadline:  # the standby's next tries
            time.sleep(0.05)
        assert second_leads()
    finally:
        first_release()
        second_release()


def test_worker_alerts_reach_the_webhook_outbox(tmp_path: Path, database_url: str) -> None:
    settings = _settings(tmp_path, database_url)
    files = feed_files(settings)
    files.keys.save(FeedPartnerConfig("acme"))
    with feed_worker(settings, FeedMetrics()) as worker:
        worker.now = lambda: datetime(2026, 1, 15, 5, 0, tzinfo=UTC)  # past the 04:00 deadline, nothing came
        asyncio.run(worker.run_once(feed=FeedKind.ELIGIBILITY))
        asyncio.run(worker.run_once(feed=FeedKind.ELIGIBILITY))  # once per day
    outbox = open_outbox(settings.storage.config)
    try:
        with outbox.read() as tx:
            alerts = tx.replay_messages("acme", ["audit.alert"], since_position=None, since_time=0.0)
    finally:
        outbox.close()
    assert len(alerts) == 1


def test_claims_files_of_the_deployment_worker_use_the_batch_worker_processes(
    tmp_path: Path, database_url: str
) -> None:
    """``LEDGER_BATCH_WORKERS`` (here 1) reaches the feeds worker's claims path: a file of 600 lines in chunks of 50
    is parsed and proven partly on the worker process, and every line's claim is proven in its results."""
    storage = StorageSection(data_dir=tmp_path / "data", database_url=database_url)
    feeds = FeedsSection(sftp_port=0, poll_seconds=60.0, claims_chunk_lines=50, claims_workers=1)
    settings = Settings(storage=storage, feeds=feeds)
    with open_ledger(settings.storage.config) as ledger:
        ledger.partners.register(
            partner_id="acme", name="Acme", category="insurance_carrier", tier="standard", scopes=[]
        )
    files = feed_files(settings)
    files.keys.save(FeedPartnerConfig("acme"))
    files.folders.ensure("acme")
    name = "claims_acme_20260115.jsonl"
    files.folders.inbound("acme").joinpath(name).write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "partnerClaimId": f"W-{number:04d}",
                    "claimType": "auto",
                    "claimAmount": f"{100 + number}.00",
                    "currency": "USD",
                    "submittedAt": "2025-06-01T10:00:00Z",
                    "documents": [],
                }
            )
            + b"\n"
            for number in range(600)
        )
    )
    files.folders.mark_ready("acme", name)
    with feed_worker(settings, FeedMetrics()) as worker:
        asyncio.run(worker.run_once(feed=FeedKind.ELIGIBILITY))
        processing = worker.claims.processing if worker.claims is not None else None
        assert isinstance(processing, LedgerClaimsProcessing)
        assert processing.workers is not None
        assert processing.workers.proven >= 1  # results batches proven on the worker process
    header, lines = parse_results((files.folders.outbound("acme") / "claims_acme_20260115.results.jsonl").read_text())
    assert header["counts"] == {"imported": 600}
    assert check_every_proof(header, lines, verifier_key(settings.storage.config)) == 600
