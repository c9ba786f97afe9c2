"""adapters.ratelimit (in process): GCRA burst and refill on a fake clock, daily quota, headers, threads."""

from __future__ import annotations

import threading

import pytest

from adapters.memory.ratelimit import InProcessRateLimiter
from adapters.ratelimit import GcraState, RatePolicy, gcra_step, rate_limit_headers
from ledger_core.engine.errors import InvalidCommand
from ledger_core.partners.ports import RateLimiter
from ledger_core.shared.vocabulary import Tier

from .helpers import FakeClock

SANDBOX = RatePolicy.for_tier(Tier.SANDBOX)


def test_implements_the_port() -> None:
    """The in-process limiter is a ledger_core.partners.ports.RateLimiter and its decisions feed the headers."""
    limiter: RateLimiter = InProcessRateLimiter(FakeClock())
    assert "X-RateLimit-Limit" in rate_limit_headers(limiter.check("acme", SANDBOX), SANDBOX)


def test_tier_policies_follow_the_seed() -> None:
    """Sandbox 100/min burst 20 and 10,000/day; standard 1,000/100; enterprise 10,000/500 without a cap."""
    assert (SANDBOX.limit, SANDBOX.burst, SANDBOX.daily_quota, SANDBOX.window_s) == (100, 20, 10_000, 60)
    standard, enterprise = RatePolicy.for_tier("standard"), RatePolicy.for_tier("enterprise")
    assert (standard.limit, standard.burst) == (1_000, 100)
    assert (enterprise.limit, enterprise.burst, enterprise.daily_quota) == (10_000, 500, None)


@pytest.mark.parametrize("changes", [{"limit": 0}, {"burst": 0}, {"window_s": 0}, {"daily_quota": -1}])
def test_nonsense_policies_are_refused(changes: dict[str, int]) -> None:
    """Zero or negative limits are configuration errors."""
    values = {"name": "x", "limit": 1, "burst": 1, **changes}
    with pytest.raises(InvalidCommand):
        RatePolicy(**values)  # type: ignore[arg-type]


def test_exactly_burst_then_refused_with_retry_after() -> None:
    """From idle, 20 requests pass at one instant, the 21st waits exactly one interval (0.6 s)."""
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock)
    decisions = [limiter.check("acme", SANDBOX) for _ in range(21)]
    assert [d.allowed for d in decisions] == [True] * 20 + [False]
    assert [d.remaining for d in decisions[:20]] == list(range(19, -1, -1))
    refused = decisions[-1]
    assert refused.retry_after_s == pytest.approx(0.6)
    assert refused.policy_name == "minute"
    assert refused.remaining == 0


def test_refill_one_per_interval() -> None:
    """After the burst, one request per 0.6 s; waiting 6 s gives back 10."""
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock)
    for _ in range(20):
        limiter.check("acme", SANDBOX)
    clock.advance(0.6)
    assert limiter.check("acme", SANDBOX).allowed
    assert not limiter.check("acme", SANDBOX).allowed
    clock.advance(6.0)
    assert sum(limiter.check("acme", SANDBOX).allowed for _ in range(15)) == 10


def test_full_recovery_after_idle() -> None:
    """After burst x interval (12 s) of silence the whole burst is back, and the reset time said so."""
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock)
    last = [limiter.check("acme", SANDBOX) for _ in range(20)][-1]
    assert last.reset_epoch == int(clock.now + 12)
    clock.advance(12)
    assert sum(limiter.check("acme", SANDBOX).allowed for _ in range(25)) == 20


def test_sustained_rate_over_a_minute() -> None:
    """Hammering every 50 ms for a minute admits burst + 99 intervals = 119 (the long-run rate is 100/min)."""
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock)
    admitted = 0
    for step in range(1200):
        clock.now = 1_768_487_400 + step * 0.05
        admitted += limiter.check("acme", SANDBOX).allowed
    assert admitted == 119


