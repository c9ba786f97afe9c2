"""Configuration of the server: one frozen :class:`Settings` of nested sections, built in code or from ``LEDGER_*``.

Nothing here opens anything: :func:`api.app.create_app` reads the settings and opens the ledger, the
sealer, Redis and the rest in the app's lifespan. ``ledger serve`` passes settings to its workers through
the environment (:meth:`Settings.to_env` / :meth:`Settings.from_env`), since ``uvicorn --workers N``
imports the app in every worker.

Sections: :class:`StorageSection` (``settings.storage``), :class:`SecuritySection` (``settings.security``),
:class:`SealingSection` (``settings.sealing``), :class:`HttpSection` (``settings.http``),
:class:`MembersSection` (``settings.members``), :class:`WebhooksSection` (``settings.webhooks``),
:class:`FeedsSection` (``settings.feeds``) and :class:`SsoSection` (``settings.sso``). Every field
keeps its environment variable: ``LEDGER_`` plus the name in its ``env`` metadata (by default the field's
own name), in upper case, e.g. ``settings.webhooks.timeout_seconds`` is ``LEDGER_WEBHOOK_TIMEOUT_SECONDS``.

Rate limits: the tiers of seed 000 section 4.3 (:data:`ledger_core.shared.vocabulary.TIER_LIMITS`),
overridable per tier with ``rate_limits`` (``LEDGER_RATE_LIMITS='{"sandbox": [60, 5, 1000]}'`` = requests
per minute, burst, daily quota or null). Tests use this to make a 429 quick to reach.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import UnionType
from typing import Any, get_args, get_type_hints

from adapters.storage import DEFAULT_DATA_DIR, ClaimFactsMode, StorageConfig
from ledger_core.engine.application import DEFAULT_AGGREGATE_CACHE_SIZE
from ledger_core.shared.vocabulary import TIER_LIMITS, Tier, TierLimits

ENV_PREFIX = "LEDGER_"
API_VERSION = "v1"
ANONYMOUS_TIER = "anonymous"
"""The rate-limit policy of requests whose partner is not (yet) known, keyed by client address."""


def _env(name: str, **kwargs: Any) -> Any:
    """A dataclass field whose environment variable is ``LEDGER_<name>`` instead of its own name."""
    return field(metadata={"env": name}, **kwargs)


@dataclass(frozen=True, slots=True)
class VersionPolicy:
    """Lifecycle of one API version (``v1``): deprecated and sunset dates, retired flag, migration link.

    ``Deprecation`` (RFC 9745) is sent from ``deprecated_at`` on, ``Sunset`` (RFC 8594) when set; a
    retired version answers every call with 410 ``API_VERSION_RETIRED`` and the ``migration`` link.
    """

    deprecated_at: datetime | None = None
    sunset_at: datetime | None = None
    retired: bool = False
    migration: str | None = None

    def __post_init__(self) -> None:
        if self.sunset_at is not None and self.deprecated_at is not None and self.sunset_at < self.deprecated_at:
            raise ValueError("a Sunset date is never earlier than the Deprecation date (RFC 9745 section 3)")


def _default_limits() -> dict[str, TierLimits]:
    limits = {tier.value: value for tier, value in TIER_LIMITS.items()}
    limits[ANONYMOUS_TIER] = TierLimits(60, 20, None)
    return limits


@dataclass(frozen=True, slots=True)
class StorageSection:
    """Where the ledger and the shared caches live."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    redis_url: str | None = None
    """Redis for rate limits, replay and idempotency shared by workers; None = in-process (one worker only)."""
    redis_prefix: str = "ledger:"
    writer_socket: str | None = None
    """``LEDGER_WRITER_SOCKET``: hand saves to the ``ledger writer`` listening there (one writer per
    ledger, docs/deployment.md); None = this process commits its own saves (the default)."""
    aggregate_cache_size: int = DEFAULT_AGGREGATE_CACHE_SIZE
    """Aggregates each server or feeds-worker process keeps decoded (LRU, ~2.1 KiB a claim aggregate); a miss
    reads the aggregate's events from the log (docs/performance.md, "Soak: a smaller aggregate cache")."""
    claim_facts: ClaimFactsMode | None = None
    """``LEDGER_CLAIM_FACTS=table|memory``: the risk rules' cross-claim facts in tables of the ledger's
    database (shared by every worker, the default) or in each process; None = the variable, else the tables."""

    @property
    def config(self) -> StorageConfig:
        """The ledger's storage location, as :func:`adapters.opening.open_ledger` takes it."""
        return StorageConfig(self.data_dir, self.database_url, self.writer_socket, self.claim_facts)


