"""Per-partner rate limits (seed 000 §4.3, seed 001 §3.5): GCRA plus a daily quota, on Redis or in process."""

from adapters.ratelimit.memory import InProcessRateLimiter
from adapters.ratelimit.policy import RateDecision, RatePolicy, rate_limit_headers

__all__ = ["InProcessRateLimiter", "RateDecision", "RatePolicy", "rate_limit_headers"]
