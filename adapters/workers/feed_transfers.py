"""The feeds worker's transfer steps: pull from and push to a partner-hosted transport (docs/feeds.md).

A partner hosts its own transport when it has a GCS bucket or an SFTP server in its feed settings; then
:meth:`FeedTransfers.pull` fetches its new inbound files into its folders and
:meth:`FeedTransfers.push_pending` pushes the files published in ``outbound/`` that the journal lists as
unpushed (a failed push is retried on the next pass). A partner using our SFTP server has no transport:
both steps do nothing. A failed transfer is counted, raises ``audit.alert`` (at most once an hour per
partner and direction: the alert's key) and becomes a step result; it never fails the pass.

:class:`StepResult` (what a step did) and :func:`step_kind` (the feed a file name belongs to) are shared
with :mod:`adapters.workers.feeds`, which drives these steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from adapters.feed_exchange import (
    BucketFactory,
    BucketFailure,
    FeedFolderStore,
    FeedJournal,
    FeedKeyStore,
    FeedPartnerConfig,
    HostKeyRefused,
    RemoteCredentials,
    RemoteFactory,
    RemoteFailure,
    RemoteTransfer,
    RetryPolicy,
)
from adapters.workers.claims_files import CLAIMS_KINDS, ClaimsInbound, claims_kind
from adapters.workers.feed_metrics import FeedMetrics
from ledger_core.members.feeds.formats import FeedKind

TransferError = HostKeyRefused | RemoteFailure | BucketFailure
Alert = Callable[[str, str, str, Mapping[str, object]], None]
"""(partner id, alert, key, details) -> raise ``audit.alert``."""


@dataclass(frozen=True, slots=True)
class StepResult:
    """One thing a pass did, for the command line and the logs (names of files, counts; nothing personal)."""

    partner_id: str
    feed: str
    """A :class:`FeedKind`, or a claims file kind (``claims``, ``verify``, ``reconcile``)."""
    action: str
    file: str | None = None
    accepted: int = 0
    rejected: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        """The step's fields that are set (``feed`` as its name)."""
        return {key: value for key, value in asdict(self).items() if value is not None}


def step_kind(name: str) -> str:
    """The feed (or claims file kind) a file name belongs to; an unknown name counts as enrollment."""
    feed = next((kind for kind in FeedKind if name.startswith(f"{kind.value}_")), FeedKind.ENROLLMENT)
    return (claims_kind(name) or feed).value


class FeedTransfers:
    """Pulls and pushes through each partner's own transport (see the module docstring)."""

    def __init__(
        self,
        folders: FeedFolderStore,
        keys: FeedKeyStore,
        journal: FeedJournal,
        remote: RemoteFactory,
        bucket: BucketFactory | None,
        retry: RetryPolicy,
        metrics: FeedMetrics,
        alert: Alert,
        now: Callable[[], datetime],
    ) -> None:
        self.folders = folders
        self.keys = keys
        self.journal = journal
        self.remote = remote
        self.bucket = bucket
        self.retry = retry
        self.metrics = metrics
        self.alert = alert
        self.now = now

    def client(self, config: FeedPartnerConfig) -> RemoteTransfer | None:
        """The partner's own transport: its GCS bucket, its SFTP server, or None (it uses our SFTP server)."""
        if config.gcs is not None and self.bucket is not None:
            return self.bucket(config.partner_id, config.gcs, self.retry)
        if config.remote is None:
            return None
        key_path = self.keys.client_key_path(config.partner_id)
        credentials = RemoteCredentials(key_path if key_path.exists() else None, self.keys.remote_password(config))
        return self.remote(config.remote, credentials, self.retry)

    async def pull(
        self, config: FeedPartnerConfig, eligibility: bool, claims: ClaimsInbound | None
    ) -> list[StepResult]:
        """Fetch the partner's new eligibility files (when ``eligibility``) and claims files (when ``claims``
        is given: their pull is due); ``claims`` is told it was pulled whatever happened."""
        client = self.client(config)
        if client is None:
            return []
        kinds = (("eligibility",) if eligibility else ()) + (CLAIMS_KINDS if claims is not None else ())
        prefixes = tuple(f"{kind}_{config.partner_id}_" for kind in kinds)
        try:
            names = await client.pull(config.partner_id, self.folders, lambda name: name.startswith(prefixes))
        except (HostKeyRefused, RemoteFailure, BucketFailure) as error:
            return [self.failed(config.partner_id, "pull", error)]
        finally:  # tried: the next claims pull is one interval away, even if this one failed
            if claims is not None:
                claims.pulled(config.partner_id)
        return [StepResult(config.partner_id, step_kind(name), "pulled", name) for name in names]

    async def push_pending(self, config: FeedPartnerConfig) -> list[StepResult]:
        """Push the partner's published files not pushed yet; the journal keeps those that fail."""
        runs = self.journal.load(config.partner_id)
        client = self.client(config)
        if client is None or not runs.unpushed:
            return []
        files = [self.folders.outbound(config.partner_id) / name for name in runs.unpushed]
        try:
            pushed = await client.push(files)
        except (HostKeyRefused, RemoteFailure, BucketFailure) as error:
            return [self.failed(config.partner_id, "push", error)]
        runs = self.journal.load(config.partner_id)
        self.journal.save(replace(runs, unpushed=tuple(n for n in runs.unpushed if n not in pushed)))
        return [StepResult(config.partner_id, step_kind(name), "pushed", name) for name in pushed]

    def failed(self, partner: str, direction: str, error: TransferError) -> StepResult:
        """Count and alert a failed ``direction`` (``pull`` or ``push``); the step's result."""
        reason = "host_key_refused" if isinstance(error, HostKeyRefused) else str(error.details.get("kind"))
        self.metrics.transfer_failures.labels(partner, direction, reason).inc()
        alert = "sftp_host_key_refused" if isinstance(error, HostKeyRefused) else "sftp_transfer_failed"
        if isinstance(error, BucketFailure):
            alert = "gcs_transfer_failed"
        key = f"{direction}:{self.now().astimezone(UTC):%Y%m%d%H}"
        self.alert(partner, alert, key, {"direction": direction, "reason": reason, "detail": error.message})
        return StepResult(partner, FeedKind.ELIGIBILITY, f"{direction} failed", error=error.message)