@dataclass(frozen=True, slots=True)
class SecuritySection:
    """Access tokens, request signing, idempotency and the keys the server publishes."""

    issuer: str = "https://ledger.proveniq.local"
    audience: str = "https://ledger.proveniq.local/api/v1"
    token_ttl_seconds: int = 3600
    clock_skew_seconds: int = 300
    idempotency_ttl_seconds: int = 86_400
    signing_key: Path | None = None
    previous_token_keys: tuple[Path, ...] = ()
    """Earlier access-token keys (PEM) still published in the JWKS after a token-key rotation."""
    vkey: str | None = None
    """The checkpoint verifier key to publish when this process has no signing key (separate sealer)."""


@dataclass(frozen=True, slots=True)
class SealingSection:
    """The sealer (checkpoints) and how long a submission waits for its proof."""

    embedded: bool = _env("EMBEDDED_SEALER", default=True)
    batch_entries: int = _env("SEAL_BATCH_ENTRIES", default=1000)
    interval_ms: int = _env("SEAL_INTERVAL_MS", default=50)
    wait_seconds: float = _env("SEAL_WAIT_SECONDS", default=5.0)
    """How long ``POST /api/v1/claims`` waits for its event to be sealed before answering 202 without a proof."""
    poll_seconds: float = _env("SEAL_POLL_SECONDS", default=0.02)
    ready_max_lag: int = _env("READY_MAX_SEAL_LAG", default=100_000)
    """``/ready`` fails when more entries than this wait for a checkpoint."""
    witnesses: str = _env("WITNESSES", default="")
    """Witnesses asked to cosign each checkpoint: ``URL VKEY`` pairs separated by ``;`` (docs/proofs.md)."""
    public_entries: bool = _env("TILE_ENTRIES_PUBLIC", default=False)
    """Serve the entry bundles ``/tile/entries/...`` to anyone (every partner's entries; docs/proofs.md "Tiles")."""


@dataclass(frozen=True, slots=True)
class HttpSection:
    """The HTTP server: body limits, rate limits, API versions, logging and worker threads."""

    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 100 * 1_048_576
    max_token_body_bytes: int = 4096
    """The body of ``POST /oauth/token``, the one endpoint that reads a body before authenticating anyone."""
    large_body_bytes: int = 65_536
    max_large_bodies: int = 8
    """Bodies over ``large_body_bytes`` stream at most ``max_large_bodies`` at a time per process (more:
    503 with Retry-After); see api/http/pipeline/body.py for the memory bound this gives."""
    trusted_proxies: tuple[str, ...] = ()
    """CIDRs of the reverse proxies whose ``X-Forwarded-For`` is believed (api/http/proxies.py); none by
    default: the client is the TCP peer. ``LEDGER_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7``."""
    rate_limits: Mapping[str, TierLimits] = field(default_factory=_default_limits)
    partner_policies: Mapping[str, str] = field(default_factory=dict)
    """Partner id -> rate-limit policy name (a key of ``rate_limits``) overriding the partner's tier."""
    versions: Mapping[str, VersionPolicy] = field(default_factory=dict)
    docs_url: str = "/docs/errors"
    """Base of the ``documentation`` links in errors: the error reference this server serves (a path is made
    absolute with the request's origin), or an absolute URL of a copy published elsewhere."""
    json_logs: bool = True
    log_level: str = "INFO"
    worker_threads: int = 8
    """Threads (per server process) running the blocking ledger calls (api/http/threads.py); more threads
    than database connections (8 per process) only queue and contend for the GIL
    (docs/performance.md, HTTP)."""
    worker_healthcheck_seconds: int = 30
    """``ledger serve --workers N``: how long uvicorn's supervisor waits for a worker to answer its ping
    before it SIGKILLs and replaces it (uvicorn's default, 5 s, killed busy, healthy workers with their
    in-flight requests on a loaded host: docs/performance.md, "Soak")."""
    malloc_trim_seconds: float = 30.0
    """How often each server and feeds-worker process asks glibc to return its freed heap pages to the system
    (``malloc_trim(0)``, adapters/workers/malloc_trim.py); 0 = never. Without it the RSS of a busy worker
    creeps up with freed-but-kept pages (docs/performance.md, "Soak: malloc trimming")."""

    def limits_for(self, tier: str) -> TierLimits:
        """The rate limits of ``tier`` (an unknown tier gets sandbox limits)."""
        return self.rate_limits.get(tier) or self.rate_limits.get(Tier.SANDBOX.value) or TIER_LIMITS[Tier.SANDBOX]


