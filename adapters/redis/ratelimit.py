"""The shared rate limiter: one Lua script on Redis, so every worker counts against the same allowance.

The script reads the partner's hash ``{tat, day, used}``, applies GCRA and the daily quota exactly as
:func:`~adapters.ratelimit.gcra_step` does, writes back only when the request is admitted, and
sets the key's expiry to when it would be forgotten anyway. Redis runs a script atomically, and the
script reads ``TIME`` on the server, so workers with skewed clocks still agree. Nothing else touches
these keys.

:meth:`RedisRateLimiter.check_fresh` runs the replay check of :class:`~adapters.redis.replay.RedisReplayCache`
and this script in one script, so an authenticated request costs one round trip for both
(:func:`adapters.request_gate.remember_and_check`).
"""

from __future__ import annotations

from typing import Any

import redis

from adapters.ratelimit import RateDecision, decide, interval_us
from ledger_core.engine.errors import LedgerError
from ledger_core.partners.ports import RateLimitPolicy

__all__ = ["FRESH_GCRA_SCRIPT", "GCRA_SCRIPT", "RateLimiterUnavailable", "RedisRateLimiter"]

# KEYS[1] = the partner's state hash; ARGV = interval_us, burst, daily quota (-1: none), day length in us.
# Returns {allowed, rate_remaining, rate_reset_us, retry_us, daily_remaining, daily_reset_us, refused_by, now_us}.
GCRA_SCRIPT = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local quota = tonumber(ARGV[3])
local day_us = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tat', 'day', 'used')
local tat = math.max(tonumber(state[1]) or now, now)
local day = math.floor(now / day_us)
local used = 0
if tonumber(state[2]) == day then used = tonumber(state[3]) or 0 end
local day_reset = (day + 1) * day_us - now
local daily_left = -1
if quota >= 0 then daily_left = math.max(quota - used, 0) end
local allow_at = tat + interval - burst * interval
if now < allow_at then
  return {0, 0, tat - now, allow_at - now, daily_left, day_reset, 1, now}
end
if quota >= 0 and used >= quota then
  local left = math.floor((now - allow_at) / interval) + 1
  return {0, left, tat - now, day_reset, 0, day_reset, 2, now}
end
local new_tat = tat + interval
used = used + 1
redis.call('HSET', KEYS[1], 'tat', string.format('%.0f', new_tat), 'day', string.format('%.0f', day),
  'used', string.format('%.0f', used))
local ttl = new_tat - now
if quota >= 0 then
  ttl = math.max(ttl, day_reset)
  daily_left = quota - used
end
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000) + 1000)
return {1, math.floor((now - allow_at) / interval), new_tat - now, 0, daily_left, day_reset, 0, now}
"""


# The same, preceded by the replay check of the request (KEYS[2] = its replay key, ARGV[5] = ttl in seconds):
# a request id seen before returns {-1} and counts nothing; a new one is remembered, then counted.
FRESH_GCRA_SCRIPT = (
    """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[5])) then
  return {-1}
end
"""
    + GCRA_SCRIPT
)


class RateLimiterUnavailable(LedgerError):
    """Redis could not be reached or failed: the HTTP layer answers 503 with Retry-After."""

    code = "SERVICE_UNAVAILABLE"


class RedisRateLimiter:
    """:class:`~ledger_core.partners.ports.RateLimiter` on Redis; keys ``<prefix>ratelimit:{<partner id>}``."""

    def __init__(self, client: redis.Redis, prefix: str = "ledger:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(GCRA_SCRIPT)
        self._fresh_script = client.register_script(FRESH_GCRA_SCRIPT)

    @classmethod
    def from_url(cls, url: str, prefix: str = "ledger:") -> RedisRateLimiter:
        return cls(redis.Redis.from_url(url), prefix)

    def key(self, partner_id: str) -> str:
        return f"{self._prefix}ratelimit:{{{partner_id}}}"  # hash tag: one slot per partner on a cluster

    def check(self, partner_id: str, policy: RateLimitPolicy) -> RateDecision:
        quota = -1 if policy.daily_quota is None else policy.daily_quota
        args = [interval_us(policy), policy.burst, quota, policy.day_s * 1_000_000]
        try:
            raw: Any = self._script(keys=[self.key(partner_id)], args=args)
        except redis.RedisError as error:
            raise RateLimiterUnavailable(f"rate limiter unavailable: {error}", backend="redis") from error
        return decide(policy, raw)

    def uses(self, client: redis.Redis) -> bool:
        """True if this limiter talks through ``client`` (so one script can touch both stores' keys)."""
        return client is self._client

    def check_fresh(self, partner_id: str, policy: RateLimitPolicy, replay_key: str, ttl_s: int) -> RateDecision | None:
        """Remember ``replay_key`` (``SET NX EX ttl_s``) and, only if it was new, :meth:`check` the request:
        one atomic script, one round trip. None when the key was already there (a replayed request,
        which counts against nothing here)."""
        quota = -1 if policy.daily_quota is None else policy.daily_quota
        args = [interval_us(policy), policy.burst, quota, policy.day_s * 1_000_000, max(1, ttl_s)]
        try:
            raw: Any = self._fresh_script(keys=[self.key(partner_id), replay_key], args=args)
        except redis.RedisError as error:
            raise RateLimiterUnavailable(f"rate limiter unavailable: {error}", backend="redis") from error
        return None if int(raw[0]) < 0 else decide(policy, raw)
