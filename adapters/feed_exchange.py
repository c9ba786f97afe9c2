"""What the feeds backend (:mod:`adapters.feeds`) and the feeds worker (:mod:`adapters.workers.feeds`) share:
records, errors, name rules and the ports the worker receives. No I/O here.

Partner ids are checked with :func:`ledger_core.shared.validation.check_partner_slug` (``[a-z0-9_]{2,64}``,
a safe path component) before they name a folder or a key file.

* records: :class:`FeedPartnerConfig` (+ :class:`RemoteServer`, :class:`GcsBucket`), :class:`FeedRun`,
  :class:`PartnerRuns`, :class:`RemoteCredentials`, :class:`RetryPolicy`;
* errors: :class:`PgpRejected` (+ :class:`PgpFailure`), :class:`HostKeyRefused`, :class:`RemoteFailure`,
  :class:`BucketFailure` (+ :class:`BucketFailureKind`);
* ports: :class:`FeedFolderStore`, :class:`FeedKeyStore`, :class:`FeedJournal`, :class:`FeedCrypto`,
  :class:`RemoteTransfer` (+ :data:`RemoteFactory`, :data:`BucketFactory`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from ledger_core.engine.errors import InvalidCommand, LedgerError

ENCRYPTED_SUFFIXES = (".pgp", ".gpg", ".asc")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


# -- names -------------------------------------------------------------------------------------------
def check_file_name(name: str) -> str:
    """``name`` if it is a plain file name (no separator, no leading dot, no ``..``), else InvalidCommand."""
    if not _FILE_NAME.match(name) or ".." in name:
        raise InvalidCommand(f"{name!r} is not a feed file name", field="file")
    return name


def is_encrypted_name(name: str) -> bool:
    """Whether a file name says OpenPGP (``.pgp``, ``.gpg`` or ``.asc``)."""
    return name.endswith(ENCRYPTED_SUFFIXES)


def plain_name(name: str) -> str:
    """The name without its OpenPGP suffix (``x.csv.pgp`` -> ``x.csv``)."""
    for suffix in ENCRYPTED_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# -- records -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RemoteServer:
    """A partner-hosted SFTP server (seed 001 section 2.5, "Partner SFTP Server")."""

    host: str
    port: int
    username: str
    host_key: str
    """The pinned host key, OpenSSH public key form (``ssh-ed25519 AAAA...``): any other key is refused."""
    inbound_dir: str = "/outbound"
    """The remote folder we pull eligibility files from (the partner's outbound)."""
    outbound_dir: str = "/inbound"
    """The remote folder we push enrollment and outcome files to."""
    wrapped_password: str | None = None


@dataclass(frozen=True, slots=True)
class GcsBucket:
    """A Google Cloud Storage bucket the partner exchanges files through (issue 15 item 4):
    ``gs://<bucket>/<partner>/inbound/`` (the partner drops files) and ``gs://<bucket>/<partner>/outbound/``
    (we publish). Credentials are not stored here: Google's libraries find them in the environment
    (Application Default Credentials, ``GOOGLE_APPLICATION_CREDENTIALS``; ``STORAGE_EMULATOR_HOST`` for an
    emulator)."""

    bucket: str
    project: str | None = None
    """The billing project of the client (None: the one of the credentials, or none for the emulator)."""

    def prefix(self, partner_id: str, folder: str) -> str:
        """``<partner>/<folder>/``: where ``folder`` (``inbound``, ``outbound``, ``processed``) lives."""
        return f"{partner_id}/{folder}/"


@dataclass(frozen=True, slots=True)
class FeedPartnerConfig:
    """How one partner exchanges files: contact, PGP policy, remote server, schedule overrides."""

    partner_id: str
    it_email: str | None = None
    require_signature: bool = False
    remote: RemoteServer | None = None
    gcs: GcsBucket | None = None
    """A GCS bucket as the partner's transport (exclusive with ``remote``: one transport per partner)."""
    schedules: dict[str, str] = field(default_factory=dict)
    """Feed kind -> ``HH:MM`` or ``day D HH:MM`` (UTC), overriding the deployment's defaults."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> FeedPartnerConfig:
        remote = doc.get("remote")
        gcs = doc.get("gcs")
        return cls(
            partner_id=str(doc["partner_id"]),
            it_email=doc.get("it_email"),
            require_signature=bool(doc.get("require_signature", False)),
            remote=None if remote is None else RemoteServer(**remote),
            gcs=None if gcs is None else GcsBucket(**gcs),
            schedules={str(k): str(v) for k, v in (doc.get("schedules") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class FeedRun:
    """The last run of one feed for one partner."""

    slot: str | None = None
    """ISO time of the last completed schedule slot (None: never)."""
    file: str | None = None
    accepted: int = 0
    rejected: int = 0
    rejected_whole: bool = False
    finished_at: str | None = None
    error: str | None = None
    pending: str | None = None
    """ISO time of an outbound run started and not yet published (a crash): redone first, for that time."""

    def slot_time(self) -> datetime | None:
        return None if self.slot is None else datetime.fromisoformat(self.slot)


@dataclass(frozen=True, slots=True)
class PartnerRuns:
    """The worker's journal for one partner."""

    partner_id: str
    feeds: dict[str, FeedRun] = field(default_factory=dict)
    received: str | None = None
    """Date (ISO) of the newest eligibility file received (from its name)."""
    late_alerted: str | None = None
    """Date (ISO) a lateness alert was last raised (once per day)."""
    unpushed: tuple[str, ...] = ()
    """Outbound files not yet pushed to the partner's own server (retried on the next pass)."""
    claims_arrived: dict[str, str] = field(default_factory=dict)
    """Claims files (inbound name) not finished yet -> when each arrived (ISO): their processing deadline runs
    from there (docs/batch.md, "The 4-hour promise")."""
    claims_overdue: tuple[str, ...] = ()
    """Claims files (of :attr:`claims_arrived`) whose deadline alert was raised (once per file)."""
    claims_pulled_at: str | None = None
    """When claims files were last pulled from the partner's own server (ISO)."""

    def feed(self, kind: str) -> FeedRun:
        return self.feeds.get(kind, FeedRun())

    def with_feed(self, kind: str, run: FeedRun) -> PartnerRuns:
        return replace(self, feeds={**self.feeds, kind: run})

    def received_date(self) -> date | None:
        return None if self.received is None else date.fromisoformat(self.received)


@dataclass(frozen=True, slots=True)
class RemoteCredentials:
    """Our SSH private key for the partner's server, and/or a password."""

    client_key: Path | None
    password: str | None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts and exponential backoff of transfers to partner servers."""

    attempts: int = 4
    first_delay: float = 2.0
    factor: float = 4.0
    connect_timeout: float = 30.0


# -- errors ------------------------------------------------------------------------------------------
class PgpFailure(StrEnum):
    """Why an inbound file was refused by the OpenPGP layer."""

    NO_KEY = "no_key"
    """We have no OpenPGP key yet (``ledger feeds pgp generate``)."""
    NOT_FOR_US = "not_encrypted_to_us"
    DAMAGED = "damaged"
    """Truncated, tampered or not OpenPGP at all: decryption or the integrity check failed."""
    BAD_SIGNATURE = "signature_missing_or_wrong_signer"
    NO_PARTNER_KEY = "no_partner_certificate"
    """The partner requires signatures but no certificate of theirs is imported."""


class PgpRejected(LedgerError):
    """An inbound file failed decryption or verification; ``reason`` says which, ``file`` names it."""

    code = "FEED_PGP_REJECTED"

    def __init__(self, file_name: str, reason: PgpFailure, detail: str) -> None:
        super().__init__(f"{file_name}: {reason.value}: {detail}", file=file_name, reason=reason.value)
        self.file_name = file_name
        self.reason = reason
        self.detail = detail


class HostKeyRefused(LedgerError):
    """The partner's server presented a host key other than the pinned one (or none is pinned)."""

    code = "SFTP_HOST_KEY_REFUSED"

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"{host}:{port}: host key refused ({reason})", host=host, port=port, reason=reason)
        self.reason = reason


