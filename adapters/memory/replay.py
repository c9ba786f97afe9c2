"""The in-process replay cache: a dict of expiry times behind a lock, pruned as it goes.

One process only: with several workers a request id seen by one is unknown to the others, so
multi-worker deployments must use :class:`~adapters.redis.replay.RedisReplayCache`.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable

__all__ = ["InProcessReplayCache"]


class InProcessReplayCache:
    """:class:`~ledger_core.partners.ports.ReplayCache` in memory; ``clock`` returns monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._expiry: dict[tuple[str, str], float] = {}
        self._queue: list[tuple[float, tuple[str, str]]] = []

    def remember(self, partner_id: str, request_id: str, ttl_s: int) -> bool:
        key = (partner_id, request_id)
        with self._lock:
            now = self._clock()
            self._prune(now)
            if key in self._expiry:
                return False
            expires = now + max(1, ttl_s)
            self._expiry[key] = expires
            heapq.heappush(self._queue, (expires, key))
            return True

    def __len__(self) -> int:
        with self._lock:
            self._prune(self._clock())
            return len(self._expiry)

    def _prune(self, now: float) -> None:
        while self._queue and self._queue[0][0] <= now:
            expires, key = heapq.heappop(self._queue)
            if self._expiry.get(key) == expires:
                del self._expiry[key]
