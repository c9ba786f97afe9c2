"""The feeds worker over real SFTP and OpenPGP, with a recording file processing (the loader's own tests
are the feeds-core ones; tests/e2e/test_feeds_transport.py runs the real loader end to end)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import asyncssh
import pysequoia
import pytest
from prometheus_client import generate_latest
from support.sftp import FeedsHome, partner_hosted, partner_session, running_server

from adapters.feed_exchange import FeedPartnerConfig, RemoteCredentials, RemoteServer, RemoteTransfer, RetryPolicy
from adapters.feeds.openpgp import SequoiaFeedCrypto, certificate_of, generate_secret_key
from adapters.feeds.runs import FeedRunJournal
from adapters.feeds.sftp_client import RemoteSftp
from adapters.workers.feed_metrics import FeedMetrics
from adapters.workers.feeds import EligibilityResult, FeedWorker
from ledger_core.members.feeds.formats import FeedKind
from ledger_core.members.feeds.notifications import EligibilityNotice, EmailMessage
from ledger_core.webhooks.events import PartnerEvent

CSV = b"partner_member_id,email\n1,a@example.com\n2,b@example.com\n"


class RecordingProcessing:
    """Counts the rows it is given and writes small report/feed files, like the real processing would."""

    def __init__(self) -> None:
        self.loaded: list[tuple[str, bytes]] = []
        self.written: list[str] = []

    def process_eligibility(self, partner_id: str, source: Path, file_name: str, out_dir: Path) -> EligibilityResult:
        data = source.read_bytes()
        self.loaded.append((file_name, data))
        report = out_dir / file_name.replace(".csv", ".report.csv")
        report.write_bytes(b"row,line,partner_member_id,outcome,field,reason\n,,,completed,,ok\n")
        return EligibilityResult(data.count(b"\n") - 1, 0, rejected_whole=False, report=report)

    def claim_eligibility_email(self, partner_id: str, notice: EligibilityNotice) -> str | None:
        raise AssertionError("this processing reports no member to email")

    def reject_eligibility(self, partner_id: str, file_name: str, reason: str, out_dir: Path) -> Path:
        report = out_dir / file_name.replace(".csv", ".report.csv")
        report.write_text(f"row,line,partner_member_id,outcome,field,reason\n,,,rejected,file,openpgp: {reason}\n")
        return report

    def write_enrollment(self, partner_id: str, out_dir: Path, now: datetime) -> Path | None:
        path = out_dir / f"enrollment_{partner_id}_{now:%Y%m%d}.csv"
        path.write_text("partner_member_id,enrollment_date\n")
        self.written.append(path.name)
        return path

    def write_outcome(self, partner_id: str, out_dir: Path, now: datetime) -> Path | None:
        path = out_dir / f"outcome_{partner_id}_{now:%Y%m}.csv"
        path.write_text("metric,value,period_start,period_end\n")
        self.written.append(path.name)
        return path


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _remote(remote: RemoteServer, credentials: RemoteCredentials, retry: RetryPolicy) -> RemoteTransfer:
    return RemoteSftp(remote, credentials, RetryPolicy(attempts=1, first_delay=0))


@pytest.fixture(scope="module")
def pgp() -> dict[str, bytes]:
    return {name: generate_secret_key(name) for name in ("ledger", "acme", "mallory")}


def _worker(home: FeedsHome, clock: Clock) -> tuple[FeedWorker, RecordingProcessing, list[PartnerEvent], FeedMetrics]:
    processing = RecordingProcessing()
    alerts: list[PartnerEvent] = []
    metrics = FeedMetrics()
    journal = FeedRunJournal(home.folders.root)
    worker = FeedWorker(
        home.folders, home.keys, journal, SequoiaFeedCrypto(), _remote, processing, metrics, alerts.append, now=clock
    )
    return worker, processing, alerts, metrics


def _encrypt(data: bytes, pgp: dict[str, bytes], signer: str) -> bytes:
    recipient = pysequoia.Cert.from_bytes(certificate_of(pgp["ledger"]))
    return pysequoia.encrypt(data, recipients=[recipient], signer=pysequoia.Tsk.from_bytes(pgp[signer]).signer())


def test_encrypted_upload_processed_and_outbound_encrypted(home: FeedsHome, pgp: dict[str, bytes]) -> None:
    home.keys.set_our_secret_key(pgp["ledger"])
    home.keys.set_partner_cert("acme", certificate_of(pgp["acme"]))
    home.keys.save(FeedPartnerConfig("acme", require_signature=True))
    key = home.partner_key("acme")
    clock = Clock(datetime(2026, 1, 15, 2, 30, tzinfo=UTC))
    worker, processing, alerts, metrics = _worker(home, clock)

    async def scenario() -> list[str]:
        async with running_server(home) as port, partner_session(port, "acme", key) as sftp:
            async with sftp.open("/inbound/acme/eligibility_acme_20260115.csv.pgp", "wb") as handle:
                await handle.write(_encrypt(CSV, pgp, "acme"))
            async with sftp.open("/inbound/acme/eligibility_acme_20260114.csv.pgp", "wb") as handle:
                await handle.write(_encrypt(CSV, pgp, "mallory"))  # signed by someone else
            await worker.run_once()
            return sorted(await sftp.listdir("/outbound/acme"))

    listing = asyncio.run(scenario())
    assert processing.loaded == [("eligibility_acme_20260115.csv", CSV)]  # the mallory file never loaded
    assert "eligibility_acme_20260115.report.csv.pgp" in listing
    assert "eligibility_acme_20260114.report.csv.pgp" in listing
    assert "enrollment_acme_20260115.csv.pgp" in listing  # the 02:00 slot of the day was due
    assert [a.data["alert"] for a in alerts] == ["eligibility_file_rejected"]
    assert alerts[0].data["rejection"] == "signature_missing_or_wrong_signer"
    report = home.folders.outbound("acme") / "eligibility_acme_20260114.report.csv.pgp"
    plain = pysequoia.decrypt(report.read_bytes(), decryptor=pysequoia.Tsk.from_bytes(pgp["acme"]).decryptor())
    assert b"openpgp" in (plain.bytes or b"")
    receipts = {p.name: json.loads(p.read_bytes()) for p in home.folders.processed("acme").iterdir()}
    assert sorted(receipts) == ["eligibility_acme_20260114.csv.pgp.json", "eligibility_acme_20260115.csv.pgp.json"]
    good = receipts["eligibility_acme_20260115.csv.pgp.json"]
    assert (good["action"], good["accepted"], len(good["sha256"])) == ("processed", 2, 64)
    assert receipts["eligibility_acme_20260114.csv.pgp.json"]["error"] == "signature_missing_or_wrong_signer"
    assert not any(home.folders.work("acme").glob("*.csv"))  # no plaintext left behind
    text = generate_latest(metrics.registry).decode()
    assert 'ledger_feed_files_total{feed="eligibility",partner="acme",result="processed"} 1.0' in text
    assert 'ledger_feed_files_total{feed="eligibility",partner="acme",result="rejected"} 1.0' in text
    assert 'ledger_feed_rows_total{partner="acme",result="accepted"} 2.0' in text


def test_schedule_runs_each_slot_once_and_catches_up(home: FeedsHome) -> None:
    home.keys.save(home.keys.config_or_new("acme"))
    clock = Clock(datetime(2026, 2, 1, 1, 0, tzinfo=UTC))
    worker, processing, _, _ = _worker(home, clock)
    asyncio.run(worker.run_once())  # first pass: catches up the latest slots once
    assert processing.written == ["enrollment_acme_20260201.csv", "outcome_acme_202602.csv"]
    asyncio.run(worker.run_once())
    assert len(processing.written) == 2  # nothing twice
    clock.now = datetime(2026, 2, 1, 2, 0, tzinfo=UTC)
    asyncio.run(worker.run_once())
    assert processing.written[2:] == ["enrollment_acme_20260201.csv", "outcome_acme_202602.csv"]
    clock.now = datetime(2026, 2, 4, 9, 0, tzinfo=UTC)  # down for three days: one catch-up run
    asyncio.run(worker.run_once())
    assert processing.written[4:] == ["enrollment_acme_20260204.csv"]
    asyncio.run(worker.run_once(feed=FeedKind.OUTCOME, force=True))
    assert processing.written[5:] == ["outcome_acme_202602.csv"]


def test_lateness_alert_once_per_day_and_metric(home: FeedsHome) -> None:
    home.keys.save(home.keys.config_or_new("acme"))
    clock = Clock(datetime(2026, 1, 15, 3, 59, tzinfo=UTC))
    worker, _, alerts, metrics = _worker(home, clock)
    asyncio.run(worker.run_once())
    assert alerts == []
    clock.now = datetime(2026, 1, 15, 4, 0, tzinfo=UTC)
    asyncio.run(worker.run_once())
    asyncio.run(worker.run_once())
    assert [(a.type, a.data["alert"], a.data["expected"]) for a in alerts] == [
        ("audit.alert", "feed_late", "eligibility_acme_20260115.csv")
    ]
    assert 'ledger_feed_late{feed="eligibility",partner="acme"} 1.0' in generate_latest(metrics.registry).decode()
    home.folders.inbound("acme").joinpath("eligibility_acme_20260115.csv").write_bytes(CSV)
    home.folders.mark_ready("acme", "eligibility_acme_20260115.csv")
    asyncio.run(worker.run_once())
    assert 'ledger_feed_late{feed="eligibility",partner="acme"} 0.0' in generate_latest(metrics.registry).decode()


def test_client_mode_pull_push_and_host_key_refusal(home: FeedsHome, tmp_path: Path) -> None:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    our_key = asyncssh.generate_private_key("ssh-ed25519")
    remote_root = tmp_path / "partner-server"
    (remote_root / "outbound").mkdir(parents=True)
    (remote_root / "outbound" / "eligibility_acme_20260115.csv").write_bytes(CSV)
    home.keys.set_client_key("acme", our_key.export_private_key())
    clock = Clock(datetime(2026, 1, 15, 3, 0, tzinfo=UTC))
    worker, processing, alerts, metrics = _worker(home, clock)

    async def scenario(pinned: asyncssh.SSHKey) -> None:
        async with partner_hosted(remote_root, host_key, our_key) as port:
            remote = RemoteServer("127.0.0.1", port, "ledger", pinned.export_public_key().decode().strip())
            home.keys.set_remote(home.keys.config_or_new("acme"), remote, None)
            await worker.run_once(force=True)

    asyncio.run(scenario(host_key))
    assert processing.loaded == [("eligibility_acme_20260115.csv", CSV)]
    pushed = sorted(p.name for p in (remote_root / "inbound").iterdir())
    assert pushed == ["eligibility_acme_20260115.report.csv", "enrollment_acme_20260115.csv", "outcome_acme_202601.csv"]
    assert alerts == []

    (remote_root / "outbound" / "eligibility_acme_20260116.csv").write_bytes(CSV)
    clock.now = datetime(2026, 1, 16, 3, 0, tzinfo=UTC)
    asyncio.run(scenario(asyncssh.generate_private_key("ssh-ed25519")))  # the server's key changed
    assert len(processing.loaded) == 1  # nothing pulled from a server we cannot authenticate
    assert {a.data["alert"] for a in alerts} == {"sftp_host_key_refused"}
    assert {a.data["direction"] for a in alerts} == {"pull", "push"}
    text = generate_latest(metrics.registry).decode()
    assert 'direction="pull",partner="acme",reason="host_key_refused"} 1.0' in text


@pytest.fixture
def home(tmp_path: Path) -> FeedsHome:
    return FeedsHome.create(tmp_path)


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


def test_a_file_taken_before_a_crash_is_resumed_and_rejection_mailed_to_it(home: FeedsHome) -> None:
    home.keys.save(FeedPartnerConfig("acme", it_email="it@acme.example"))
    home.folders.ensure("acme")
    home.folders.inbound("acme").joinpath("eligibility_acme_20260115.csv.pgp").write_bytes(b"not openpgp")
    home.folders.mark_ready("acme", "eligibility_acme_20260115.csv.pgp")
    taken = home.folders.take("acme", "eligibility_acme_20260115.csv.pgp")  # the worker died right after this
    assert home.folders.in_processing("acme") == [taken]
    clock = Clock(datetime(2026, 1, 15, 3, 0, tzinfo=UTC))
    worker, _, alerts, _ = _worker(home, clock)
    mailer = RecordingMailer()
    worker.mailer = mailer
    results = asyncio.run(worker.run_once(feed=FeedKind.ELIGIBILITY))
    assert [(r.file, r.action, r.error) for r in results] == [("eligibility_acme_20260115.csv", "rejected", "no_key")]
    assert home.folders.in_processing("acme") == []
    assert [m.to for m in mailer.sent] == ["it@acme.example"]
    assert "eligibility_acme_20260115.report.csv" in mailer.sent[0].body
    assert [a.data["rejection"] for a in alerts] == ["no_key"]


class CrashingOnce(RecordingProcessing):
    """The writer records its delivery (like the real one, in the log) and the process dies before publishing."""

    def __init__(self) -> None:
        super().__init__()
        self.crashed = False

    def write_enrollment(self, partner_id: str, out_dir: Path, now: datetime) -> Path | None:
        path = super().write_enrollment(partner_id, out_dir, now)
        if not self.crashed:
            self.crashed = True
            raise KeyboardInterrupt  # stands for SIGKILL between the writer and the publication
        return path


def test_an_outbound_run_interrupted_before_publication_is_redone_for_its_day(home: FeedsHome) -> None:
    home.keys.save(FeedPartnerConfig("acme"))
    clock = Clock(datetime(2026, 1, 15, 2, 30, tzinfo=UTC))
    worker, _, _, _ = _worker(home, clock)
    worker.processing = processing = CrashingOnce()
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(worker.run_once(feed=FeedKind.ENROLLMENT))
    assert not any(home.folders.outbound("acme").iterdir())
    clock.now = datetime(2026, 1, 16, 2, 30, tzinfo=UTC)  # restarted the next day
    results = asyncio.run(worker.run_once(feed=FeedKind.ENROLLMENT))
    assert [r.file for r in results] == ["enrollment_acme_20260115.csv", "enrollment_acme_20260116.csv"]
    assert processing.written == ["enrollment_acme_20260115.csv"] * 2 + ["enrollment_acme_20260116.csv"]
    assert sorted(p.name for p in home.folders.outbound("acme").iterdir()) == [
        "enrollment_acme_20260115.csv",
        "enrollment_acme_20260116.csv",
    ]
