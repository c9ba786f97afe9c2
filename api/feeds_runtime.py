"""Composing the batch-feed transport for a process: feed folders and keys, the SFTP server, the feeds
worker (with its alerts, mail and metrics), and PostgreSQL leadership (docs/feeds.md).

Used by ``ledger sftp serve``, ``ledger feeds worker|run|status`` and ``ledger serve`` when
``settings.feeds.sftp_enabled`` is on (the server and the worker then run in a thread of their own with
their own event loop, beside the HTTP workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from adapters.batch.processing import sealing_checkpoint
from adapters.batch.workers import batch_workers
from adapters.feed_exchange import GcsBucket, RemoteCredentials, RemoteServer, RemoteTransfer, RetryPolicy
from adapters.feeds.folders import FeedFolders
from adapters.feeds.host_key import ensure_host_key
from adapters.feeds.openpgp import SequoiaFeedCrypto
from adapters.feeds.partner_files import FeedKeyFiles
from adapters.feeds.runs import FeedRunJournal
from adapters.files.master_key import KeyWrapper, load_master_key
from adapters.opening import open_audit_log, open_ledger
from adapters.smtp.mailer import SmtpConfig, SmtpMailer
from adapters.storage import open_outbox
from adapters.workers.claims_files import ClaimsConfig, ClaimsInbound, ClaimsProcessing, LineProgress
from adapters.workers.feed_metrics import FeedMetrics
from adapters.workers.feeds import FeedProcessing, FeedWorker, FeedWorkerConfig
from adapters.workers.malloc_trim import start_malloc_trim
from api.claims_processing import LedgerClaimsProcessing
from api.feeds_processing import LedgerFeedProcessing
from api.membership import feed_policy, member_policy
from api.settings import Settings
from ledger_core.ledger import Ledger
from ledger_core.members.feeds.formats import FeedKind
from ledger_core.members.feeds.schedule import FeedSchedule
from ledger_core.webhooks.events import PartnerEvent

logger = logging.getLogger("api.feeds")
FEEDS_LOCK_CLASS = 0x46454544  # "FEED": one feeds worker per schema on PostgreSQL

__all__ = [
    "FeedFiles",
    "TransportThread",
    "feed_files",
    "feeds_ledger",
    "run_transport",
    "start_transport_thread",
    "worker_config",
]


@dataclass(frozen=True, slots=True)
class FeedFiles:
    """The feed folders, the per-partner key files and the worker's journal of one deployment."""

    folders: FeedFolders
    keys: FeedKeyFiles
    journal: FeedRunJournal


def feed_files(settings: Settings) -> FeedFiles:
    data_dir = settings.storage.data_dir
    root = settings.feeds.root_dir(data_dir)
    keys = FeedKeyFiles(data_dir, KeyWrapper(load_master_key(data_dir)))
    return FeedFiles(FeedFolders(root), keys, FeedRunJournal(root))


def feeds_ledger(settings: Settings) -> Ledger:
    """The ledger with the deployment's member policy (what eligibility rows are checked against)."""
    return open_ledger(
        settings.storage.config,
        restricted_states=settings.members.restricted_states,
        member_policy=member_policy(settings),
        feed_policy=feed_policy(settings),
        aggregate_cache_size=settings.storage.aggregate_cache_size,
    )


def worker_config(settings: Settings) -> FeedWorkerConfig:
    feeds = settings.feeds
    schedules = {
        FeedKind.ELIGIBILITY: FeedSchedule.parse(feeds.eligibility_at),
        FeedKind.ENROLLMENT: FeedSchedule.parse(feeds.enrollment_at),
        FeedKind.OUTCOME: FeedSchedule.parse(feeds.outcome_at),
    }
    return FeedWorkerConfig(schedules=schedules, late_after=time.fromisoformat(feeds.late_after), retry=RetryPolicy())


def _remote(remote: RemoteServer, credentials: RemoteCredentials, retry: RetryPolicy) -> RemoteTransfer:
    from adapters.feeds import quiet_asyncssh

    quiet_asyncssh()  # asyncssh: imported by the commands that use SFTP only, without the DSA warning
    from adapters.feeds.sftp_client import RemoteSftp

    return RemoteSftp(remote, credentials, retry)


def _bucket(partner_id: str, bucket: GcsBucket, retry: RetryPolicy) -> RemoteTransfer:
    from adapters.feeds.gcs_client import GcsTransfer  # google-cloud-storage: imported when a partner uses GCS

    return GcsTransfer(partner_id, bucket, retry)


@contextlib.contextmanager
def _alert_sink(settings: Settings) -> Iterator[Callable[[PartnerEvent], None]]:
    """``audit.alert`` events into the webhook outbox (delivered by the dispatcher like every webhook)."""
    outbox = open_outbox(settings.storage.config)

    def alert(event: PartnerEvent) -> None:
        with outbox.transaction() as tx:
            tx.enqueue(event, outbox.now())
        logger.warning("feeds alert %s for %s", event.data.get("alert"), event.partner_id)

    try:
        yield alert
    finally:
        outbox.close()


def _mailer(settings: Settings) -> SmtpMailer | None:
    feeds = settings.feeds
    if feeds.smtp_host is None:
        return None
    config = SmtpConfig(feeds.smtp_host, feeds.smtp_port, feeds.smtp_sender, feeds.smtp_username, feeds.smtp_password)
    return SmtpMailer(config)


