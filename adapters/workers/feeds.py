"""The feeds worker: takes completed uploads, decrypts and verifies them, hands them to the loader, and
produces, encrypts, publishes and pushes the outbound feeds on their schedule (docs/feeds.md).

It receives everything (folders, key files, the journal, the file processing, alerts, mail, metrics);
the command line composes it (``ledger feeds worker`` / ``run``, ``ledger serve`` with SFTP enabled).

One pass, per partner:

1. **pull** new eligibility files from a partner-hosted server (SFTP) or the partner's GCS bucket when the
   eligibility slot is due;
2. **inbound**: files left in ``processing/`` by a crash first, then completed uploads in arrival
   order. An OpenPGP file is decrypted (and its signature verified) into a private work file; a file
   that fails is rejected whole with a report, and nothing of it is loaded. The plaintext work file is
   removed afterwards, and the file read is replaced by its receipt in ``processed/`` (personal data
   is kept only sealed in the ledger, so that an erasure erases it);
   Then the "you're eligible" email to each member the file registered who opted in (``email_opt_in``),
   claimed in the log before it is sent: once per member, across crashes and re-runs;
3. **enrollment** (daily) and **outcome** (monthly) feeds when their slot is due, encrypted to the
   partner's certificate when one is imported, published in ``outbound/`` and pushed when the partner
   hosts its own server or exchanges through a bucket (a failed push is retried on the next pass);
4. **lateness**: no eligibility file dated today by the deadline raises ``audit.alert`` once per day.

The pull and push steps (and their failure alerts) are :mod:`adapters.workers.feed_transfers`.

Claims files (``claims_``, ``verify_``, ``reconcile_``: docs/batch.md) arrive in the same inbound folder and
are taken in the same arrival order; :mod:`adapters.workers.claims_files` processes them, publishes their
results, pulls them in client mode (every ``pull_every``) and watches their deadline (``claims=``).

Alerts: a file rejected by the loader, or with too many rows skipped, raises ``audit.alert`` from its log
event (the webhook projector); this worker raises the alerts no log event carries: a file refused by
OpenPGP, a late file, a refused host key or a failed transfer (SFTP or GCS).

Restartable: a slot is recorded as done in the journal only after its file was published, and a file
taken for processing stays in ``processing/`` until it is finished, so a killed worker redoes at most
the step it was in (the loader and the feed writers are idempotent). An outbound run is marked
``pending`` (with its time) before the writer records its delivery in the log; a pending run is redone
for that same time first, so a delivery recorded but never published (the next incremental feed starts
after it) still reaches the partner.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import time as clock
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Protocol

from adapters.feed_exchange import (
    BucketFactory,
    FeedCrypto,
    FeedFolderStore,
    FeedJournal,
    FeedKeyStore,
    FeedPartnerConfig,
    FeedRun,
    PgpRejected,
    RemoteFactory,
    RetryPolicy,
    is_encrypted_name,
    plain_name,
)
from adapters.workers.claims_files import ClaimsInbound, claims_kind
from adapters.workers.feed_metrics import FeedMetrics
from adapters.workers.feed_transfers import FeedTransfers, StepResult
from ledger_core.members.feeds.formats import FeedKind
from ledger_core.members.feeds.notifications import (
    EligibilityNotice,
    EmailMessage,
    Mailer,
    eligible_message,
    file_rejected_message,
)
from ledger_core.members.feeds.schedule import (
    DEFAULT_LATE_AFTER,
    DEFAULT_SCHEDULES,
    FeedSchedule,
    due_slot,
    is_late,
)
from ledger_core.shared.validation import format_timestamp
from ledger_core.webhooks.events import PartnerEvent, feed_alert

log = logging.getLogger("adapters.workers.feeds")
_DATED = re.compile(r"^eligibility_(?P<partner>[a-z0-9_-]+)_(?P<day>\d{8})\.")

__all__ = ["EligibilityResult", "FeedProcessing", "FeedWorker", "FeedWorkerConfig", "StepResult"]


@dataclass(frozen=True, slots=True)
class EligibilityResult:
    """What loading one eligibility file gave."""

    accepted: int
    rejected: int
    rejected_whole: bool
    report: Path | None
    notices: Sequence[EligibilityNotice] = ()
    """The file's new members who opted in to email (also when the file was processed before: a restart)."""


