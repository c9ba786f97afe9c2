"""The request gate: replay check, rate limit and idempotency claim in one Redis script decide exactly as
the three separate calls on the in-process stores (adapters/request_gate.py, adapters/redis/gate.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.idempotency import IdempotencyOutcome, IdempotencyStore, InFlight, Mismatch, New, Replay
from adapters.memory.idempotency import InProcessIdempotencyStore
from adapters.memory.ratelimit import InProcessRateLimiter
from adapters.memory.replay import InProcessReplayCache
from adapters.ratelimit import RatePolicy
from adapters.redis.gate import RedisGate
from adapters.redis.idempotency import RedisIdempotencyStore
from adapters.redis.ratelimit import RateLimiterUnavailable, RedisRateLimiter
from adapters.redis.replay import RedisReplayCache
from adapters.request_gate import Admitted, IdempotencyClaim, RequestGate

pytestmark = pytest.mark.redis

POLICY = RatePolicy("t", limit=1, burst=4, window_s=3600, daily_quota=None)  # 4 admitted, then refused


@pytest.fixture
def client(redis_server: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_server)
    yield connection
    connection.close()


def _redis_gate(client: redis.Redis, prefix: str) -> tuple[RequestGate, IdempotencyStore]:
    store = RedisIdempotencyStore(client, prefix)
    return RequestGate(RedisReplayCache(client, prefix), RedisRateLimiter(client, prefix), store), store


def _memory_gate() -> tuple[RequestGate, IdempotencyStore]:
    store = InProcessIdempotencyStore()
    return RequestGate(InProcessReplayCache(), InProcessRateLimiter(), store), store


def _shape(outcome: IdempotencyOutcome | None) -> object:
    """An outcome without its random lease."""
    if isinstance(outcome, Replay):
        return ("replay", outcome.response)
    return None if outcome is None else type(outcome).__name__


def _view(admitted: Admitted) -> object:
    decision = admitted.decision
    return None if decision is None else (decision.allowed, decision.remaining, _shape(admitted.claim))


def test_the_redis_stores_on_one_client_use_the_one_script(
    client: redis.Redis, redis_prefix: str, redis_server: str
) -> None:
    """Same client: the gate script; another client for the idempotency store: the separate calls."""
    store = RedisIdempotencyStore(client, redis_prefix)
    replay, limiter = RedisReplayCache(client, redis_prefix), RedisRateLimiter(client, redis_prefix)
    assert RedisGate.over(limiter, replay, store) is not None
    other = redis.Redis.from_url(redis_server)
    try:
        assert RedisGate.over(limiter, replay, RedisIdempotencyStore(other, redis_prefix)) is None
    finally:
        other.close()
    assert RedisGate.over(InProcessRateLimiter(), replay, store) is None


def test_each_refusal_claims_nothing(client: redis.Redis, redis_prefix: str) -> None:
    """A replayed request id counts and claims nothing; a rate-limited request claims nothing; an admitted one
    claims, then the same key is in flight (409), another fingerprint a mismatch (422), and after
    ``complete`` the stored response is replayed byte for byte."""
    gate, store = _redis_gate(client, redis_prefix)
    claim = IdempotencyClaim("key-1", "fp-1")
    first = gate.admit("acme", "r1", 60, POLICY, claim)
    assert first.decision is not None
    assert first.decision.allowed
    assert isinstance(first.claim, New)
    assert gate.admit("acme", "r1", 60, POLICY, claim) == Admitted(None)  # replayed id: nothing
    assert isinstance(gate.admit("acme", "r2", 60, POLICY, claim).claim, InFlight)
    assert isinstance(gate.admit("acme", "r3", 60, POLICY, IdempotencyClaim("key-1", "fp-2")).claim, Mismatch)
    assert store.complete("acme", "key-1", first.claim.lease, 201, (("content-type", "application/json"),), b"{}\xff")
    replayed = gate.admit("acme", "r4", 60, POLICY, claim)
    assert isinstance(replayed.claim, Replay)
    assert (replayed.claim.response.status, replayed.claim.response.body) == (201, b"{}\xff")
    refused = gate.admit("acme", "r5", 60, POLICY, IdempotencyClaim("key-2", "fp-1"))
    assert refused.decision is not None
    assert not refused.decision.allowed
    assert refused.claim is None
    assert isinstance(store.begin("acme", "key-2", "fp-1"), New)  # the refused request left key-2 free


def test_a_dead_redis_is_service_unavailable() -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    dead = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    gate = RequestGate(RedisReplayCache(dead), RedisRateLimiter(dead), RedisIdempotencyStore(dead))
    with pytest.raises(RateLimiterUnavailable) as caught:
        gate.admit("acme", "r1", 60, POLICY, IdempotencyClaim("k", "f"))
    assert caught.value.code == "SERVICE_UNAVAILABLE"


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["r1", "r2", "r3", "r4", "r5", "r6", "r7"]),  # request id (repeats are replays)
        st.one_of(st.none(), st.sampled_from(["k1", "k2"])),  # idempotency key, or none
        st.sampled_from(["f1", "f2"]),  # fingerprint
        st.booleans(),  # complete a New claim right away
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_one_script_decides_as_the_separate_calls(
    client: redis.Redis, redis_prefix: str, steps: list[tuple[str, str | None, str, bool]]
) -> None:
    """For any sequence of requests, the gate on Redis (one script) and the gate on the in-process stores
    (replay, then limit, then claim) give the same decisions and the same claim outcomes."""
    redis_gate, redis_store = _redis_gate(client, f"{redis_prefix}{uuid.uuid4().hex[:8]}:")
    memory_gate, memory_store = _memory_gate()
    for request_id, key, fingerprint, complete in steps:
        claim = None if key is None else IdempotencyClaim(key, fingerprint)
        seen = redis_gate.admit("acme", request_id, 60, POLICY, claim)
        expected = memory_gate.admit("acme", request_id, 60, POLICY, claim)
        assert _view(seen) == _view(expected)
        if complete and key is not None and isinstance(seen.claim, New) and isinstance(expected.claim, New):
            response = ((("content-type", "application/json"),), f"{request_id}".encode())
            assert redis_store.complete("acme", key, seen.claim.lease, 201, *response)
            assert memory_store.complete("acme", key, expected.claim.lease, 201, *response)
