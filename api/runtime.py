"""Everything a running server holds open, built in the app's lifespan (never at import time).

:func:`open_runtime` opens, in order: the ledger (SQLite in the data directory or PostgreSQL), a tree
store for proofs, the embedded sealer thread (the default; a PostgreSQL deployment may run ``ledger
sealer`` instead and set ``embedded_sealer`` off), the token signing key and deployment secret, and the
rate-limit / replay / idempotency stores (Redis when ``redis_url`` is set, in process otherwise).
:meth:`Runtime.close` releases them in reverse order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.files.signing_key import load_signing_key, signing_key_path
from adapters.memory.idempotency import InProcessIdempotencyStore
from adapters.memory.ratelimit import InProcessRateLimiter
from adapters.memory.replay import InProcessReplayCache
from adapters.opening import open_ledger, start_embedded_sealer
from adapters.outbox import OutboxStore
from adapters.ports import ManagedTreeStore
from adapters.storage import open_tree_store
from adapters.workers.outcome_recovery import start_outcome_recovery
from adapters.workers.seal_waiter import SealWaiter
from adapters.workers.sealer import SealerRunner
from api.client.schemas.common import Proof
from api.http import views
from api.http.member_operations import MemberOperations, build_member_operations
from api.http.observability import Metrics
from api.http.operations import LedgerOperations
from api.http.pipeline import Security, build_security
from api.http.threads import run_blocking
from api.security.credentials import PartnerDirectory
from api.security.secrets import load_deployment_secret, load_token_key
from api.security.tokens import TokenIssuer
from api.settings import Settings
from api.webhooks_runtime import open_webhooks
from ledger_core.engine.auditing import ProofService
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.merkle import CheckpointRecord, NotSealed
from ledger_core.engine.sealing import SealPolicy
from ledger_core.ledger import Ledger
from proofs.bundle import InclusionProof

logger = logging.getLogger("api.runtime")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """The open resources of one server process."""

    settings: Settings
    ledger: Ledger
    operations: LedgerOperations
    tree: ManagedTreeStore
    waiter: SealWaiter
    issuer: TokenIssuer
    security: Security
    metrics: Metrics
    sealer: SealerRunner | None = None
    vkey: str | None = None
    clock: Callable[[], datetime] = _utc_now
    closers: list[Callable[[], Any]] = field(default_factory=list)
    members: MemberOperations | None = None
    """Eligibility, enrollments, outcomes, reminders, members (api/http/member_operations.py)."""
    webhooks: OutboxStore | None = None
    """The webhook outbox: delivery logs, resend, replay (api/webhooks_runtime.py)."""

    async def proof_when_sealed(self, position: int) -> Proof | None:
        """Wait (at most ``seal_wait_seconds``) for ``position`` to be sealed; its proof, or None on timeout."""

        started = time.perf_counter()
        try:  # no thread while waiting: the sealer's notification (or one shared poll) wakes us
            await self.waiter.wait_until_covered(position, self.settings.seal_wait_seconds)
        except NotSealed:
            return None
        finally:
            self.metrics.seal_wait.observe(time.perf_counter() - started)
        proven = await run_blocking(self._first_proof, position)
        if proven is None:  # the size was announced before its checkpoint was readable (rare): wait for it
            remaining = max(self.settings.seal_wait_seconds - (time.perf_counter() - started), 0.0)
            try:
                record = await self.waiter.wait_until_sealed_async(position, remaining)
            except NotSealed:
                return None
            proven = await run_blocking(self.operations.prove, position, record.size)
        return views.proof(*proven)

    def _first_proof(self, position: int) -> tuple[StoredRow, InclusionProof, CheckpointRecord] | None:
        """The entry, its inclusion proof and the first checkpoint containing it, in one thread hop."""
        record = self.waiter.first_checkpoint_after(position)
        return None if record is None else self.operations.prove(position, record.size)

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
    level = logging.DEBUG if event.get("event") == "sealed" else logging.INFO
    logger.log(level, "sealer %s", event.get("event"), extra={"sealer": event})


def _verifier_key(settings: Settings) -> str | None:
    if settings.vkey:
        return settings.vkey
    path, _ = signing_key_path(settings.data_dir, settings.signing_key)
    return load_signing_key(path).verifier().vkey if path.is_file() else None


def open_runtime(settings: Settings, metrics: Metrics) -> Runtime:
    """Open everything (blocking: call from a worker thread); close the result with :meth:`Runtime.close`."""
    closers: list[Callable[[], Any]] = []
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        config = settings.storage
        ledger = open_ledger(config, restricted_states=settings.restricted_states)
        closers.append(ledger.close)
        tree = open_tree_store(config)
        closers.append(tree.close)
        sealer: SealerRunner | None = None
        if settings.embedded_sealer:
            policy = SealPolicy(batch_entries=settings.seal_batch_entries, interval_ms=settings.seal_interval_ms)
            sealer = start_embedded_sealer(
                config,
                policy,
                signing_key=settings.signing_key,
                report=_report,
                poll_interval=settings.seal_poll_seconds,
            )
            closers.append(sealer.stop)
        waiter = sealer.waiter if sealer is not None else SealWaiter(tree, settings.seal_poll_seconds)
        issuer = TokenIssuer(
            load_token_key(settings.data_dir),
            issuer=settings.issuer,
            audience=settings.audience,
            lifetime_s=settings.token_ttl_seconds,
            previous_keys_pem=[path.read_bytes() for path in settings.previous_token_keys],
        )
        security = _security(settings, metrics, issuer, ledger, closers)
        operations = LedgerOperations(ledger, ProofService(tree, ledger.app.log_reader))
        members = build_member_operations(ledger, settings, security.deployment_secret, _utc_now)
        closers.append(start_outcome_recovery(ledger.outcomes, logger=logger))
        webhooks = open_webhooks(settings, ledger, security.deployment_secret, closers)
        return Runtime(
            settings,
            ledger,
            operations,
            tree,
            waiter,
            issuer,
            security,
            metrics,
            sealer,
            _verifier_key(settings),
            closers=closers,
            members=members,
            webhooks=webhooks,
        )
    except BaseException:
        for close in reversed(closers):
            close()
        raise


def _security(
    settings: Settings, metrics: Metrics, issuer: TokenIssuer, ledger: Ledger, closers: list[Callable[[], Any]]
) -> Security:
    """The request pipeline's services (api/http/pipeline) over this process's stores."""
    return build_security(
        settings,
        metrics,
        validator=issuer.validator(),
        deployment_secret=load_deployment_secret(settings.data_dir),
        directory=PartnerDirectory(ledger, _utc_now),
        clock=_utc_now,
        **_stores(settings, closers),
    )


def _stores(settings: Settings, closers: list[Callable[[], Any]]) -> dict[str, Any]:
    """Rate limiter, replay cache and idempotency store: Redis shared by workers, or in process."""
    if settings.redis_url is None:
        return {
            "limiter": InProcessRateLimiter(),
            "replay": InProcessReplayCache(),
            "idempotency": InProcessIdempotencyStore(ttl_s=settings.idempotency_ttl_seconds),
        }
    import redis

    from adapters.redis.idempotency import RedisIdempotencyStore
    from adapters.redis.ratelimit import RedisRateLimiter
    from adapters.redis.replay import RedisReplayCache

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    closers.append(client.close)
    prefix = settings.redis_prefix
    return {
        "limiter": RedisRateLimiter(client, prefix),
        "replay": RedisReplayCache(client, prefix),
        "idempotency": RedisIdempotencyStore(client, prefix, ttl_s=settings.idempotency_ttl_seconds),
    }