class RemoteFailureKind(StrEnum):
    AUTHENTICATION = "authentication_refused"
    UNREACHABLE = "unreachable"


class RemoteFailure(LedgerError):
    """The partner's server could not be used after the retries (or refused our credentials)."""

    code = "SFTP_REMOTE_FAILED"

    def __init__(self, host: str, port: int, kind: RemoteFailureKind, detail: str) -> None:
        super().__init__(f"{host}:{port}: {kind.value}: {detail}", host=host, port=port, kind=kind.value)
        self.kind = kind


class BucketFailureKind(StrEnum):
    """Why a GCS transfer failed (after the retries, for the transient kinds)."""

    NO_CREDENTIALS = "no_credentials"
    """No Application Default Credentials in the environment (nor an emulator)."""
    FORBIDDEN = "forbidden"
    """The credentials were refused (401/403)."""
    NO_BUCKET = "no_such_bucket"
    UNREACHABLE = "unreachable"
    """Connection refused, timeouts, 429 and 5xx answers, after every attempt."""
    REFUSED = "refused"
    """Any other error answer (400, 412, ...)."""


class BucketFailure(LedgerError):
    """A GCS bucket could not be used; nothing was lost (what was pulled is in inbound, what was not
    pushed stays unpushed and is retried on the next pass)."""

    code = "GCS_TRANSFER_FAILED"

    def __init__(self, bucket: str, kind: BucketFailureKind, detail: str) -> None:
        super().__init__(f"gs://{bucket}: {kind.value}: {detail}", bucket=bucket, kind=kind.value)
        self.kind = kind