class FeedProcessing(Protocol):
    """The file processing the worker drives (parsing, validating, loading, writing feed files)."""

    def process_eligibility(self, partner_id: str, source: Path, file_name: str, out_dir: Path) -> EligibilityResult:
        """Load ``source`` (received as ``file_name``), writing its report into ``out_dir``."""
        ...

    def reject_eligibility(self, partner_id: str, file_name: str, reason: str, out_dir: Path) -> Path:
        """Write the report of a file rejected before it could be read (decryption, signature)."""
        ...

    def claim_eligibility_email(self, partner_id: str, notice: EligibilityNotice) -> str | None:
        """Record that the member is being emailed and return the member's own address (None: emailed already,
        not opted in, or erased): at most one "you're eligible" email per member."""
        ...

    def write_enrollment(self, partner_id: str, out_dir: Path, now: datetime) -> Path | None:
        """Write the day's enrollment feed into ``out_dir``; its path (None: nothing to write)."""
        ...

    def write_outcome(self, partner_id: str, out_dir: Path, now: datetime) -> Path | None:
        """Write the prior month's outcome feed into ``out_dir``; its path (None: nothing to write)."""
        ...


@dataclass(frozen=True, slots=True)
class FeedWorkerConfig:
    schedules: Mapping[FeedKind, FeedSchedule] = field(default_factory=lambda: dict(DEFAULT_SCHEDULES))
    late_after: time = DEFAULT_LATE_AFTER
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class FeedWorker:
    """Runs passes over every partner with feed settings (or one partner / one feed)."""

    def __init__(
        self,
        folders: FeedFolderStore,
        keys: FeedKeyStore,
        journal: FeedJournal,
        crypto: FeedCrypto,
        remote: RemoteFactory,
        processing: FeedProcessing,
        metrics: FeedMetrics,
        alert: Callable[[PartnerEvent], None],
        mailer: Mailer | None = None,
        config: FeedWorkerConfig | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        claims: ClaimsInbound | None = None,
        bucket: BucketFactory | None = None,
    ) -> None:
        self.folders = folders
        self.keys = keys
        self.journal = journal
        self.crypto = crypto
        self.processing = processing
        self.metrics = metrics
        self.alert = alert
        self.mailer = mailer
        self.config = config or FeedWorkerConfig()
        self.now = now
        self.claims = claims
        # ``now`` read at each call: a test moves the worker's clock by setting ``worker.now``
        self.transfers = FeedTransfers(
            folders, keys, journal, remote, bucket, self.config.retry, metrics, self._raise, lambda: self.now()
        )

    # -- passes --------------------------------------------------------------------------------------
    async def run_once(
        self, partner_id: str | None = None, feed: FeedKind | None = None, force: bool = False
    ) -> list[StepResult]:
        """One pass; ``force`` runs the selected feeds now whatever their schedule."""
        partners = [partner_id] if partner_id is not None else self.keys.partner_ids()
        results: list[StepResult] = []
        for partner in partners:
            config = self.keys.config_or_new(partner)
            self.folders.ensure(partner)
            for kind in (FeedKind.ELIGIBILITY, FeedKind.ENROLLMENT, FeedKind.OUTCOME):
                if feed is None or feed is kind:
                    results.extend(await self._run_feed(config, kind, force))
            results.extend(await self.transfers.push_pending(config))
            self._check_lateness(config)
            if self.claims is not None:
                self.claims.check_deadlines(partner)
        return results

    async def run_forever(
        self, stop: asyncio.Event, wake: asyncio.Event, leader: Callable[[], bool], poll_seconds: float
    ) -> None:
        """Passes until ``stop`` is set: every ``poll_seconds``, or at once when ``wake`` is set (an upload
        completed). Only while ``leader()`` is true (PostgreSQL: the advisory lock is held). Claims file
        deadlines are also checked on their own timer, so a file still being processed is watched too."""
        watch = asyncio.create_task(self._watch_deadlines(stop, leader, poll_seconds))
        try:
            await self._passes(stop, wake, leader, poll_seconds)
        finally:
            watch.cancel()

    async def _passes(
        self, stop: asyncio.Event, wake: asyncio.Event, leader: Callable[[], bool], poll_seconds: float
    ) -> None:
        while not stop.is_set():
            wake.clear()  # before the pass: an upload completing during the pass wakes the next one
            if leader():
                try:
                    for result in await self.run_once():
                        log.info("feed step", extra={"feed_step": result.to_json()})
                except Exception:  # a bad pass is logged; the loop (and the server hosting it) keeps running
                    log.exception("feeds pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, wake), timeout=poll_seconds)

    async def _watch_deadlines(self, stop: asyncio.Event, leader: Callable[[], bool], poll_seconds: float) -> None:
        while self.claims is not None and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
            if leader() and not stop.is_set():
                try:
                    for partner in self.keys.partner_ids():
                        self.claims.check_deadlines(partner)
                except Exception:  # logged; the next tick tries again
                    log.exception("claims deadline check failed")

    def schedule(self, config: FeedPartnerConfig, kind: FeedKind) -> FeedSchedule:
        override = config.schedules.get(kind.value)
        return FeedSchedule.parse(override) if override else self.config.schedules[kind]

    async def _run_feed(self, config: FeedPartnerConfig, kind: FeedKind, force: bool) -> list[StepResult]:
        now = self.now()
        runs = self.journal.load(config.partner_id)
        slot = due_slot(self.schedule(config, kind), runs.feed(kind.value).slot_time(), now)
        if force and slot is None:
            slot = now
        if kind is FeedKind.ELIGIBILITY:
            claims_due = self.claims is not None and self.claims.pull_due(config.partner_id)
            claims = self.claims if claims_due else None
            pulled = slot is not None or claims_due
            results = await self.transfers.pull(config, slot is not None, claims) if pulled else []
            results += await self._process_inbound(config)
        else:
            pending = runs.feed(kind.value).pending
            results = [] if pending is None else await self._produce(config, kind, datetime.fromisoformat(pending))
            if slot is None:
                return results
            results += await self._produce(config, kind, now)
        if slot is not None:
            runs = self.journal.load(config.partner_id)
            self.journal.save(runs.with_feed(kind.value, replace(runs.feed(kind.value), slot=slot.isoformat())))
        return results

    # -- inbound -------------------------------------------------------------------------------------
    async def _process_inbound(self, config: FeedPartnerConfig) -> list[StepResult]:
        partner = config.partner_id
        if self.claims is not None:
            self.claims.note_arrivals(partner)  # before the ready markers are dropped
        taken = self.folders.in_processing(partner)
        for name in self.folders.ready(partner):
            taken.append(self.folders.take(partner, name))
        results = []
        for path in taken:
            result = await self._process_file(config, path)
            receipt = {**result.to_json(), "processed_at": self.now().isoformat()}
            await asyncio.to_thread(self.folders.finish, partner, path, receipt)
            results.append(result)
        return results

    async def _process_file(self, config: FeedPartnerConfig, taken: Path) -> StepResult:
        partner = config.partner_id
        name = plain_name(taken.name)
        staging = self.folders.work(partner) / "out"
        staging.mkdir(exist_ok=True, mode=0o700)
        decrypt = functools.partial(self._decrypt, config)
        if self.claims is not None and claims_kind(name) is not None:
            step = await self.claims.handle(partner, taken, staging, decrypt, functools.partial(self._publish, config))
            return StepResult(partner, step.kind, step.action, step.file, step.accepted, step.rejected, step.error)
        self._record_received(partner, name)
        started = clock.perf_counter()
        try:
            plain = await decrypt(taken)
        except PgpRejected as rejected:
            report = await asyncio.to_thread(
                self.processing.reject_eligibility, partner, name, rejected.message, staging
            )
            result = EligibilityResult(0, 0, rejected_whole=True, report=report)
            return await self._after_eligibility(config, name, result, started, rejected.reason.value)
        try:
            result = await asyncio.to_thread(self.processing.process_eligibility, partner, plain, name, staging)
        finally:
            if plain != taken:
                plain.unlink(missing_ok=True)
        return await self._after_eligibility(config, name, result, started, None)

    async def _decrypt(self, config: FeedPartnerConfig, taken: Path) -> Path:
        """The plaintext of an inbound file (a work file when it is OpenPGP); raises :class:`PgpRejected`."""
        if not is_encrypted_name(taken.name):
            return taken
        plain = self.folders.work(config.partner_id) / plain_name(taken.name)
        cert, ours = self.keys.partner_cert(config.partner_id), self.keys.our_secret_key()
        await asyncio.to_thread(self.crypto.decrypt_inbound, taken, plain, ours, cert, config.require_signature)
        return plain

    async def _after_eligibility(
        self, config: FeedPartnerConfig, name: str, result: EligibilityResult, started: float, error: str | None
    ) -> StepResult:
        partner = config.partner_id
        self.metrics.duration.labels(FeedKind.ELIGIBILITY.value).observe(clock.perf_counter() - started)
        outcome = "rejected" if result.rejected_whole else "processed"
        self.metrics.files.labels(partner, FeedKind.ELIGIBILITY.value, outcome).inc()
        self.metrics.rows.labels(partner, "accepted").inc(result.accepted)
        self.metrics.rows.labels(partner, "rejected").inc(result.rejected)
        report_name = None
        if result.report is not None:
            report_name = await self._publish(config, result.report)
        if error is not None:  # refused before loading: no log event carries this alert, so raise it here
            details = {"feed": "eligibility", "file_name": name, "rejection": error, "report": report_name}
            self._raise(partner, "eligibility_file_rejected", name, details)
        if result.rejected_whole:
            await self._mail_rejection(config, name, report_name or "")
        await self._mail_eligible(partner, result.notices)
        runs = self.journal.load(partner)
        previous = runs.feed(FeedKind.ELIGIBILITY.value)
        run = FeedRun(
            slot=previous.slot,
            file=name,
            accepted=result.accepted,
            rejected=result.rejected,
            rejected_whole=result.rejected_whole,
            finished_at=self.now().isoformat(),
            error=error,
        )
        self.journal.save(runs.with_feed(FeedKind.ELIGIBILITY.value, run))
        return StepResult(partner, FeedKind.ELIGIBILITY, outcome, name, result.accepted, result.rejected, error)

    def _record_received(self, partner: str, name: str) -> None:
        match = _DATED.match(name)
        if match is None or match["partner"] != partner:
            return
        day = datetime.strptime(match["day"], "%Y%m%d").date()
        runs = self.journal.load(partner)
        if runs.received_date() is None or day > (runs.received_date() or date.min):
            self.journal.save(replace(runs, received=day.isoformat()))

    # -- outbound ------------------------------------------------------------------------------------
    async def _produce(self, config: FeedPartnerConfig, kind: FeedKind, now: datetime) -> list[StepResult]:
        partner = config.partner_id
        staging = self.folders.work(partner) / "out"
        staging.mkdir(exist_ok=True, mode=0o700)
        writer = self.processing.write_enrollment if kind is FeedKind.ENROLLMENT else self.processing.write_outcome
        runs = self.journal.load(partner)  # the writer records its delivery in the log: publish it even after a crash
        self.journal.save(runs.with_feed(kind.value, replace(runs.feed(kind.value), pending=now.isoformat())))
        started = clock.perf_counter()
        written = await asyncio.to_thread(writer, partner, staging, now)
        self.metrics.duration.labels(kind.value).observe(clock.perf_counter() - started)
        runs = self.journal.load(partner)
        if written is None:
            self.journal.save(runs.with_feed(kind.value, replace(runs.feed(kind.value), pending=None)))
            return [StepResult(partner, kind, "nothing to write")]
        published = await self._publish(config, written)
        self.metrics.files.labels(partner, kind.value, "published").inc()
        runs = self.journal.load(partner)
        finished = self.now().isoformat()
        run = replace(runs.feed(kind.value), file=published, finished_at=finished, error=None, pending=None)
        self.journal.save(runs.with_feed(kind.value, run))
        return [StepResult(partner, kind, "published", published)]

    async def _publish(self, config: FeedPartnerConfig, staged: Path) -> str:
        """Move (or encrypt) a staged file into the partner's outbound folder; its published name."""
        partner = config.partner_id
        outbound = self.folders.outbound(partner)
        cert = self.keys.partner_cert(partner)
        if cert is None:
            target = outbound / staged.name
            os.replace(staged, target)
        else:
            target = outbound / f"{staged.name}.pgp"
            temporary = outbound.parent.parent / f".{target.name}.part"
            await asyncio.to_thread(self.crypto.encrypt_outbound, staged, temporary, cert, self.keys.our_secret_key())
            os.replace(temporary, target)
            staged.unlink()
        if config.remote is not None or config.gcs is not None:
            runs = self.journal.load(partner)
            self.journal.save(replace(runs, unpushed=(*runs.unpushed, target.name)))
        return target.name

    # -- monitoring ----------------------------------------------------------------------------------
    def _check_lateness(self, config: FeedPartnerConfig) -> None:
        partner = config.partner_id
        now = self.now()
        runs = self.journal.load(partner)
        late = is_late(runs.received_date(), self.config.late_after, now)
        self.metrics.late.labels(partner, FeedKind.ELIGIBILITY.value).set(1 if late else 0)
        today = now.astimezone(UTC).date().isoformat()
        if not late or runs.late_alerted == today:
            return
        expected = f"eligibility_{partner}_{now.astimezone(UTC):%Y%m%d}.csv"
        deadline = f"{today}T{self.config.late_after:%H:%M}:00Z"
        self._raise(partner, "feed_late", today, {"feed": "eligibility", "expected": expected, "deadline": deadline})
        self.metrics.late_alerts.labels(partner, FeedKind.ELIGIBILITY.value).inc()
        self.journal.save(replace(runs, late_alerted=today))

    def _raise(self, partner: str, alert: str, key: str, details: Mapping[str, object]) -> None:
        at = format_timestamp(self.now())
        self.alert(feed_alert(partner_id=partner, alert=alert, key=key, at=at, details=dict(details)))

    async def _mail_rejection(self, config: FeedPartnerConfig, file_name: str, report_name: str) -> None:
        if self.mailer is not None and config.it_email:
            message = file_rejected_message(config.it_email, config.partner_id, file_name, report_name)
            await self._send(message_partner=config.partner_id, message=message)

    async def _mail_eligible(self, partner: str, notices: Sequence[EligibilityNotice]) -> None:
        """Seed 001 §2.2 step 5: each member claimed in the log first, then mailed at the member's own address
        (decrypted for this send only). Without a mailer nothing is claimed (the emails stay unsent)."""
        if self.mailer is None:
            return
        for notice in notices:
            address = await asyncio.to_thread(self.processing.claim_eligibility_email, partner, notice)
            if address is not None:
                await self._send(message_partner=partner, message=eligible_message(partner, address))

    async def _send(self, *, message_partner: str, message: EmailMessage) -> None:
        if self.mailer is None:
            return
        try:
            await self.mailer.send(message)
        except Exception as error:  # noqa: BLE001 - an email failing never fails the file; it is reported
            log.warning("notification email failed for partner %s: %s", message_partner, type(error).__name__)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
