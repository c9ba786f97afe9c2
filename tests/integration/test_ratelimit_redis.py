"""adapters.redis.ratelimit against a real Redis: exact bursts, retry_after, recovery, workers sharing a limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.memory.ratelimit import InProcessRateLimiter
from adapters.ratelimit import RatePolicy, rate_limit_headers
from adapters.redis.ratelimit import RateLimiterUnavailable, RedisRateLimiter
from ledger_core.partners.ports import RateLimiter

pytestmark = pytest.mark.redis


@pytest.fixture
def client(redis_server: str) -> Iterator[redis.Redis]:
    """A client of the test server, closed afterwards."""
    connection = redis.Redis.from_url(redis_server)
    yield connection
    connection.close()


@pytest.fixture
def limiter(client: redis.Redis, redis_prefix: str) -> RedisRateLimiter:
    """A limiter whose keys live under this test's prefix (and a ledger_core.partners.ports.RateLimiter)."""
    port: RateLimiter = RedisRateLimiter(client, redis_prefix)
    assert isinstance(port, RedisRateLimiter)
    return port


def _redis_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1e6


def test_exactly_burst_then_refused_with_retry_after(limiter: RedisRateLimiter) -> None:
    """Five back-to-back requests pass, the sixth waits the rest of one 0.5 s interval."""
    policy = RatePolicy("t", limit=2, burst=5, window_s=1)
    started = time.monotonic()
    decisions = [limiter.check("acme", policy) for _ in range(6)]
    elapsed = time.monotonic() - started
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert 0.5 - elapsed - 0.01 <= decisions[-1].retry_after_s <= 0.5
    assert rate_limit_headers(decisions[-1], policy)["Retry-After"] == "1"


def test_recovers_after_retry_after(limiter: RedisRateLimiter) -> None:
    """Waiting the announced retry_after admits exactly one more request."""
    policy = RatePolicy("t", limit=4, burst=2, window_s=1)
    for _ in range(2):
        assert limiter.check("acme", policy).allowed
    refused = limiter.check("acme", policy)
    assert not refused.allowed
    time.sleep(refused.retry_after_s + 0.02)
    assert limiter.check("acme", policy).allowed
    again = limiter.check("acme", policy)
    assert not again.allowed
    assert 0 < again.retry_after_s <= 0.25


