"""The retry schedule of seed 001 section 4.5: immediate, 1 min, 5 min, 15 min, 1 h, then give up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger_core.webhooks.retry import SEED_DELAYS, RetryPolicy, parse_retry_after


def test_seed_schedule_without_jitter() -> None:
    """Waits after attempts 1-4 are 60, 300, 900, 3600 s; after the fifth failure: give up."""
    policy = RetryPolicy(jitter=0.0)
    assert [policy.next_delay(n) for n in range(6)] == [0.0, 60.0, 300.0, 900.0, 3600.0, None]
    assert policy.max_attempts == 5
    assert SEED_DELAYS == (60.0, 300.0, 900.0, 3600.0)


@given(attempt=st.integers(1, 4), draw=st.floats(0, 1, exclude_max=True))
def test_jitter_only_stretches_the_wait(attempt: int, draw: float) -> None:
    """Jitter never shortens a scheduled wait and adds at most the jitter fraction."""
    policy = RetryPolicy(jitter=0.1)
    delay = policy.next_delay(attempt, draw=draw)
    base = SEED_DELAYS[attempt - 1]
    assert delay is not None
    assert base <= delay <= base * 1.1


def test_retry_after_is_honoured_when_longer_and_capped() -> None:
    """A longer Retry-After wins; a shorter one does not shorten the schedule; a huge one is capped."""
    policy = RetryPolicy(jitter=0.0, max_retry_after=7200)
    assert policy.next_delay(1, retry_after=120) == 120
    assert policy.next_delay(1, retry_after=5) == 60
    assert policy.next_delay(1, retry_after=10**9) == 7200
    assert policy.next_delay(5, retry_after=30) is None


def test_scaled_schedule_for_fast_clocks() -> None:
    """The test clock runs the same schedule faster."""
    assert RetryPolicy(jitter=0.0).scaled(0.001).delays == (0.06, 0.3, 0.9, 3.6)


def test_retry_after_parsing() -> None:
    """Delay-seconds are read; anything else (an HTTP date, garbage) leaves the schedule in charge."""
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