def claims_config(settings: Settings) -> ClaimsConfig:
    feeds = settings.feeds
    return ClaimsConfig(timedelta(hours=feeds.claims_sla_hours), timedelta(minutes=feeds.claims_pull_minutes))


@contextlib.contextmanager
def feed_worker(
    settings: Settings,
    metrics: FeedMetrics,
    processing: FeedProcessing | None = None,
    *,
    claims_processing: ClaimsProcessing | None = None,
    progress: LineProgress | None = None,
) -> Iterator[FeedWorker]:
    """A worker over the deployment's files and ledger (the ledger, audit log and outbox closed on exit), claims
    files included (``progress(file, lines)`` after each chunk of one)."""
    files = feed_files(settings)
    with contextlib.ExitStack() as stack:
        if processing is None or claims_processing is None:
            ledger = stack.enter_context(feeds_ledger(settings))
            processing = processing or LedgerFeedProcessing(ledger)
            if claims_processing is None:
                ledger.batches.chunk_size = settings.feeds.claims_chunk_lines
                audit = stack.enter_context(open_audit_log(settings.storage.config))
                covering = sealing_checkpoint(settings.storage.config, settings.security.signing_key)
                workers = stack.enter_context(
                    batch_workers(
                        settings.storage.config,
                        settings.feeds.claims_workers,
                        signing_key=settings.security.signing_key,
                    )
                )
                claims_processing = LedgerClaimsProcessing(
                    ledger, audit, covering, settings.feeds.claims_level, workers
                )
        alert = stack.enter_context(_alert_sink(settings))
        claims = ClaimsInbound(
            claims_processing,
            files.folders,
            files.journal,
            metrics,
            alert,
            lambda: datetime.now(UTC),
            claims_config(settings),
            progress,
        )
        yield FeedWorker(
            files.folders,
            files.keys,
            files.journal,
            SequoiaFeedCrypto(),
            _remote,
            processing,
            metrics,
            alert,
            mailer=_mailer(settings),
            config=worker_config(settings),
            claims=claims,
            bucket=_bucket,
        )


def leadership(settings: Settings) -> tuple[Callable[[], bool], Callable[[], None]]:
    """(``is_leader``, ``release``): on PostgreSQL one worker per schema holds an advisory lock; on SQLite
    (one machine, one process by construction) every caller leads."""
    url = settings.storage.database_url
    if url is None or not url.startswith("postgres"):
        return (lambda: True), (lambda: None)
    from adapters.postgres.session_lock import SessionLock

    lock = SessionLock(url, FEEDS_LOCK_CLASS)
    return lock.try_acquire, lock.release


async def run_transport(
    settings: Settings,
    stop: asyncio.Event,
    *,
    serve_sftp: bool,
    run_worker: bool,
    metrics: FeedMetrics | None = None,
    ready: Callable[[int], None] | None = None,
) -> None:
    """Run our SFTP server and/or the feeds worker until ``stop`` is set. ``ready(port)`` once listening."""
    metrics = metrics or FeedMetrics()
    files = feed_files(settings)
    wake = asyncio.Event()
    acceptor = None
    if serve_sftp:
        from adapters.feeds import quiet_asyncssh

        quiet_asyncssh()  # asyncssh: imported when serving SFTP only, without the DSA warning
        from adapters.feeds.sftp_server import SftpServerConfig, start_sftp_server

        host_key = ensure_host_key(settings.storage.data_dir)
        config = SftpServerConfig(
            settings.feeds.sftp_host, settings.feeds.sftp_port, host_key, settings.feeds.max_upload_bytes
        )
        acceptor = await start_sftp_server(config, files.folders, files.keys, lambda _p, _n: wake.set())
        if ready is not None:
            ready(acceptor.get_port())
    is_leader, release = leadership(settings) if run_worker else ((lambda: False), (lambda: None))
    try:
        if run_worker:
            _, stop_trimming = start_malloc_trim(settings.http.malloc_trim_seconds, logger)
            try:
                with feed_worker(settings, metrics) as worker:
                    await worker.run_forever(stop, wake, is_leader, settings.feeds.poll_seconds)
            finally:
                stop_trimming()
        else:
            await stop.wait()
    finally:
        release()
        if acceptor is not None:
            acceptor.close()
            await acceptor.wait_closed()


@dataclass(frozen=True, slots=True)
class TransportThread:
    """The SFTP server and feeds worker running in a thread (``ledger serve`` with SFTP enabled)."""

    port: int
    stop: Callable[[], None]


def start_transport_thread(settings: Settings, metrics: FeedMetrics | None = None) -> TransportThread:
    """Start the SFTP server and the worker in a thread with its own event loop; returns once listening.
    Its metrics are served on ``settings.feeds.metrics_port`` when set."""
    metrics = metrics or FeedMetrics()
    if settings.feeds.metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(settings.feeds.metrics_port, registry=metrics.registry)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    listening: list[int] = []
    started = threading.Event()
    failure: list[BaseException] = []

    def ready(port: int) -> None:
        listening.append(port)
        started.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(
                run_transport(settings, stop, serve_sftp=True, run_worker=True, metrics=metrics, ready=ready)
            )
        except Exception as error:  # to the starting thread if it failed to start, else to the log
            if started.is_set():
                logger.exception("the SFTP server and feeds worker stopped")
            failure.append(error)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="ledger-feeds", daemon=True)
    thread.start()
    started.wait()
    if failure:
        raise failure[0]

    def halt() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)

    return TransportThread(listening[0], halt)
