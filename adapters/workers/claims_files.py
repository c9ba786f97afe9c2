"""Claims files in the feeds worker (docs/batch.md, "Over SFTP"): seed 000 §3.2 Pattern B, results within 4 hours.

The feeds worker (:mod:`adapters.workers.feeds`) takes every completed inbound upload in arrival order; one
whose name (without its OpenPGP suffix) starts with ``claims_``, ``verify_`` or ``reconcile_`` comes here
instead of the eligibility loader. It is decrypted (and its signature checked) like an eligibility file,
processed through :class:`ClaimsProcessing` (``adapters.batch.processing``: the import, the bulk
verification or the reconciliation), and its results file or reconciliation report is published in the
partner's outbound folder (encrypted to the partner when its certificate is imported) and pushed to the
partner's own server in client mode. The input is then replaced by its receipt in ``processed/``.

Restartable: a file stays in ``processing/`` until its output is published; the import resumes after its
last recorded chunk (no claim twice, none lost) and the reconciliation runs again whole.

**The deadline.** A claims file arrives when its upload completes (its ready marker's time, or when the
worker first saw it); it must be finished within ``sla`` (default 4 hours). :meth:`ClaimsInbound.check_deadlines`
runs on every pass and, in ``ledger feeds worker``, on its own timer beside the passes (so a file that is
still being processed is watched too): a file past its deadline raises ``audit.alert``
(``claims_file_overdue``) once, counted in ``ledger_claims_deadline_alerts_total``, and
``ledger_claims_files_overdue`` shows how many are overdue now. The clock is injected (``now``).
"""

from __future__ import annotations

import asyncio
import time as clock
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from adapters.feed_exchange import FeedFolderStore, FeedJournal, PgpRejected, plain_name
from adapters.workers.feed_metrics import FeedMetrics
from ledger_core.claims.batch.formats import BatchKind, LineOutcome
from ledger_core.shared.validation import format_timestamp
from ledger_core.webhooks.events import PartnerEvent, feed_alert

__all__ = [
    "CLAIMS_KINDS",
    "ClaimsConfig",
    "ClaimsInbound",
    "ClaimsProcessing",
    "ClaimsResult",
    "ClaimsStep",
    "LineProgress",
    "claims_kind",
]

CLAIMS_KINDS = tuple(kind.value for kind in BatchKind)
"""The name prefixes of claims files (docs/batch.md): import, bulk verification, reconciliation."""

LineProgress = Callable[[str, int], None]
"""``progress(file name, lines done)``, called after each chunk of a claims file."""


def claims_kind(name: str) -> BatchKind | None:
    """``claims``, ``verify`` or ``reconcile`` when ``name`` (OpenPGP suffix or not) names a claims file."""
    plain = plain_name(name)
    return next((kind for kind in BatchKind if plain.startswith(f"{kind.value}_")), None)


@dataclass(frozen=True, slots=True)
class ClaimsResult:
    """What processing one claims file gave: its counts by line outcome and its output file."""

    kind: BatchKind
    rejected_whole: bool
    lines: int
    counts: Mapping[str, int]
    output: Path
    """The results file (``<stem>.results.jsonl``) or reconciliation report (``<stem>.report.jsonl``), staged."""
    refused: str | None = None
    """Why the file was refused before the loader read it (OpenPGP, a name not of this partner): no log event
    records it, so the worker raises the alert."""


class ClaimsProcessing(Protocol):
    """The claims batch processing the worker drives (adapter: ``api.claims_processing``)."""

    def process_claims(
        self, partner_id: str, source: Path, file_name: str, out_dir: Path, progress: Callable[[int], None] | None
    ) -> ClaimsResult:
        """Import, verify or reconcile ``source`` (received as ``file_name``), writing its output into ``out_dir``;
        a file whose name does not carry ``partner_id`` is rejected whole."""
        ...

    def reject_claims(self, partner_id: str, file_name: str, reason: str, out_dir: Path) -> ClaimsResult:
        """The output of a file refused before it could be read (decryption, signature): its header alone."""
        ...


@dataclass(frozen=True, slots=True)
class ClaimsConfig:
    sla: timedelta = timedelta(hours=4)
    """A claims file not finished this long after its arrival raises the deadline alert."""
    pull_every: timedelta = timedelta(minutes=15)
    """Client mode: how often claims files are pulled from a partner's own server."""


@dataclass(frozen=True, slots=True)
class ClaimsStep:
    """One claims file the worker handled (names and counts; nothing personal)."""

    kind: BatchKind
    action: str
    file: str
    accepted: int = 0
    rejected: int = 0
    error: str | None = None
    output: str | None = None


_ACCEPTED = frozenset(
    outcome.value
    for outcome in (
        LineOutcome.IMPORTED,
        LineOutcome.ALREADY_IN_LEDGER,
        LineOutcome.REVERIFIED,
        LineOutcome.UNCHANGED,
        LineOutcome.DECIDED,
        LineOutcome.MATCHED,
    )
)
"""Line outcomes a step counts as ``accepted`` (the claim is in the ledger, verified, or matches)."""


