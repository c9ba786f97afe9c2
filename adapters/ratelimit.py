"""Rate-limit policies, the GCRA step both limiters share, decisions, and the response headers.

**Algorithm.** GCRA (the generic cell rate algorithm, a token bucket written as one timestamp): a
partner has a theoretical arrival time ``tat``; each request moves it ``interval = window / limit``
into the future, and a request is refused while ``tat + interval - burst * interval > now``. From idle
exactly ``burst`` requests pass back to back, then one per ``interval``: the long-run rate is ``limit``
per ``window``. The daily quota counts admitted requests per UTC day (``floor(now / day_s)``); a request
refused by either rule consumes nothing. :func:`gcra_step` is the reference; the Redis Lua script is the
same arithmetic, in integer microseconds, on the Redis server's clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ledger_core.engine.errors import InvalidCommand
from ledger_core.partners.ports import RateLimitDecision, RateLimitPolicy
from ledger_core.shared.vocabulary import TIER_LIMITS, Tier, TierLimits

__all__ = ["GcraState", "RateDecision", "RatePolicy", "decide", "gcra_step", "interval_us", "rate_limit_headers"]

MICROS = 1_000_000
REFUSED_BY_RATE, REFUSED_BY_DAY = 1, 2
_WINDOW_NAMES = {1: "second", 60: "minute", 3600: "hour"}


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """``limit`` per ``window_s`` seconds with ``burst`` back to back; ``daily_quota`` per ``day_s`` (UTC)."""

    name: str
    limit: int
    burst: int
    daily_quota: int | None = None
    window_s: int = 60
    day_s: int = 86_400

    def __post_init__(self) -> None:
        numbers = (self.limit, self.burst, self.window_s, self.day_s)
        if min(numbers) < 1 or (self.daily_quota is not None and self.daily_quota < 0):
            raise InvalidCommand("rate limits must be positive", field="rate_policy", policy=self.name)

    @classmethod
    def for_tier(cls, tier: Tier | str) -> RatePolicy:
        """The seed 000 §4.3 limits of ``tier`` (daily quotas from :data:`~ledger_core.shared.vocabulary.TIER_LIMITS`).
        """
        return cls.from_limits(Tier(tier).value, TIER_LIMITS[Tier(tier)])

    @classmethod
    def from_limits(cls, name: str, limits: TierLimits) -> RatePolicy:
        """A per-minute policy from configured :class:`~ledger_core.shared.vocabulary.TierLimits` (overrides)."""
        return cls(name, limits.requests_per_minute, limits.burst, limits.daily_quota)


def interval_us(policy: RateLimitPolicy) -> int:
    """The emission interval in whole microseconds (rounded down: never stricter than advertised)."""
    return max(1, policy.window_s * MICROS // policy.limit)


def window_name(policy: RateLimitPolicy) -> str:
    return _WINDOW_NAMES.get(policy.window_s, f"{policy.window_s}s")


class GcraState(NamedTuple):
    tat_us: int
    day: int
    used: int


class RawDecision(NamedTuple):
    """What the Lua script returns, field for field (all integers, times in microseconds)."""

    allowed: int
    rate_remaining: int
    rate_reset_us: int
    retry_us: int
    daily_remaining: int  # -1: no daily quota
    daily_reset_us: int
    refused_by: int  # 0, REFUSED_BY_RATE or REFUSED_BY_DAY
    now_us: int


def gcra_step(state: GcraState | None, now_us: int, policy: RateLimitPolicy) -> tuple[GcraState | None, RawDecision]:
    """One check: the new state (None when nothing changes) and the decision. Mirrors ``ratelimit.lua``."""
    interval, burst = interval_us(policy), policy.burst
    quota = -1 if policy.daily_quota is None else policy.daily_quota
    day_us = policy.day_s * MICROS
    tat = max(state.tat_us if state else now_us, now_us)
    day = now_us // day_us
    used = state.used if state and state.day == day else 0
    day_reset = (day + 1) * day_us - now_us
    daily_left = -1 if quota < 0 else max(quota - used, 0)
    allow_at = tat + interval - burst * interval
    if now_us < allow_at:
        return None, RawDecision(0, 0, tat - now_us, allow_at - now_us, daily_left, day_reset, REFUSED_BY_RATE, now_us)
    if 0 <= quota <= used:
        left = (now_us - allow_at) // interval + 1
        return None, RawDecision(0, left, tat - now_us, day_reset, 0, day_reset, REFUSED_BY_DAY, now_us)
    new_tat = tat + interval
    if quota >= 0:
        daily_left = quota - used - 1
    left = (now_us - allow_at) // interval
    decision = RawDecision(1, left, new_tat - now_us, 0, daily_left, day_reset, 0, now_us)
    return GcraState(new_tat, day, used + 1), decision


@dataclass(frozen=True, slots=True)
class RateDecision:
    """One check's outcome. ``limit``/``remaining``/``reset_epoch`` describe the binding policy."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int
    retry_after_s: float
    policy_name: str
    rate_remaining: int
    rate_reset_after_s: float
    daily_remaining: int | None
    daily_reset_after_s: float | None


def decide(policy: RateLimitPolicy, raw: Sequence[int]) -> RateDecision:
    """A :class:`RateDecision` from the integers of :func:`gcra_step` or the Lua script."""
    r = RawDecision(*(int(value) for value in raw))
    daily = None if r.daily_remaining < 0 else r.daily_remaining
    day_binding = r.refused_by == REFUSED_BY_DAY or (
        daily is not None and r.refused_by != REFUSED_BY_RATE and daily < r.rate_remaining
    )
    if day_binding and policy.daily_quota is not None:
        name, limit, remaining, reset_us = "day", policy.daily_quota, daily or 0, r.daily_reset_us
    else:
        name, limit, remaining, reset_us = window_name(policy), policy.limit, r.rate_remaining, r.rate_reset_us
        if daily is not None:
            remaining = min(remaining, daily)
    return RateDecision(
        allowed=bool(r.allowed),
        limit=limit,
        remaining=max(remaining, 0),
        reset_epoch=math.ceil((r.now_us + reset_us) / MICROS),
        retry_after_s=r.retry_us / MICROS,
        policy_name=name,
        rate_remaining=max(r.rate_remaining, 0),
        rate_reset_after_s=r.rate_reset_us / MICROS,
        daily_remaining=daily,
        daily_reset_after_s=None if daily is None else r.daily_reset_us / MICROS,
    )


def rate_limit_headers(decision: RateLimitDecision, policy: RateLimitPolicy) -> dict[str, str]:
    """Legacy ``X-RateLimit-*``, IETF ``RateLimit-Policy``/``RateLimit`` (draft-ietf-httpapi-ratelimit-headers),
    and ``Retry-After`` (whole seconds, at least 1) when refused."""
    rate = window_name(policy)
    policies = [f'"{rate}";q={policy.limit};w={policy.window_s}', f'"burst";q={policy.burst};w=1']
    limits = [f'"{rate}";r={decision.rate_remaining};t={math.ceil(decision.rate_reset_after_s)}']
    if policy.daily_quota is not None and decision.daily_remaining is not None:
        policies.append(f'"day";q={policy.daily_quota};w={policy.day_s}')
        limits.append(f'"day";r={decision.daily_remaining};t={math.ceil(decision.daily_reset_after_s or 0)}')
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset_epoch),
        "RateLimit-Policy": ", ".join(policies),
        "RateLimit": ", ".join(limits),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after_s)))
    return headers
