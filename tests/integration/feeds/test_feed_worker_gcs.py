"""The feeds worker with a partner's GCS bucket as its transport, on a real local GCS server
(gcp-storage-emulator, tests/support/gcs.py): pull and push, and the server going down and coming back
(alerts and metrics like the SFTP client's, nothing lost). The real loader runs in tests/e2e/test_feeds_gcs.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.cloud import storage
from prometheus_client import generate_latest
from support.gcs import GcsEmulator, gcs_emulator
from support.sftp import FeedsHome

from adapters.feed_exchange import FeedPartnerConfig, GcsBucket, RemoteServer, RemoteTransfer, RetryPolicy
from adapters.feeds.gcs_client import GcsTransfer
from adapters.feeds.openpgp import SequoiaFeedCrypto
from adapters.feeds.runs import FeedRunJournal
from adapters.feeds.sftp_client import RemoteSftp
from adapters.workers.feed_metrics import FeedMetrics
from adapters.workers.feeds import EligibilityResult, FeedWorker
from ledger_core.members.feeds.notifications import EligibilityNotice
from ledger_core.webhooks.events import PartnerEvent

CSV = b"partner_member_id\n1\n2\n"
BUCKET = "acme-exchange"


class CountingProcessing:
    """Counts the rows of each file it is given and writes a one-line report and small feed files."""

    def __init__(self) -> None:
        self.loaded: list[tuple[str, bytes]] = []

    def process_eligibility(self, partner_id: str, source: Path, file_name: str, out_dir: Path) -> EligibilityResult:
        data = source.read_bytes()
        self.loaded.append((file_name, data))
        report = out_dir / file_name.replace(".csv", ".report.csv")
        report.write_bytes(b"row,outcome\n,completed\n")
        return EligibilityResult(data.count(b"\n") - 1, 0, rejected_whole=False, report=report)

    def reject_eligibility(self, partner_id: str, file_name: str, reason: str, out_dir: Path) -> Path:
        raise AssertionError(f"no file is rejected here ({reason})")

    def claim_eligibility_email(self, partner_id: str, notice: EligibilityNotice) -> str | None:
        raise AssertionError("no member to email here")

    def write_enrollment(self, partner_id: str, out_dir: Path, now: datetime) -> Path | None:
        path = out_dir / f"enrollment_{partner_id}_{now:%Y%m%d}.csv"
        path.write_text("partner_member_id,enrollment_date\n")
        return path

    def write_outcome(self, partner_id: str, out_dir: Path, now: datetime) -> Path | None:
        return None


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GcsEmulator]:
    with gcs_emulator(tmp_path / "gcs") as running:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", running.endpoint)
        yield running


def _bucket(partner_id: str, bucket: GcsBucket, retry: RetryPolicy) -> RemoteTransfer:
    return GcsTransfer(partner_id, bucket, RetryPolicy(attempts=2, first_delay=0))


def _names(bucket: storage.Bucket, folder: str) -> list[str]:
    prefix = f"acme/{folder}/"
    return sorted(str(b.name)[len(prefix) :] for b in bucket.client.list_blobs(bucket, prefix=prefix))


def test_pull_process_push_and_a_server_down_loses_nothing(emulator: GcsEmulator, tmp_path: Path) -> None:
    home = FeedsHome.create(tmp_path)
    home.keys.save(FeedPartnerConfig("acme", gcs=GcsBucket(BUCKET)))
    bucket = storage.Client().create_bucket(BUCKET)
    bucket.blob("acme/inbound/eligibility_acme_20260115.csv").upload_from_string(CSV)
    processing = CountingProcessing()
    alerts: list[PartnerEvent] = []
    metrics = FeedMetrics()
    now = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    worker = FeedWorker(
        home.folders,
        home.keys,
        FeedRunJournal(home.folders.root),
        SequoiaFeedCrypto(),
        lambda remote, credentials, retry: RemoteSftp(remote, credentials, retry),
        processing,
        metrics,
        alerts.append,
        now=lambda: now,
        bucket=_bucket,
    )

    asyncio.run(worker.run_once(force=True))
    assert processing.loaded == [("eligibility_acme_20260115.csv", CSV)]
    assert _names(bucket, "outbound") == ["eligibility_acme_20260115.report.csv", "enrollment_acme_20260115.csv"]
    assert (_names(bucket, "inbound"), _names(bucket, "processed")) == ([], ["eligibility_acme_20260115.csv"])
    assert alerts == []

    emulator.stop()  # the bucket's server goes away after the partner dropped the next file
    now = datetime(2026, 1, 16, 3, 0, tzinfo=UTC)
    down = asyncio.run(worker.run_once(force=True))
    assert [(r.action, "unreachable" in (r.error or "")) for r in down if r.error] == [
        ("pull failed", True),
        ("push failed", True),
    ]
    assert [(a.type, a.data["alert"], a.data["direction"], a.data["reason"]) for a in alerts] == [
        ("audit.alert", "gcs_transfer_failed", "pull", "unreachable"),
        ("audit.alert", "gcs_transfer_failed", "push", "unreachable"),
    ]
    text = generate_latest(metrics.registry).decode()
    assert 'ledger_feed_transfer_failures_total{direction="push",partner="acme",reason="unreachable"} 1.0' in text
    assert FeedRunJournal(home.folders.root).load("acme").unpushed == ("enrollment_acme_20260116.csv",)

    emulator.start()  # back with its data
    bucket.blob("acme/inbound/eligibility_acme_20260116.csv").upload_from_string(CSV + b"3\n")
    asyncio.run(worker.run_once(force=True))
    assert processing.loaded[1:] == [("eligibility_acme_20260116.csv", CSV + b"3\n")]
    assert _names(bucket, "outbound") == [
        "eligibility_acme_20260115.report.csv",
        "eligibility_acme_20260116.report.csv",
        "enrollment_acme_20260115.csv",
        "enrollment_acme_20260116.csv",
    ]
    assert FeedRunJournal(home.folders.root).load("acme").unpushed == ()


def test_one_transport_per_partner_kept_in_its_config(tmp_path: Path) -> None:
    home = FeedsHome.create(tmp_path)
    sftp = RemoteServer("sftp.acme.example", 22, "ledger", "ssh-ed25519 AAAA")
    home.keys.set_remote(home.keys.config_or_new("acme"), sftp, "secret")
    home.keys.set_gcs(home.keys.config_or_new("acme"), GcsBucket(BUCKET, "billing-project"))
    saved = home.keys.config("acme")
    assert (saved.gcs, saved.remote) == (GcsBucket(BUCKET, "billing-project"), None)  # the bucket replaced SFTP
    assert b"secret" not in (home.keys.root / "partners" / "acme" / "config.json").read_bytes()
    home.keys.set_remote(saved, sftp, None)
    assert (home.keys.config("acme").gcs, home.keys.config("acme").remote) == (None, sftp)
    home.keys.set_gcs(home.keys.config("acme"), GcsBucket(BUCKET))
    home.keys.set_gcs(home.keys.config("acme"), None)
    assert (home.keys.config("acme").gcs, home.keys.config("acme").remote) == (None, None)