def test_two_workers_share_the_limit_exactly(redis_server: str, redis_prefix: str) -> None:
    """Two limiters (separate connections, eight threads) admit exactly the burst, each slot once."""
    policy = RatePolicy("t", limit=1, burst=50, window_s=3600)
    workers = [RedisRateLimiter(redis.Redis.from_url(redis_server), redis_prefix) for _ in range(2)]
    remaining: list[int] = []
    refused = 0
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def hammer(worker: RedisRateLimiter) -> None:
        nonlocal refused
        barrier.wait()
        for _ in range(25):
            decision = worker.check("acme", policy)
            with lock:
                if decision.allowed:
                    remaining.append(decision.remaining)
                else:
                    refused += 1

    threads = [threading.Thread(target=hammer, args=(workers[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(remaining) == list(range(50))
    assert refused == 150


def test_daily_quota_until_utc_midnight(limiter: RedisRateLimiter, client: redis.Redis) -> None:
    """After the quota, requests are refused with retry_after to the next UTC midnight on the Redis clock."""
    policy = RatePolicy("t", limit=6000, burst=100, daily_quota=7)
    decisions = [limiter.check("acme", policy) for _ in range(8)]
    assert [d.allowed for d in decisions] == [True] * 7 + [False]
    refused = decisions[-1]
    to_midnight = 86_400 - _redis_now(client) % 86_400
    assert refused.policy_name == "day"
    assert refused.retry_after_s == pytest.approx(to_midnight, abs=2)
    assert refused.reset_epoch % 86_400 == 0
    assert client.pttl(limiter.key("acme")) >= (to_midnight - 2) * 1000  # the count lives until the day ends


def test_daily_quota_resets_with_the_day(limiter: RedisRateLimiter, client: redis.Redis) -> None:
    """With a 2-second "day" the quota comes back at the boundary."""
    policy = RatePolicy("t", limit=6000, burst=100, daily_quota=3, day_s=2)
    time.sleep(2 - _redis_now(client) % 2 + 0.05)  # start just after a day boundary
    assert [limiter.check("acme", policy).allowed for _ in range(4)] == [True, True, True, False]
    refused = limiter.check("acme", policy)
    time.sleep(refused.retry_after_s + 0.05)
    assert limiter.check("acme", policy).allowed


def test_same_decisions_as_the_in_process_limiter(limiter: RedisRateLimiter) -> None:
    """Without time passing, Redis and the in-process reference agree request for request."""
    policy = RatePolicy("t", limit=1, burst=20, daily_quota=15, window_s=3600)
    reference = InProcessRateLimiter()
    for _ in range(25):
        ours, theirs = limiter.check("acme", policy), reference.check("acme", policy)
        assert (ours.allowed, ours.remaining, ours.policy_name, ours.daily_remaining) == (
            theirs.allowed,
            theirs.remaining,
            theirs.policy_name,
            theirs.daily_remaining,
        )


def test_keys_expire_on_their_own(limiter: RedisRateLimiter, client: redis.Redis) -> None:
    """Without a daily quota the state expires about one interval after the last request."""
    limiter.check("acme", RatePolicy("t", limit=60, burst=5, window_s=60))
    assert 0 < client.pttl(limiter.key("acme")) <= 2_000


def test_partners_do_not_share(limiter: RedisRateLimiter) -> None:
    """Each partner has its own allowance."""
    policy = RatePolicy("t", limit=1, burst=1, window_s=3600)
    assert limiter.check("acme", policy).allowed
    assert limiter.check("globex", policy).allowed
    assert not limiter.check("acme", policy).allowed


def test_unreachable_redis_is_a_typed_error() -> None:
    """A dead Redis raises RateLimiterUnavailable (SERVICE_UNAVAILABLE), not a driver error."""
    dead = RedisRateLimiter(redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0)))
    with pytest.raises(RateLimiterUnavailable) as caught:
        dead.check("acme", RatePolicy("t", limit=1, burst=1))
    assert caught.value.code == "SERVICE_UNAVAILABLE"


def test_replay_and_limit_in_one_script_match_the_two_calls(client: redis.Redis, redis_prefix: str) -> None:
    """remember_and_check on Redis (one script) decides exactly as the replay cache then the limiter do
    in process: a new id is remembered and counted, a seen id gets None and counts nothing."""
    from adapters.memory.replay import InProcessReplayCache
    from adapters.redis.replay import RedisReplayCache
    from adapters.request_gate import remember_and_check

    policy = RatePolicy("t", limit=1, burst=3, window_s=3600, daily_quota=None)
    redis_limiter, redis_replay = RedisRateLimiter(client, redis_prefix), RedisReplayCache(client, redis_prefix)
    memory_limiter, memory_replay = InProcessRateLimiter(), InProcessReplayCache()
    ids = ["a", "b", "a", "c", "b", "d", "e"]
    seen: list[tuple[bool, int] | None] = []
    expected: list[tuple[bool, int] | None] = []
    for request_id in ids:
        fresh = remember_and_check(redis_replay, redis_limiter, "acme", request_id, 60, policy)
        seen.append(None if fresh is None else (fresh.allowed, fresh.remaining))
        local = remember_and_check(memory_replay, memory_limiter, "acme", request_id, 60, policy)
        expected.append(None if local is None else (local.allowed, local.remaining))
    assert seen == expected == [(True, 2), (True, 1), None, (True, 0), None, (False, 0), (False, 0)]
    assert client.ttl(redis_replay.key("acme", "a")) > 0  # remembered with an expiry
    assert not redis_replay.remember("acme", "d", 60)  # a refused request's id is still remembered
