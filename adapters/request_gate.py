"""The last two checks of an authenticated request, in order: its id is new (replay), then its rate limit.

:func:`remember_and_check` remembers the request id and, only if it was new, counts the request
against the partner's limit: exactly :meth:`ReplayCache.remember` then :meth:`RateLimiter.check`.
When both stores are Redis on the same client, the two run as one Lua script (one round trip per
request instead of two: :meth:`~adapters.redis.ratelimit.RedisRateLimiter.check_fresh`); otherwise
as the two calls.
"""

from __future__ import annotations

from adapters.redis.ratelimit import RedisRateLimiter
from adapters.redis.replay import RedisReplayCache
from ledger_core.partners.ports import RateLimitDecision, RateLimiter, RateLimitPolicy, ReplayCache

__all__ = ["remember_and_check"]


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
