"""When to try a failed webhook delivery again (seed 001 section 4.5; Standard Webhooks retry guidance).

Attempt 1 is immediate; after a failure the next attempt waits 1 min, 5 min, 15 min, then 1 h; after the
fifth failed attempt the delivery is given up. Each wait is stretched by up to ``jitter`` (a fraction,
never shortened, so the schedule is a lower bound) to spread retries of many deliveries. A receiver's
``Retry-After`` is honoured when longer than the scheduled wait (capped at ``max_retry_after``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger_core.engine.errors import InvalidCommand

SEED_DELAYS: tuple[float, ...] = (60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``delays[k]`` is the wait after failed attempt ``k + 1``; ``len(delays) + 1`` attempts in all."""

    delays: tuple[float, ...] = SEED_DELAYS
    jitter: float = 0.1
    max_retry_after: float = 86_400.0

    def __post_init__(self) -> None:
        if any(delay < 0 for delay in self.delays) or not 0 <= self.jitter <= 1 or self.max_retry_after < 0:
            raise InvalidCommand("retry delays, jitter and max_retry_after must be non-negative", field="retry")

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def next_delay(self, attempts_made: int, retry_after: float | None = None, draw: float = 0.0) -> float | None:
        """Seconds to wait after ``attempts_made`` failed attempts, or None to give up.

        ``draw`` in [0, 1) picks the jitter (the caller supplies randomness: this module does no I/O).
        """
        if attempts_made < 1:
            return 0.0
        if attempts_made > len(self.delays):
            return None
        delay = self.delays[attempts_made - 1] * (1 + self.jitter * min(max(draw, 0.0), 1.0))
        if retry_after is not None and retry_after > delay:
            delay = min(retry_after, self.max_retry_after)
        return delay

    def scaled(self, factor: float) -> RetryPolicy:
        """The same schedule ``factor`` times as fast (tests and demos run it with a fast clock)."""
        return RetryPolicy(tuple(d * factor for d in self.delays), self.jitter, self.max_retry_after * factor)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given as delay-seconds (RFC 9110 section 10.2.3); else None."""
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit():
        return None  # an HTTP-date is also allowed; receivers use seconds in practice, the schedule applies
    return float(int(text))
