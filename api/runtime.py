"""Everything a running server holds open, built in the app's lifespan (never at import time).

:func:`open_runtime` opens, in order: the ledger (SQLite in the data directory or PostgreSQL), a tree
store for proofs, the embedded sealer thread (the default; a PostgreSQL deployment may run ``ledger
sealer`` instead and set ``settings.sealing.embedded`` off), the token signing key and deployment secret, and the
rate-limit / replay / idempotency stores (Redis when ``settings.storage.redis_url`` is set, in process otherwise).
:meth:`Runtime.close` releases them in reverse order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.files.signing_key import load_signing_key, previous_vkeys, signing_key_path
from adapters.key_sources import require_keys_apart
from adapters.memory.idempotency import InProcessIdempotencyStore
from adapters.memory.ratelimit import InProcessRateLimiter
from adapters.memory.replay import InProcessReplayCache
from adapters.opening import open_ledger, start_embedded_sealer
from adapters.outbox import OutboxStore
from adapters.ports import ManagedTreeStore
from adapters.storage import open_tree_store
from adapters.workers.malloc_trim import start_malloc_trim
from adapters.workers.outcome_recovery import start_outcome_recovery
from adapters.workers.seal_waiter import SealWaiter
from adapters.workers.sealer import SealerRunner
from adapters.workers.witnesses import parse_witnesses
from api.http.observability import Metrics
from api.http.pipeline import Security, build_security
from api.membership import enrollment_links, member_policy
from api.security.credentials import PartnerDirectory
from api.security.secrets import load_deployment_secret, load_token_key
from api.security.tokens import TokenIssuer
from api.settings import Settings
from api.sso_jobs import sp_certificate_pem, start_sso_jobs
from api.sso_runtime import SsoRuntime, open_sso
from api.webhooks_runtime import open_webhooks
from ledger_core.engine.audit_log import AuditLog
from ledger_core.engine.auditing import ProofService
from ledger_core.engine.promises import InclusionPromises
from ledger_core.engine.proof_wait import ProofWait
from ledger_core.engine.sealing import SealPolicy
from ledger_core.engine.tile_log import TileLog
from ledger_core.ledger import Ledger

logger = logging.getLogger("api.runtime")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """The open resources of one server process. The use cases: ``ledger.claims``, ``ledger.documents`` and
    ``ledger.membership`` (:class:`Ledger`), ``audit`` (log pages, proofs, checkpoints) and ``proof_wait``
    (a new entry's proof, once sealed)."""

    settings: Settings
    ledger: Ledger
    audit: AuditLog
    proof_wait: ProofWait
    tree: ManagedTreeStore
    waiter: SealWaiter
    issuer: TokenIssuer
    security: Security
    metrics: Metrics
    sealer: SealerRunner | None = None
    vkey: str | None = None
    previous_vkeys: tuple[str, ...] = ()
    """Verifier keys of the signing keys ``ledger keys rotate`` replaced: they verify older checkpoints."""
    clock: Callable[[], datetime] = _utc_now
    closers: list[Callable[[], Any]] = field(default_factory=list)
    webhooks: OutboxStore | None = None
    """The webhook outbox: delivery logs, resend, replay (api/webhooks_runtime.py)."""
    sso: SsoRuntime | None = None
    """Single sign-on: sessions, ``sso_token``, the SAML service provider (api/sso_runtime.py)."""
    tiles: TileLog | None = None
    """The log as C2SP tlog-tiles: tiles, entry bundles, the latest checkpoint (api/http/routes/tiles.py)."""
    promises: InclusionPromises | None = None
    """Signed promises of inclusion (``Prefer: respond-async``): only where this process holds the
    checkpoint key (the embedded sealer's, or one named explicitly); elsewhere the preference is ignored."""

    def tile_log(self) -> TileLog:
        """The tile reads (a programming error when the runtime was built without them)."""
        if self.tiles is None:
            raise RuntimeError("this runtime serves no tiles")
        return self.tiles

    def sign_in(self) -> SsoRuntime:
        """The single sign-on services (a programming error when the runtime was built without them)."""
        if self.sso is None:
            raise RuntimeError("this runtime has no single sign-on services")
        return self.sso

    def seal_lag(self) -> tuple[int, int]:
        """(log size, sealed size), also published as metrics."""
        size, sealed = self.tree.log_size(), self.tree.integrated_size()
        self.metrics.seal_lag.set(max(size - sealed, 0))
        self.metrics.sealed_size.set(sealed)
        return size, sealed

    def close(self) -> None:
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # keep closing the rest; report, do not hide
                logger.exception("closing %s failed", close)


class RuntimeHandle:
    """Where a running app's :class:`Runtime` is found by the pieces :func:`api.app.create_app` builds
    before it exists: the request pipeline and the handlers' dependency providers receive this handle
    (a construction argument, not ``app.state``); the app's lifespan opens the runtime into it before
    the first request and clears it after the last."""

    def __init__(self) -> None:
        self._runtime: Runtime | None = None

    def current(self) -> Runtime:
        """The open runtime (a programming error before the lifespan opened it or after it closed)."""
        if self._runtime is None:
            raise RuntimeError("the runtime is not open: the app's lifespan has not started or has ended")
        return self._runtime

    def security(self) -> Security:
        """The request pipeline's services of the open runtime."""
        return self.current().security

    def set(self, runtime: Runtime | None) -> None:
        self._runtime = runtime


def _report(event: dict[str, Any]) -> None:
    name = event.get("event")
    level = logging.INFO
    if name == "sealed":
        level = logging.DEBUG
    elif name in ("error", "witness-error"):
        level = logging.WARNING
    logger.log(level, "sealer %s", event.get("event"), extra={"sealer": event})


def _previous_vkeys(settings: Settings) -> tuple[str, ...]:
    path, _ = signing_key_path(settings.storage.data_dir, settings.security.signing_key)
    return tuple(reversed(previous_vkeys(path)))  # newest first, after the current key


def _verifier_key(settings: Settings) -> str | None:
    if settings.security.vkey:
        return settings.security.vkey
    path, _ = signing_key_path(settings.storage.data_dir, settings.security.signing_key)
    return load_signing_key(path).verifier().vkey if path.exists() else None  # a file or /dev/fd/N


def _token_issuer(settings: Settings) -> TokenIssuer:
    """The access-token issuer: this deployment's token key, and the earlier keys still published."""
    return TokenIssuer(
        load_token_key(settings.storage.data_dir),
        issuer=settings.security.issuer,
        audience=settings.security.audience,
        lifetime_s=settings.security.token_ttl_seconds,
        previous_keys_pem=[path.read_bytes() for path in settings.security.previous_token_keys],
    )


def open_runtime(settings: Settings, metrics: Metrics) -> Runtime:
    """Open everything (blocking: call from a worker thread); close the result with :meth:`Runtime.close`."""
    closers: list[Callable[[], Any]] = []
    try:
        config = settings.storage.config
        require_keys_apart(config, settings.security.signing_key, signs=settings.sealing.embedded)
        settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
        deployment_secret = load_deployment_secret(settings.storage.data_dir)
        ledger = _open_ledger(settings, deployment_secret)
        closers.append(ledger.close)
        tree = open_tree_store(config)
        closers.append(tree.close)
        sealer = _start_sealer(settings, closers)
        waiter = sealer.waiter if sealer is not None else SealWaiter(tree, settings.sealing.poll_seconds)
        issuer = _token_issuer(settings)
        security = build_security(
            settings,
            metrics,
            validator=issuer.validator(),
            deployment_secret=deployment_secret,
            directory=PartnerDirectory(ledger, _utc_now),
            clock=_utc_now,
            **_stores(settings, closers),
        )
        edge = None if sealer is None else sealer.sealer.edge  # the embedded sealer's right edge in memory
        audit = AuditLog(ledger.app.log_reader, ProofService(tree, ledger.app.log_reader, edge))
        proof_wait = ProofWait(waiter, audit, settings.sealing.wait_seconds, metrics.seal_wait.observe)
        closers.append(start_outcome_recovery(ledger.outcomes, logger=logger))
        closers.append(start_malloc_trim(settings.http.malloc_trim_seconds, logger)[1])
        webhooks = open_webhooks(settings, ledger, security.deployment_secret, closers)
        sso = open_sso(settings, ledger, security.deployment_secret, closers, _utc_now)
        start_sso_jobs(settings, ledger, sso.store, sso.oidc, webhooks, metrics, sp_certificate_pem(settings), closers)
        return Runtime(
            settings,
            ledger,
            audit,
            proof_wait,
            tree,
            waiter,
            issuer,
            security,
            metrics,
            sealer,
            _verifier_key(settings),
            _previous_vkeys(settings),
            closers=closers,
            webhooks=webhooks,
            sso=sso,
            tiles=TileLog(tree, ledger.app.log_reader, public_entries=settings.sealing.public_entries),
            promises=_promises(settings, sealer, ledger),
        )
    except BaseException:
        for close in reversed(closers):
            close()
        raise


def _promises(settings: Settings, sealer: SealerRunner | None, ledger: Ledger) -> InclusionPromises | None:
    """Signed promises of inclusion with the checkpoint key: the embedded sealer's, or the key this process
    was given explicitly (``--signing-key``, ``LEDGER_SIGNING_KEY_FILE``/``_FD``); None without a key."""
    if sealer is not None:
        signer = sealer.sealer.signer
    else:
        path, named = signing_key_path(settings.storage.data_dir, settings.security.signing_key)
        if not (named and path.exists()):
            return None
        signer = load_signing_key(path)
    return InclusionPromises(ledger.app.log_reader, signer, _utc_now)


def _open_ledger(settings: Settings, deployment_secret: bytes) -> Ledger:
    """The ledger with the deployment's member policy and signed enrollment links (api/membership.py)."""
    return open_ledger(
        settings.storage.config,
        restricted_states=settings.members.restricted_states,
        member_policy=member_policy(settings),
        enrollment_links=enrollment_links(settings, deployment_secret),
        aggregate_cache_size=settings.storage.aggregate_cache_size,
    )


def _start_sealer(settings: Settings, closers: list[Callable[[], Any]]) -> SealerRunner | None:
    """The embedded sealer thread, unless the deployment runs ``ledger sealer`` on its own."""
    if not settings.sealing.embedded:
        return None
    policy = SealPolicy(batch_entries=settings.sealing.batch_entries, interval_ms=settings.sealing.interval_ms)
    sealer = start_embedded_sealer(
        settings.storage.config,
        policy,
        signing_key=settings.security.signing_key,
        report=_report,
        poll_interval=settings.sealing.poll_seconds,
        witnesses=parse_witnesses(settings.sealing.witnesses),
    )
    closers.append(sealer.stop)
    return sealer


def _stores(settings: Settings, closers: list[Callable[[], Any]]) -> dict[str, Any]:
    """Rate limiter, replay cache and idempotency store: Redis shared by workers, or in process."""
    if settings.storage.redis_url is None:
        return {
            "limiter": InProcessRateLimiter(),
            "replay": InProcessReplayCache(),
            "idempotency": InProcessIdempotencyStore(ttl_s=settings.security.idempotency_ttl_seconds),
        }
    import redis

    from adapters.redis.idempotency import RedisIdempotencyStore
    from adapters.redis.ratelimit import RedisRateLimiter
    from adapters.redis.replay import RedisReplayCache

    client = redis.Redis.from_url(settings.storage.redis_url, socket_timeout=2, socket_connect_timeout=2)
    closers.append(client.close)
    prefix = settings.storage.redis_prefix
    return {
        "limiter": RedisRateLimiter(client, prefix),
        "replay": RedisReplayCache(client, prefix),
        "idempotency": RedisIdempotencyStore(client, prefix, ttl_s=settings.security.idempotency_ttl_seconds),
    }
