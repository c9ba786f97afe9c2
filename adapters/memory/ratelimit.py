"""The in-process rate limiter, for the single-process embedded default and for tests.

Same semantics as the Redis script (:func:`~adapters.ratelimit.gcra_step`), one lock around
every check. It limits one process only: with several workers each would admit the full allowance, so
multi-worker deployments must use :class:`~adapters.redis.ratelimit.RedisRateLimiter`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from adapters.ratelimit import MICROS, GcraState, RateDecision, decide, gcra_step
from ledger_core.partners.ports import RateLimitPolicy

__all__ = ["InProcessRateLimiter"]


class InProcessRateLimiter:
    """:class:`~ledger_core.partners.ports.RateLimiter` in a dict; ``clock`` returns Unix seconds (float)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, GcraState] = {}

    def check(self, partner_id: str, policy: RateLimitPolicy) -> RateDecision:
        with self._lock:
            now_us = round(self._clock() * MICROS)
            state, raw = gcra_step(self._states.get(partner_id), now_us, policy)
            if state is not None:
                self._states[partner_id] = state
        return decide(policy, raw)
