"""The last checks of an authenticated request, in order: its id is new (replay), its rate limit, and
(a POST with ``Idempotency-Key``) the claim of its key.

:func:`remember_and_check` remembers the request id and, only if it was new, counts the request
against the partner's limit: exactly :meth:`ReplayCache.remember` then :meth:`RateLimiter.check`.
:func:`admit_request` does the same and then, only for an admitted request, claims the idempotency key
(:meth:`IdempotencyStore.begin`). When the stores are Redis on the same client they run as one Lua
script, one round trip per request (:class:`~adapters.redis.gate.RedisGate`; without a key,
:meth:`~adapters.redis.ratelimit.RedisRateLimiter.check_fresh`); otherwise as the separate calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.idempotency import IdempotencyOutcome, IdempotencyStore
from adapters.redis.gate import RedisGate
from adapters.redis.ratelimit import RedisRateLimiter
from adapters.redis.replay import RedisReplayCache
from ledger_core.partners.ports import RateLimitDecision, RateLimiter, RateLimitPolicy, ReplayCache

__all__ = ["Admitted", "IdempotencyClaim", "RequestGate", "remember_and_check"]


def remember_and_check(
    replay: ReplayCache,
    limiter: RateLimiter,
    partner_id: str,
    request_id: str,
    ttl_s: int,
    policy: RateLimitPolicy,
) -> RateLimitDecision | None:
    """The rate-limit decision for a new ``request_id`` of ``partner_id``; None if the id was seen before
    (then nothing is counted)."""
    if isinstance(limiter, RedisRateLimiter) and isinstance(replay, RedisReplayCache) and limiter.uses(replay.client):
        return limiter.check_fresh(partner_id, policy, replay.key(partner_id, request_id), ttl_s)
    if not replay.remember(partner_id, request_id, ttl_s):
        return None
    return limiter.check(partner_id, policy)


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """The key a request asks to claim and the request's fingerprint (:mod:`api.client.signing`)."""

    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Admitted:
    """What :meth:`RequestGate.admit` decided: ``decision`` None for a replayed request id (nothing counted
    or claimed); ``claim`` None unless a claim was asked and the request was admitted."""

    decision: RateLimitDecision | None
    claim: IdempotencyOutcome | None = None


class RequestGate:
    """Replay, rate limit and idempotency claim over the runtime's stores (one per process)."""

    def __init__(self, replay: ReplayCache, limiter: RateLimiter, store: IdempotencyStore) -> None:
        self._replay, self._limiter, self._store = replay, limiter, store
        self._redis = RedisGate.over(limiter, replay, store)

    def admit(
        self, partner_id: str, request_id: str, ttl_s: int, policy: RateLimitPolicy, claim: IdempotencyClaim | None
    ) -> Admitted:
        """Remember ``request_id``; if new, count the request; if admitted and ``claim`` is given, claim it."""
        if claim is None:
            return Admitted(remember_and_check(self._replay, self._limiter, partner_id, request_id, ttl_s, policy))
        if self._redis is not None:
            fresh, outcome = self._redis.admit(partner_id, request_id, ttl_s, policy, (claim.key, claim.fingerprint))
            return Admitted(fresh, outcome)
        decision = remember_and_check(self._replay, self._limiter, partner_id, request_id, ttl_s, policy)
        if decision is None or not decision.allowed:
            return Admitted(decision)
        return Admitted(decision, self._store.begin(partner_id, claim.key, claim.fingerprint))
