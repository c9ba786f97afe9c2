"""Replay check, rate limit and idempotency claim of one request in ONE Redis script (one round trip).

The script is the three existing scripts run in order, unchanged in meaning: ``SET NX EX`` of the
request id's replay key (:class:`~adapters.redis.replay.RedisReplayCache`; seen before: ``{-1}``,
nothing counted or claimed), then GCRA and the daily quota
(:data:`~adapters.redis.ratelimit.GCRA_SCRIPT`; refused: its reply, nothing claimed), then, only for an
admitted request, ``idempotency_begin`` (:data:`~adapters.redis.idempotency.BEGIN_FUNCTION`), whose
reply follows the eight integers of the rate decision. Every key carries the partner's hash tag, so
the three live in one cluster slot. Redis runs the script atomically.
"""

from __future__ import annotations

from typing import Any

import redis

from adapters.idempotency import IdempotencyOutcome
from adapters.ratelimit import RateDecision, decide, interval_us
from adapters.redis.idempotency import BEGIN_FUNCTION, RedisIdempotencyStore, begin_outcome
from adapters.redis.ratelimit import GCRA_SCRIPT, RateLimiterUnavailable, RedisRateLimiter
from adapters.redis.replay import RedisReplayCache
from ledger_core.partners.ports import RateLimitPolicy

__all__ = ["GATE_SCRIPT", "RedisGate"]

# KEYS = rate-limit hash, replay key, idempotency record; ARGV[1..4] as GCRA_SCRIPT, ARGV[5] = replay ttl (s),
# ARGV[6..8] = fingerprint, lease, lease in ms (the claim; absent: no Idempotency-Key, nothing claimed).
GATE_SCRIPT = (
    "local function rate_decision()\n"
    + GCRA_SCRIPT
    + "end\n"
    + BEGIN_FUNCTION
    + """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[5])) then
  return {-1}
end
local decision = rate_decision()
if decision[1] ~= 1 or not KEYS[3] then
  return decision
end
local claim = idempotency_begin(KEYS[3], ARGV[6], ARGV[7], ARGV[8])
for i = 1, #claim do
  decision[8 + i] = claim[i]
end
return decision
"""
)


class RedisGate:
    """The three stores' checks as one script; only when they share one Redis client (:meth:`over`)."""

    def __init__(self, limiter: RedisRateLimiter, replay: RedisReplayCache, store: RedisIdempotencyStore) -> None:
        self._limiter, self._replay, self._store = limiter, replay, store
        self._script = replay.client.register_script(GATE_SCRIPT)

    @classmethod
    def over(cls, limiter: object, replay: object, store: object) -> RedisGate | None:
        """The gate if the three are the Redis stores over one client (so one script can touch all their
        keys); None otherwise."""
        if (
            isinstance(limiter, RedisRateLimiter)
            and isinstance(replay, RedisReplayCache)
            and isinstance(store, RedisIdempotencyStore)
            and limiter.uses(replay.client)
            and store.client is replay.client
        ):
            return cls(limiter, replay, store)
        return None

    def admit(
        self,
        partner_id: str,
        request_id: str,
        ttl_s: int,
        policy: RateLimitPolicy,
        claim: tuple[str, str] | None,
    ) -> tuple[RateDecision | None, IdempotencyOutcome | None]:
        """(None, None) for a request id seen before; else the rate decision and, when the request is
        admitted and ``claim`` (idempotency key, request fingerprint) is given, the claim's outcome."""
        quota = -1 if policy.daily_quota is None else policy.daily_quota
        args: list[Any] = [interval_us(policy), policy.burst, quota, policy.day_s * 1_000_000, max(1, ttl_s)]
        keys = [self._limiter.key(partner_id), self._replay.key(partner_id, request_id)]
        lease = ""
        if claim is not None:
            record, begin_args = self._store.begin_args(partner_id, claim[0], claim[1])
            keys.append(record)
            args += begin_args
            lease = str(begin_args[1])
        try:
            raw: Any = self._script(keys=keys, args=args)
        except redis.RedisError as error:
            raise RateLimiterUnavailable(f"rate limiter unavailable: {error}", backend="redis") from error
        if int(raw[0]) < 0:
            return None, None
        decision = decide(policy, raw[:8])
        return decision, (begin_outcome(raw[8:], lease) if len(raw) > 8 else None)