def test_refused_requests_cost_nothing() -> None:
    """Being refused does not push the next allowed time further out."""
    clock = FakeClock()
    limiter = InProcessRateLimiter(clock)
    for _ in range(20 + 50):
        limiter.check("acme", SANDBOX)
    clock.advance(0.6)
    assert limiter.check("acme", SANDBOX).allowed


def test_partners_are_independent() -> None:
    """One partner's burst does not touch another's."""
    limiter = InProcessRateLimiter(FakeClock())
    for _ in range(20):
        limiter.check("acme", SANDBOX)
    assert limiter.check("globex", SANDBOX).remaining == 19


def test_daily_quota() -> None:
    """The daily quota refuses until the next UTC day, with Retry-After to midnight; then it starts over."""
    clock = FakeClock(1_768_487_400.0)  # 2026-01-15T14:30:00Z, 34,200 s before midnight
    policy = RatePolicy("tiny", limit=6000, burst=100, daily_quota=5)
    limiter = InProcessRateLimiter(clock)
    decisions = [limiter.check("acme", policy) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.daily_remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    refused = decisions[-1]
    assert (refused.policy_name, refused.limit, refused.remaining) == ("day", 5, 0)
    assert refused.retry_after_s == pytest.approx(34_200)
    assert refused.reset_epoch == 1_768_521_600
    assert rate_limit_headers(refused, policy)["Retry-After"] == "34200"
    clock.advance(34_200)
    assert limiter.check("acme", policy).allowed


def test_daily_quota_binds_when_tighter() -> None:
    """Near the end of the daily quota the legacy headers describe the quota, not the minute rate."""
    policy = RatePolicy("tiny", limit=100, burst=20, daily_quota=3)
    decision = InProcessRateLimiter(FakeClock()).check("acme", policy)
    assert (decision.policy_name, decision.limit, decision.remaining, decision.rate_remaining) == ("day", 3, 2, 19)


def test_headers_exact() -> None:
    """X-RateLimit-* and IETF RateLimit-Policy/RateLimit for a first sandbox request at 14:30 UTC."""
    decision = InProcessRateLimiter(FakeClock()).check("acme", SANDBOX)
    assert rate_limit_headers(decision, SANDBOX) == {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "19",
        "X-RateLimit-Reset": "1768487401",
        "RateLimit-Policy": '"minute";q=100;w=60, "burst";q=20;w=1, "day";q=10000;w=86400',
        "RateLimit": '"minute";r=19;t=1, "day";r=9999;t=34200',
    }


def test_refusal_headers_carry_retry_after() -> None:
    """A 429's headers add Retry-After in whole seconds (at least 1); no daily items without a quota."""
    policy = RatePolicy.for_tier(Tier.ENTERPRISE)
    limiter = InProcessRateLimiter(FakeClock())
    decisions = [limiter.check("acme", policy) for _ in range(501)]
    headers = rate_limit_headers(decisions[-1], policy)
    assert headers["Retry-After"] == "1"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["RateLimit-Policy"] == '"minute";q=10000;w=60, "burst";q=500;w=1'
    assert headers["RateLimit"].startswith('"minute";r=0;t=')
    assert "Retry-After" not in rate_limit_headers(decisions[0], policy)


def test_no_over_admission_across_threads() -> None:
    """Eight threads sharing one limiter at a frozen instant admit exactly the burst."""
    limiter = InProcessRateLimiter(FakeClock())
    policy = RatePolicy("t", limit=1, burst=100, window_s=3600)
    admitted: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        results = [limiter.check("acme", policy).allowed for _ in range(50)]
        with lock:
            admitted.extend(results)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == 100


def test_gcra_step_leaves_state_alone_on_refusal() -> None:
    """The reference step returns no new state for a refused request."""
    policy = RatePolicy("t", limit=1, burst=1, window_s=10)
    state, raw = gcra_step(GcraState(tat_us=5_000_000, day=0, used=1), 1_000_000, policy)
    assert state is None
    assert raw.allowed == 0
    assert raw.retry_us == 4_000_000