# -- ports -------------------------------------------------------------------------------------------
class FeedFolderStore(Protocol):
    """The feed folders (adapter: :class:`adapters.feeds.folders.FeedFolders`)."""

    def ensure(self, partner_id: str) -> None: ...
    def outbound(self, partner_id: str) -> Path: ...
    def work(self, partner_id: str) -> Path: ...
    def mark_ready(self, partner_id: str, name: str) -> None: ...
    def ready(self, partner_id: str) -> list[str]: ...
    def ready_since(self, partner_id: str, name: str) -> datetime | None: ...
    def take(self, partner_id: str, name: str) -> Path: ...
    def in_processing(self, partner_id: str) -> list[Path]: ...
    def finish(self, partner_id: str, taken: Path, receipt: Mapping[str, object]) -> Path: ...
    def inbound(self, partner_id: str) -> Path: ...
    def pulled_list(self, partner_id: str) -> Path: ...


class FeedKeyStore(Protocol):
    """Per-partner settings and keys (adapter: :class:`adapters.feeds.partner_files.FeedKeyFiles`)."""

    def partner_ids(self) -> list[str]: ...
    def config_or_new(self, partner_id: str) -> FeedPartnerConfig: ...
    def client_key_path(self, partner_id: str) -> Path: ...
    def remote_password(self, config: FeedPartnerConfig) -> str | None: ...
    def partner_cert(self, partner_id: str) -> bytes | None: ...
    def our_secret_key(self) -> bytes | None: ...


class FeedJournal(Protocol):
    """The worker's journal (adapter: :class:`adapters.feeds.runs.FeedRunJournal`)."""

    def load(self, partner_id: str) -> PartnerRuns: ...
    def save(self, runs: PartnerRuns) -> None: ...


class FeedCrypto(Protocol):
    """OpenPGP for feed files (adapter: :class:`adapters.feeds.openpgp.SequoiaFeedCrypto`)."""

    def decrypt_inbound(
        self, source: Path, target: Path, our_secret_key: bytes | None, partner_cert: bytes | None, require: bool
    ) -> list[str]:
        """Decrypt (and verify when ``require``) into ``target``; raises :class:`PgpRejected`."""
        ...

    def encrypt_outbound(self, source: Path, target: Path, partner_cert: bytes, our_secret_key: bytes | None) -> None:
        """Encrypt ``source`` to ``partner_cert`` (signed with our key) into ``target``."""
        ...


class RemoteTransfer(Protocol):
    """One partner-hosted server (adapter: :class:`adapters.feeds.sftp_client.RemoteSftp`)."""

    async def pull(self, partner_id: str, folders: FeedFolderStore, pattern: Callable[[str], bool]) -> list[str]:
        """Download new matching files into the partner's inbound folder, marked ready; their names."""
        ...

    async def push(self, files: Sequence[Path]) -> list[str]:
        """Upload ``files`` to the remote outbound folder; the names pushed."""
        ...


RemoteFactory = Callable[[RemoteServer, RemoteCredentials, RetryPolicy], RemoteTransfer]
BucketFactory = Callable[[str, GcsBucket, RetryPolicy], RemoteTransfer]
"""(partner id, bucket, retry policy) -> the partner's folders in the bucket
(adapter: :class:`adapters.feeds.gcs_client.GcsTransfer`)."""