@dataclass(frozen=True, slots=True)
class MembersSection:
    """Eligibility, enrollments, reminders and outcomes (docs/eligibility.md)."""

    restricted_states: tuple[str, ...] = ()
    """States where genetic testing is not offered (seed 001 §2.2); ``LEDGER_RESTRICTED_STATES=NY,XX``."""
    enrollment_base_url: str = "https://fairunderwriting.com/enroll"
    enrollment_token_ttl_seconds: int = 7 * 86_400
    """Lifetime of the signed token in an eligibility answer's ``enrollment_url``."""
    reminder_send_delay_seconds: int = 300
    outcome_suppression_threshold: int = 11
    """Outcome counts from 1 to this minus one are suppressed (null)."""
    cost_model: Mapping[str, str] = field(default_factory=dict)
    """Overrides of :class:`~ledger_core.members.cost_model.CostModel`
    (``LEDGER_COST_MODEL='{"cost_per_test": "120"}'``)."""


@dataclass(frozen=True, slots=True)
class WebhooksSection:
    """Webhook projection and delivery (docs/webhooks.md)."""

    embedded: bool = _env("EMBEDDED_WEBHOOKS", default=True)
    """Run the webhook projector and dispatcher in this process (a PostgreSQL deployment may run
    ``ledger webhooks run`` processes instead and turn this off)."""
    allow_private_targets: bool | None = _env("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=None)
    """Send to http and private/loopback addresses. Unset: allowed on the embedded SQLite default (a
    developer's machine), refused when a database URL is set (a server deployment); see
    :attr:`Settings.webhooks_may_target_private`."""
    timeout_seconds: float = _env("WEBHOOK_TIMEOUT_SECONDS", default=30.0)
    retry_scale: float = _env("WEBHOOK_RETRY_SCALE", default=1.0)
    """Multiplies the retry schedule (1 min, 5 min, 15 min, 1 h); tests run it fast."""
    max_in_flight: int = _env("WEBHOOK_MAX_IN_FLIGHT", default=256)
    http_client: str = _env("WEBHOOK_HTTP_CLIENT", default="aiohttp")
    """``aiohttp`` or ``httpx`` (see the webhook senders and docs/performance.md)."""
    ca_file: str | None = _env("WEBHOOK_CA_FILE", default=None)
    """PEM trust anchors for webhook targets instead of the system's (a private CA; tests). Certificates
    are always verified, TLS 1.2 at least (docs/webhooks.md, "Targets")."""


@dataclass(frozen=True, slots=True)
class FeedsSection:
    """Batch feeds (docs/feeds.md): eligibility in, enrollment and outcome out; our SFTP server, the feed
    folders, schedules and alerts."""

    batch_size: int = _env("FEEDS_BATCH_SIZE", default=1000)
    """Records per batch of the eligibility feed's bulk path (one save, one key-store call, one counter update)."""
    alert_share: float = _env("FEEDS_ALERT_SHARE", default=0.05)
    """``audit.alert`` when more than this share of a file's records is skipped (and always on rejection)."""
    workers: int = _env("FEEDS_WORKERS", default=1)
    """Worker processes that check and seal the rows of eligibility files of more than two batches, beside
    the process that writes the log (0: that process does it all; docs/feeds.md "Throughput")."""
    sftp_enabled: bool = _env("SFTP_ENABLED", default=False)
    """Run the SFTP server (and the feeds worker) inside ``ledger serve``; ``ledger sftp serve`` runs it alone."""
    sftp_host: str = _env("SFTP_HOST", default="127.0.0.1")
    sftp_port: int = _env("SFTP_PORT", default=2222)
    root: Path | None = field(default=None, metadata={"env": "FEEDS_ROOT"})
    """The feed folders (inbound, outbound, processed...); None = ``<data dir>/feeds/root``."""
    max_upload_bytes: int = _env("SFTP_MAX_UPLOAD_BYTES", default=2 * 1024**3)
    eligibility_at: str = _env("FEEDS_ELIGIBILITY_AT", default="03:00")
    """Daily (UTC) pull from partner-hosted servers; uploads to our server are processed on arrival."""
    enrollment_at: str = _env("FEEDS_ENROLLMENT_AT", default="02:00")
    outcome_at: str = _env("FEEDS_OUTCOME_AT", default="day 1 02:00")
    late_after: str = _env("FEEDS_LATE_AFTER", default="04:00")
    """A partner's daily eligibility file not received by this time (UTC) raises ``audit.alert``."""
    poll_seconds: float = _env("FEEDS_POLL_SECONDS", default=30.0)
    claims_sla_hours: float = _env("CLAIMS_SLA_HOURS", default=4.0)
    """A claims file not finished this long after its arrival raises ``audit.alert`` (docs/batch.md)."""
    claims_pull_minutes: float = _env("CLAIMS_PULL_MINUTES", default=15.0)
    """Client mode: how often claims files are pulled from a partner's own server."""
    claims_level: str = _env("CLAIMS_DEFAULT_LEVEL", default="standard")
    """The verification level of a claims file's lines that name none."""
    claims_chunk_lines: int = _env("BATCH_CHUNK_LINES", default=500)
    """Lines of a claims file per recorded chunk (a crash redoes at most one), as ``ledger batch run --chunk-lines``."""
    claims_workers: int = _env("BATCH_WORKERS", default=1)
    """Processes that parse a claims file's lines and prove its results beside the feeds worker's own (0: none;
    started with the first file big enough), as ``ledger batch run --workers``."""
    metrics_port: int | None = _env("FEEDS_METRICS_PORT", default=None)
    """``ledger feeds worker`` serves its Prometheus metrics on this port (None: not served)."""
    smtp_host: str | None = _env("SMTP_HOST", default=None)
    """Notification emails (file rejected, "you're eligible"); None = no email is sent."""
    smtp_port: int = _env("SMTP_PORT", default=587)
    smtp_sender: str = _env("SMTP_SENDER", default="feeds@fairunderwriting.example")
    smtp_username: str | None = _env("SMTP_USERNAME", default=None)
    smtp_password: str | None = _env("SMTP_PASSWORD", default=None)

    def root_dir(self, data_dir: Path) -> Path:
        return self.root if self.root is not None else data_dir / "feeds" / "root"


@dataclass(frozen=True, slots=True)
class SsoSection:
    """Single sign-on: the SAML service provider, sessions and ``sso_token`` (docs/sso.md)."""

    base_url: str = _env("SSO_BASE_URL", default="https://ledger.proveniq.local")
    """The public origin of the browser endpoints (``/sso/...``): SP entity ids, ACS and SLO URLs derive from it."""
    portal_audience: str = _env("SSO_PORTAL_AUDIENCE", default="https://fairunderwriting.com/portal")
    """The ``aud`` a partner backend puts in an ``sso_token``."""
    access_ttl_seconds: int = _env("SSO_ACCESS_TTL_SECONDS", default=300)
    refresh_ttl_seconds: int = _env("SSO_REFRESH_TTL_SECONDS", default=8 * 3600)
    session_max_seconds: int = _env("SSO_SESSION_MAX_SECONDS", default=12 * 3600)
    clock_skew_seconds: int = _env("SSO_CLOCK_SKEW_SECONDS", default=60)
    """Tolerance on NotBefore / NotOnOrAfter / iat / exp."""
    request_ttl_seconds: int = _env("SSO_REQUEST_TTL_SECONDS", default=600)
    """How long an AuthnRequest id waits for its response (seed 001 §1.4: 5-10 minutes)."""
    assertion_max_age_seconds: int = _env("SSO_ASSERTION_MAX_AGE_SECONDS", default=600)
    """An assertion's lifetime is capped at this, whatever its NotOnOrAfter says (seed 001 §1.4: 5-10 minutes)."""
    sso_token_max_ttl_seconds: int = _env("SSO_TOKEN_MAX_TTL_SECONDS", default=300)
    cookie_samesite: str = _env("SSO_COOKIE_SAMESITE", default="lax")
    """``lax`` (default), ``strict``, or ``none`` (the portal inside a partner's iframe)."""
    sp_key: Path | None = field(default=None, metadata={"env": "SSO_SP_KEY"})
    """The SP's signing key (PEM); default ``<data dir>/saml_sp.key``, created on first use."""
    sp_certificate: Path | None = field(default=None, metadata={"env": "SSO_SP_CERTIFICATE"})
    """The SP's certificate (PEM); default ``<data dir>/saml_sp.crt``, self-signed on first use."""
    allow_http_providers: bool = _env("SSO_ALLOW_HTTP_PROVIDERS", default=False)
    """Accept http:// IdP URLs (loopback test providers only)."""
    oidc_timeout_seconds: float = _env("SSO_OIDC_TIMEOUT_SECONDS", default=10.0)
    """Each call to an OIDC provider (discovery, JWKS, token, userinfo) gives up after this: the failure page."""
    certificate_check_seconds: int = _env("SSO_CERTIFICATE_CHECK_SECONDS", default=3600)
    """How often ``ledger serve`` checks IdP and SP certificate expiry (``audit.alert`` 30 days before)."""
    roster_inbox: Path | None = field(default=None, metadata={"env": "SSO_ROSTER_INBOX"})
    """Where roster files ``users_<partner>_<YYYYMMDD>.csv`` arrive; default ``<data dir>/inbound/sso``."""
    roster_interval_seconds: int = _env("SSO_ROSTER_INTERVAL_SECONDS", default=300)
    """How often the roster inbox is scanned (deprovisioning sync)."""


_SECTIONS: Mapping[str, type[Any]] = {
    "storage": StorageSection,
    "security": SecuritySection,
    "sealing": SealingSection,
    "http": HttpSection,
    "members": MembersSection,
    "webhooks": WebhooksSection,
    "feeds": FeedsSection,
    "sso": SsoSection,
}
"""Each section attribute of :class:`Settings` and its type, in the order the environment is written."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to know; the defaults are the embedded single-process deployment."""

    storage: StorageSection = field(default_factory=StorageSection)
    security: SecuritySection = field(default_factory=SecuritySection)
    sealing: SealingSection = field(default_factory=SealingSection)
    http: HttpSection = field(default_factory=HttpSection)
    members: MembersSection = field(default_factory=MembersSection)
    webhooks: WebhooksSection = field(default_factory=WebhooksSection)
    feeds: FeedsSection = field(default_factory=FeedsSection)
    sso: SsoSection = field(default_factory=SsoSection)

    @property
    def webhooks_may_target_private(self) -> bool:
        """Whether webhook endpoints may be http or private/loopback addresses (SSRF guard off)."""
        return self.webhook_target_rule[0]

    @property
    def webhook_target_rule(self) -> tuple[bool, str]:
        """Whether private targets are allowed, and why (logged at start: the allowance is never silent)."""
        if self.webhooks.allow_private_targets is not None:
            return self.webhooks.allow_private_targets, "LEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS is set"
        if self.storage.database_url is None:
            return True, "embedded SQLite default (development); set LEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS=0 to refuse"
        return False, "server deployment (a database URL is set)"

    def with_limits(self, overrides: Mapping[str, TierLimits]) -> Settings:
        """These settings with ``overrides`` merged onto the rate limits."""
        return replace(self, http=replace(self.http, rate_limits={**self.http.rate_limits, **overrides}))

    # -- environment ---------------------------------------------------------------------------------
    def to_env(self) -> dict[str, str]:
        """``LEDGER_*`` variables that :meth:`from_env` turns back into these settings."""
        env: dict[str, str] = {}
        for section_name in _SECTIONS:
            section = getattr(self, section_name)
            for item in fields(section):
                value = getattr(section, item.name)
                if value is not None:
                    name = _env_name(item)
                    env[ENV_PREFIX + name.upper()] = _dump(name, value)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``LEDGER_*`` variables; anything unset keeps its default."""
        source = os.environ if environ is None else environ
        sections: dict[str, Any] = {}
        for section_name, section_type in _SECTIONS.items():
            values: dict[str, Any] = {}
            for item in fields(section_type):
                name = _env_name(item)
                raw = source.get(ENV_PREFIX + name.upper())
                if raw is not None and raw != "":
                    values[item.name] = _load(section_type, item, raw)
            if "rate_limits" in values:  # overrides are merged onto the defaults
                values["rate_limits"] = {**_default_limits(), **values["rate_limits"]}
            sections[section_name] = section_type(**values)
        return cls(**sections)


def _env_name(item: Field[Any]) -> str:
    """The variable name of a section field, without ``LEDGER_``: its ``env`` metadata or its own name."""
    return str(item.metadata.get("env", item.name)).lower()


_TRUE = frozenset({"1", "true", "yes", "on"})
_PARSERS: Mapping[type, Callable[[str], Any]] = {
    bool: lambda raw: raw.strip().lower() in _TRUE,
    int: int,
    float: float,
    Path: Path,
    str: str,
}
"""How a variable becomes a field of each scalar type (the field's annotation says which: ``int | None`` is
``int``); fields of other types have a loader by name (:data:`_LOADERS`)."""


_FIELD_TYPES: dict[str, dict[str, Any]] = {}
"""Section class name -> each field's type (read once, on first use)."""


def _field_types(section_type: type[Any]) -> dict[str, Any]:
    """Each field's type, ``None`` left out of an optional one."""
    known = _FIELD_TYPES.get(section_type.__qualname__)
    if known is None:
        known = _FIELD_TYPES[section_type.__qualname__] = {}
        for name, hint in get_type_hints(section_type).items():
            held = [arg for arg in get_args(hint) if arg is not type(None)]
            known[name] = held[0] if isinstance(hint, UnionType) and len(held) == 1 else hint
    return known


def _dump_limits(value: Mapping[str, TierLimits]) -> str:
    return json.dumps({tier: [v.requests_per_minute, v.burst, v.daily_quota] for tier, v in value.items()})


def _load_limits(raw: str) -> dict[str, TierLimits]:
    return {
        tier: TierLimits(int(v[0]), int(v[1]), None if v[2] is None else int(v[2]))
        for tier, v in json.loads(raw).items()
    }


def _load_states(raw: str) -> tuple[str, ...]:
    return tuple(sorted({part.strip().upper() for part in raw.split(",") if part.strip()}))


def _load_mapping(raw: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads(raw).items()}


def _load_choice(kind: type[StrEnum], name: str, raw: str) -> StrEnum:
    try:
        return kind(raw.strip().lower())
    except ValueError:
        choices = " or ".join(member.value for member in kind)
        raise ValueError(f"{ENV_PREFIX}{name.upper()} must be {choices}, not {raw!r}") from None


_DUMPERS: dict[str, Callable[[Any], str]] = {
    "rate_limits": _dump_limits,
    "partner_policies": lambda value: json.dumps(dict(value)),
    "cost_model": lambda value: json.dumps(dict(value)),
    "restricted_states": ",".join,
    "trusted_proxies": ",".join,
    "versions": lambda value: json.dumps({version: _policy_json(policy) for version, policy in value.items()}),
    "previous_token_keys": lambda value: os.pathsep.join(str(path) for path in value),
}
_LOADERS: dict[str, Callable[[str], Any]] = {
    "rate_limits": _load_limits,
    "partner_policies": _load_mapping,
    "cost_model": _load_mapping,
    "restricted_states": _load_states,
    "trusted_proxies": lambda raw: tuple(part.strip() for part in raw.split(",") if part.strip()),
    "versions": lambda raw: {version: _policy(doc) for version, doc in json.loads(raw).items()},
    "previous_token_keys": lambda raw: tuple(Path(part) for part in raw.split(os.pathsep) if part),
}


def _dump(name: str, value: Any) -> str:
    if name in _DUMPERS:
        return _DUMPERS[name](value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _load(section_type: type[Any], item: Field[Any], raw: str) -> Any:
    """The value of ``item`` from its variable's text: by its loader, else by its type."""
    name = _env_name(item)
    if name in _LOADERS:
        return _LOADERS[name](raw)
    kind = _field_types(section_type)[item.name]
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return _load_choice(kind, name, raw)
    return _PARSERS[kind](raw)


def _policy_json(policy: VersionPolicy) -> dict[str, Any]:
    return {
        "deprecatedAt": None if policy.deprecated_at is None else policy.deprecated_at.isoformat(),
        "sunsetAt": None if policy.sunset_at is None else policy.sunset_at.isoformat(),
        "retired": policy.retired,
        "migration": policy.migration,
    }


def _policy(doc: Mapping[str, Any]) -> VersionPolicy:
    def moment(key: str) -> datetime | None:
        value = doc.get(key)
        return None if value is None else datetime.fromisoformat(str(value))

    return VersionPolicy(moment("deprecatedAt"), moment("sunsetAt"), bool(doc.get("retired")), doc.get("migration"))