@dataclass
class ClaimsInbound:
    """The claims half of the feeds worker's inbound pass, and the deadline watch."""

    processing: ClaimsProcessing
    folders: FeedFolderStore
    journal: FeedJournal
    metrics: FeedMetrics
    alert: Callable[[PartnerEvent], None]
    """Raises ``audit.alert`` (into the webhook outbox)."""
    now: Callable[[], datetime]
    config: ClaimsConfig = field(default_factory=ClaimsConfig)
    progress: LineProgress | None = None

    # -- arrivals and deadlines ----------------------------------------------------------------------
    def note_arrivals(self, partner: str) -> None:
        """Record when each claims file waiting in ``ready`` or ``processing`` arrived (before it is taken)."""
        runs = self.journal.load(partner)
        arrived = dict(runs.claims_arrived)
        for name in self.folders.ready(partner):
            if claims_kind(name) is not None and name not in arrived:
                arrived[name] = (self.folders.ready_since(partner, name) or self.now()).isoformat()
        for path in self.folders.in_processing(partner):
            if claims_kind(path.name) is not None and path.name not in arrived:
                arrived[path.name] = self.now().isoformat()
        if arrived != runs.claims_arrived:
            self.journal.save(replace(runs, claims_arrived=arrived))

    def check_deadlines(self, partner: str) -> list[str]:
        """Raise the deadline alert (once per file) for every claims file past its deadline; their names."""
        self.note_arrivals(partner)
        runs = self.journal.load(partner)
        now = self.now()
        overdue = {
            name: arrived
            for name, arrived in runs.claims_arrived.items()
            if now - datetime.fromisoformat(arrived) > self.config.sla
        }
        self.metrics.claims_overdue.labels(partner).set(len(overdue))
        fresh = [name for name in sorted(overdue) if name not in runs.claims_overdue]
        for name in fresh:
            arrived = datetime.fromisoformat(overdue[name])
            details = {
                "feed": (claims_kind(name) or BatchKind.IMPORT).value,
                "file_name": plain_name(name),
                "arrived": arrived.isoformat(),
                "deadline": (arrived + self.config.sla).isoformat(),
                "sla_hours": self.config.sla.total_seconds() / 3600,
            }
            self._raise(partner, "claims_file_overdue", f"{name}:{overdue[name]}", details)
            self.metrics.claims_deadline_alerts.labels(partner).inc()
        if fresh:
            self.journal.save(replace(runs, claims_overdue=(*runs.claims_overdue, *fresh)))
        return sorted(overdue)

    def pull_due(self, partner: str) -> bool:
        """Client mode: whether claims files are to be pulled now (every ``pull_every``)."""
        pulled = self.journal.load(partner).claims_pulled_at
        return pulled is None or self.now() - datetime.fromisoformat(pulled) >= self.config.pull_every

    def pulled(self, partner: str) -> None:
        runs = self.journal.load(partner)
        self.journal.save(replace(runs, claims_pulled_at=self.now().isoformat()))

    # -- processing ----------------------------------------------------------------------------------
    async def handle(
        self,
        partner: str,
        taken: Path,
        staging: Path,
        decrypt: Callable[[Path], Awaitable[Path]],
        publish: Callable[[Path], Awaitable[str]],
    ) -> ClaimsStep:
        """Decrypt ``taken`` (``decrypt(taken)``: the plaintext path, or :class:`PgpRejected`), process it,
        ``publish`` its output from ``staging``, and forget its deadline."""
        name = plain_name(taken.name)
        kind = claims_kind(name) or BatchKind.IMPORT
        started = clock.perf_counter()
        try:
            plain = await decrypt(taken)
        except PgpRejected as rejected:
            result = await asyncio.to_thread(self.processing.reject_claims, partner, name, rejected.message, staging)
            result = replace(result, refused=rejected.reason.value)
        else:
            try:
                result = await asyncio.to_thread(
                    self.processing.process_claims, partner, plain, name, staging, self._progress_of(name)
                )
            finally:
                if plain != taken:
                    plain.unlink(missing_ok=True)
        self.metrics.duration.labels(kind.value).observe(clock.perf_counter() - started)
        output = await publish(result.output)
        error = result.refused
        if error is not None:  # refused before loading: no log event carries this alert
            details = {"feed": kind.value, "file_name": name, "rejection": error, "report": output}
            self._raise(partner, "claims_file_rejected", name, details)
        return self._finished(partner, taken.name, result, output, error)

    def _raise(self, partner: str, alert: str, key: str, details: Mapping[str, object]) -> None:
        at = format_timestamp(self.now())
        self.alert(feed_alert(partner_id=partner, alert=alert, key=key, at=at, details=dict(details)))

    def _progress_of(self, name: str) -> Callable[[int], None] | None:
        report = self.progress
        if report is None:
            return None
        return lambda lines: report(name, lines)

    def _finished(self, partner: str, taken: str, result: ClaimsResult, output: str, error: str | None) -> ClaimsStep:
        outcome = "rejected" if result.rejected_whole else "processed"
        self.metrics.files.labels(partner, result.kind.value, outcome).inc()
        for line_outcome, count in result.counts.items():
            self.metrics.claims_lines.labels(partner, result.kind.value, line_outcome).inc(count)
        runs = self.journal.load(partner)
        arrived = runs.claims_arrived.get(taken)
        if arrived is not None:
            waited = (self.now() - datetime.fromisoformat(arrived)).total_seconds()
            self.metrics.claims_turnaround.labels(result.kind.value).observe(max(waited, 0.0))
        remaining = {key: value for key, value in runs.claims_arrived.items() if key != taken}
        overdue = tuple(key for key in runs.claims_overdue if key != taken)
        self.journal.save(replace(runs, claims_arrived=remaining, claims_overdue=overdue))
        self.metrics.claims_overdue.labels(partner).set(len(overdue))
        accepted = sum(count for key, count in result.counts.items() if key in _ACCEPTED)
        rejected = sum(count for key, count in result.counts.items() if key not in _ACCEPTED)
        return ClaimsStep(result.kind, outcome, plain_name(taken), accepted, rejected, error, output)
