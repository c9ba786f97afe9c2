"""The feeds worker with claims files (docs/batch.md, "Over SFTP"): a real SFTP server and client, real OpenPGP
keys and the real claims processing on SQLite and PostgreSQL; the 4-hour deadline with a clock the test moves."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh
import orjson
import pysequoia
import pytest
from prometheus_client import generate_latest
from support.results_files import check_every_proof, parse_results
from support.sftp import FeedsHome, partner_hosted, partner_session, running_server

from adapters.batch.processing import sealing_checkpoint
from adapters.feed_exchange import FeedPartnerConfig, RemoteCredentials, RemoteServer, RemoteTransfer, RetryPolicy
from adapters.feeds.openpgp import SequoiaFeedCrypto, certificate_of, generate_secret_key
from adapters.feeds.runs import FeedRunJournal
from adapters.feeds.sftp_client import RemoteSftp
from adapters.opening import open_audit_log, open_ledger, verifier_key
from adapters.storage import StorageConfig
from adapters.workers.claims_files import ClaimsConfig, ClaimsInbound, ClaimsResult
from adapters.workers.feed_metrics import FeedMetrics
from adapters.workers.feeds import FeedWorker
from api.claims_processing import LedgerClaimsProcessing
from api.feeds_processing import LedgerFeedProcessing
from ledger_core.engine.audit_log import AuditLog
from ledger_core.ledger import Ledger
from ledger_core.members.feeds.formats import FeedKind
from ledger_core.webhooks.events import PartnerEvent

P = "acme"
ELIGIBILITY = FeedKind.ELIGIBILITY


def claims_bytes(count: int, first: int = 0) -> bytes:
    lines = [
        {
            "partnerClaimId": f"S-{i:05d}",
            "claimType": "auto",
            "claimAmount": f"{200 + i}.10",
            "currency": "USD",
            "submittedAt": "2025-06-01T10:00:00Z",
            "documents": [],
        }
        for i in range(first, first + count)
    ]
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Deployment:
    home: FeedsHome
    config: StorageConfig
    ledger: Ledger
    audit: AuditLog


@pytest.fixture
def deployment(tmp_path: Path, database_url: str) -> Iterator[Deployment]:
    home = FeedsHome.create(tmp_path)
    config = StorageConfig(home.data_dir, database_url)
    with open_ledger(config) as ledger, open_audit_log(config) as audit:
        ledger.partners.register(partner_id=P, name="Acme", category="insurance_carrier", tier="standard", scopes=[])
        home.keys.save(FeedPartnerConfig(P))
        home.folders.ensure(P)
        yield Deployment(home, config, ledger, audit)


@pytest.fixture(scope="module")
def pgp() -> dict[str, bytes]:
    return {name: generate_secret_key(name) for name in ("ledger", "acme")}


def _remote(remote: RemoteServer, credentials: RemoteCredentials, retry: RetryPolicy) -> RemoteTransfer:
    return RemoteSftp(remote, credentials, RetryPolicy(attempts=1, first_delay=0))


def make_worker(
    d: Deployment, clock: Clock, processing: LedgerClaimsProcessing | None = None
) -> tuple[FeedWorker, list[PartnerEvent], FeedMetrics]:
    alerts: list[PartnerEvent] = []
    metrics = FeedMetrics()
    journal = FeedRunJournal(d.home.folders.root)
    claims_processing = processing or LedgerClaimsProcessing(d.ledger, d.audit, sealing_checkpoint(d.config), "full")
    claims = ClaimsInbound(claims_processing, d.home.folders, journal, metrics, alerts.append, clock, ClaimsConfig())
    feeds = LedgerFeedProcessing(d.ledger)
    worker = FeedWorker(
        d.home.folders, d.home.keys, journal, SequoiaFeedCrypto(), _remote, feeds, metrics, alerts.append, now=clock
    )
    worker.claims = claims
    return worker, alerts, metrics


def test_claims_files_over_sftp_with_openpgp(deployment: Deployment, pgp: dict[str, bytes]) -> None:
    d = deployment
    d.home.keys.set_our_secret_key(pgp["ledger"])
    d.home.keys.set_partner_cert(P, certificate_of(pgp["acme"]))
    d.home.keys.save(FeedPartnerConfig(P, require_signature=True))
    ours = pysequoia.Cert.from_bytes(certificate_of(pgp["ledger"]))
    partner = pysequoia.Tsk.from_bytes(pgp["acme"])

    def sealed(data: bytes) -> bytes:
        return pysequoia.encrypt(data, recipients=[ours], signer=partner.signer(), armor=False)

    reconcile = b"partnerClaimId,claimAmount,currency,status\nS-00000,200.10,USD,verified\nS-00001,9.99,USD,verified\n"
    damaged = bytearray(sealed(b'{"partnerClaimId": "S-00000"}\n'))
    damaged[len(damaged) // 2] ^= 1
    uploads = {
        f"claims_{P}_20260115.jsonl.pgp": sealed(claims_bytes(4) + b'{"partnerClaimId": "broken"\n'),
        f"reconcile_{P}_20260115.csv.pgp": sealed(reconcile),
        "claims_other_20260115.jsonl.pgp": sealed(claims_bytes(1, first=50)),  # another partner's name
        f"verify_{P}_20260115.jsonl.pgp": bytes(damaged),
    }
    clock = Clock(datetime.now(UTC))
    worker, alerts, metrics = make_worker(d, clock)
    key = d.home.partner_key(P)

    async def scenario() -> dict[str, bytes]:
        async with running_server(d.home) as port, partner_session(port, P, key) as sftp:
            for name, data in uploads.items():  # one file at a time: the claims file arrives before its reconciliation
                async with sftp.open(f"/inbound/{P}/{name}", "wb") as handle:
                    await handle.write(data)
            await worker.run_once(feed=ELIGIBILITY)
            downloaded: dict[str, bytes] = {}
            for name in await sftp.listdir(f"/outbound/{P}"):
                if name in (".", ".."):
                    continue
                async with sftp.open(f"/outbound/{P}/{name}", "rb") as handle:
                    data = await handle.read()
                    assert isinstance(data, bytes)
                    downloaded[name] = data
            return downloaded

    downloaded = asyncio.run(scenario())
    plain = {
        name.removesuffix(".pgp"): pysequoia.decrypt(data, decryptor=partner.decryptor()).bytes or b""
        for name, data in downloaded.items()
    }
    assert sorted(plain) == sorted(
        [
            f"claims_{P}_20260115.results.jsonl",
            f"reconcile_{P}_20260115.report.jsonl",
            "claims_other_20260115.results.jsonl",
            f"verify_{P}_20260115.results.jsonl",
        ]
    )
    header, lines = parse_results(plain[f"claims_{P}_20260115.results.jsonl"].decode())
    assert (header["status"], header["counts"]) == ("completed", {"imported": 4, "invalid": 1})
    assert check_every_proof(header, lines, verifier_key(d.config)) == 4
    report, findings = parse_results(plain[f"reconcile_{P}_20260115.report.jsonl"].decode())
    assert report["status"] == "completed"
    assert {f["outcome"] for f in findings} >= {"mismatch", "unknown_to_partner"}
    other, other_lines = parse_results(plain["claims_other_20260115.results.jsonl"].decode())
    assert (other["status"], other["rejection"], other_lines) == ("rejected", "file_name", [])
    refused, _ = parse_results(plain[f"verify_{P}_20260115.results.jsonl"].decode())
    assert (refused["status"], refused["rejection"]) == ("rejected", "openpgp")
    claims_alerts = [a for a in alerts if a.data["alert"] != "feed_late"]  # no eligibility file today: late
    assert sorted((a.data["alert"], a.data["file_name"]) for a in claims_alerts) == [
        ("claims_file_rejected", "claims_other_20260115.jsonl"),
        ("claims_file_rejected", f"verify_{P}_20260115.jsonl"),
    ]
    receipts = sorted(p.name for p in d.home.folders.processed(P).iterdir())
    assert receipts == sorted(f"{name}.json" for name in uploads)
    assert not any(d.home.folders.work(P).rglob("*.jsonl"))  # no plaintext left behind
    assert not any(d.home.folders.work(P).rglob("*.csv"))
    text = generate_latest(metrics.registry).decode()
    assert 'ledger_feed_files_total{feed="claims",partner="acme",result="processed"} 1.0' in text
    assert 'ledger_feed_files_total{feed="claims",partner="acme",result="rejected"} 1.0' in text
    assert 'ledger_claims_file_lines_total{kind="claims",outcome="imported",partner="acme"} 4.0' in text
    assert not any(d.home.folders.inbound(P).iterdir())


def drop(d: Deployment, name: str, data: bytes) -> datetime:
    """A completed upload (file and ready marker); when it arrived."""
    d.home.folders.inbound(P).joinpath(name).write_bytes(data)
    d.home.folders.mark_ready(P, name)
    arrived = d.home.folders.ready_since(P, name)
    assert arrived is not None
    return arrived


def test_deadline_alert_once_per_file_and_metrics(deployment: Deployment) -> None:
    d = deployment
    name = f"claims_{P}_20260115.jsonl"
    arrived = drop(d, name, claims_bytes(3))
    clock = Clock(arrived + timedelta(hours=3, minutes=59))
    worker, alerts, metrics = make_worker(d, clock)
    assert worker.claims is not None
    assert worker.claims.check_deadlines(P) == []
    clock.now = arrived + timedelta(hours=4, minutes=1)
    assert worker.claims.check_deadlines(P) == [name]
    assert worker.claims.check_deadlines(P) == [name]  # still overdue, but alerted once
    alerts[:] = [a for a in alerts if a.data["alert"] != "feed_late"]
    assert [(a.type, a.data["alert"], a.data["file_name"]) for a in alerts] == [
        ("audit.alert", "claims_file_overdue", name)
    ]
    assert alerts[0].data["deadline"] == (arrived + timedelta(hours=4)).isoformat()
    text = generate_latest(metrics.registry).decode()
    assert 'ledger_claims_files_overdue{partner="acme"} 1.0' in text
    assert 'ledger_claims_deadline_alerts_total{partner="acme"} 1.0' in text

    steps = asyncio.run(worker.run_once(feed=ELIGIBILITY))
    assert [(s.feed, s.action, s.file, s.accepted) for s in steps] == [("claims", "processed", name, 3)]
    text = generate_latest(metrics.registry).decode()
    assert 'ledger_claims_files_overdue{partner="acme"} 0.0' in text
    assert 'ledger_claims_file_turnaround_seconds_count{kind="claims"} 1.0' in text
    assert worker.journal.load(P).claims_arrived == {}
    assert [a.data["alert"] for a in alerts if a.data["alert"] != "feed_late"] == ["claims_file_overdue"]


class HeldProcessing(LedgerClaimsProcessing):
    """The real processing, held at the start of a file until the test releases it (a file taking hours)."""

    def __init__(self, d: Deployment, release: threading.Event) -> None:
        super().__init__(d.ledger, d.audit, sealing_checkpoint(d.config), "standard")
        self.release = release

    def process_claims(
        self, partner_id: str, source: Path, file_name: str, out_dir: Path, progress: Callable[[int], None] | None
    ) -> ClaimsResult:
        assert self.release.wait(timeout=60)
        return super().process_claims(partner_id, source, file_name, out_dir, progress)


def test_a_file_still_processing_past_its_deadline_raises_the_alert(deployment: Deployment) -> None:
    d = deployment
    name = f"claims_{P}_20260116.jsonl"
    arrived = drop(d, name, claims_bytes(2))
    release = threading.Event()
    clock = Clock(arrived + timedelta(minutes=1))
    worker, alerts, _ = make_worker(d, clock, HeldProcessing(d, release))

    async def scenario() -> None:
        stop, wake = asyncio.Event(), asyncio.Event()
        running = asyncio.create_task(worker.run_forever(stop, wake, lambda: True, poll_seconds=0.05))
        for _ in range(600):  # bounded wait: the pass takes the file, then the timer sees it overdue
            if d.home.folders.in_processing(P) and clock.now < arrived + timedelta(hours=5):
                clock.now = arrived + timedelta(hours=5)
            if any(a.data["alert"] == "claims_file_overdue" for a in alerts):
                break
            await asyncio.sleep(0.05)
        release.set()
        for _ in range(600):
            if not d.home.folders.in_processing(P):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await running

    asyncio.run(scenario())
    raised = [(a.data["alert"], a.data.get("file_name")) for a in alerts if a.data["alert"] != "feed_late"]
    assert raised == [("claims_file_overdue", name)]
    assert (d.home.folders.outbound(P) / f"claims_{P}_20260116.results.jsonl").exists()


def test_client_mode_pulls_claims_files_and_pushes_results(deployment: Deployment, tmp_path: Path) -> None:
    d = deployment
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    our_key = asyncssh.generate_private_key("ssh-ed25519")
    remote_root = tmp_path / "partner-server"
    (remote_root / "outbound").mkdir(parents=True)
    (remote_root / "outbound" / f"claims_{P}_20260115.jsonl").write_bytes(claims_bytes(2))
    d.home.keys.set_client_key(P, our_key.export_private_key())
    clock = Clock(datetime(2026, 1, 15, 10, 0, tzinfo=UTC))  # the daily eligibility pull (03:00) is not due
    worker, alerts, _ = make_worker(d, clock)

    async def run() -> list[str]:
        async with partner_hosted(remote_root, host_key, our_key) as port:
            remote = RemoteServer("127.0.0.1", port, "ledger", host_key.export_public_key().decode().strip())
            d.home.keys.set_remote(d.home.keys.config_or_new(P), remote, None)
            steps = await worker.run_once(feed=ELIGIBILITY)
            return [f"{s.action} {s.file}" for s in steps]

    first = asyncio.run(run())
    assert f"pulled claims_{P}_20260115.jsonl" in first
    assert f"processed claims_{P}_20260115.jsonl" in first
    pushed = sorted(p.name for p in (remote_root / "inbound").iterdir())
    assert f"claims_{P}_20260115.results.jsonl" in pushed
    header, lines = parse_results((remote_root / "inbound" / f"claims_{P}_20260115.results.jsonl").read_text())
    assert header["counts"] == {"imported": 2}
    assert check_every_proof(header, lines, verifier_key(d.config)) == 2

    (remote_root / "outbound" / f"claims_{P}_20260115-2.jsonl").write_bytes(claims_bytes(1, first=9))
    clock.now += timedelta(minutes=5)  # within the pull interval: not pulled yet
    assert not any("pulled" in step for step in asyncio.run(run()))
    clock.now += timedelta(minutes=15)
    assert f"pulled claims_{P}_20260115-2.jsonl" in asyncio.run(run())
    assert [a for a in alerts if a.data["alert"] != "feed_late"] == []
    digest = hashlib.sha256(claims_bytes(2)).hexdigest()
    assert [f.digest for f in d.ledger.batches.files(P, 10)].count(digest) == 1


class Killed(BaseException):
    """Stands for SIGKILL after a chunk of the file was recorded (the worker dies mid-file)."""


def test_a_worker_killed_mid_file_resumes_it_with_every_claim_once(deployment: Deployment) -> None:
    d = deployment
    name = f"claims_{P}_20260117.jsonl"
    drop(d, name, claims_bytes(9))
    d.ledger.batches.chunk_size = 2
    clock = Clock(datetime.now(UTC))
    worker, _, _ = make_worker(d, clock)
    assert worker.claims is not None

    def die(file_name: str, lines: int) -> None:
        if lines >= 4:
            raise Killed

    worker.claims.progress = die
    with pytest.raises(Killed):
        asyncio.run(worker.run_once(feed=ELIGIBILITY))
    assert [p.name for p in d.home.folders.in_processing(P)] == [name]  # taken, not finished
    assert not any(d.home.folders.outbound(P).iterdir())

    restarted, _, _ = make_worker(d, clock)  # a new process: same folders, journal and ledger
    steps = asyncio.run(restarted.run_once(feed=ELIGIBILITY))
    assert [(s.action, s.file, s.accepted, s.rejected) for s in steps] == [("processed", name, 9, 0)]
    header, lines = parse_results((d.home.folders.outbound(P) / f"claims_{P}_20260117.results.jsonl").read_text())
    assert header["counts"] == {"imported": 9}
    assert [line["line"] for line in lines] == list(range(1, 10))
    assert len({line["claimId"] for line in lines}) == 9
    assert check_every_proof(header, lines, verifier_key(d.config)) == 9
    assert d.home.folders.in_processing(P) == []
    assert restarted.journal.load(P).claims_arrived == {}
