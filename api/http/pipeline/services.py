"""What the request pipeline works with, opened once per process with the runtime (:mod:`api.runtime`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from adapters.idempotency import IdempotencyStore
from adapters.request_gate import RequestGate
from api.http.observability import Metrics
from api.http.pipeline.authentication import PartnerAuthenticator
from api.http.pipeline.limits import RateLimits
from api.security.credentials import PartnerDirectory
from api.security.tokens import TokenValidator
from api.settings import Settings
from ledger_core.partners.ports import RateLimiter, ReplayCache


@dataclass(frozen=True)
class Security:
    """The authenticator, the rate limits and the idempotency store, plus the partner directory and the
    deployment secret they are built on (the OAuth and webhook routes use those two as well)."""

    authenticator: PartnerAuthenticator
    limits: RateLimits
    idempotency: IdempotencyStore
    directory: PartnerDirectory
    deployment_secret: bytes = field(repr=False)


def build_security(
    settings: Settings,
    metrics: Metrics,
    *,
    validator: TokenValidator,
    deployment_secret: bytes,
    directory: PartnerDirectory,
    limiter: RateLimiter,
    replay: ReplayCache,
    idempotency: IdempotencyStore,
    clock: Callable[[], datetime],
) -> Security:
    """Wire the pipeline's services from the runtime's stores (nothing is opened here)."""
    authenticator = PartnerAuthenticator(
        validator, directory, deployment_secret, replay, max_skew_s=settings.security.clock_skew_seconds, clock=clock
    )
    gate = RequestGate(replay, limiter, idempotency)
    limits = RateLimits(
        settings, limiter, replay, directory, metrics, replay_ttl_s=authenticator.replay_ttl_s, gate=gate
    )
    return Security(authenticator, limits, idempotency, directory, deployment_secret)
