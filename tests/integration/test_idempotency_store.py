"""Idempotency-Key stores (in process and real Redis), one contract: states, leases, expiry, races."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from support.clock import ManualClock

from adapters.idempotency import (
    IdempotencyStore,
    InFlight,
    Mismatch,
    New,
    Replay,
    StoredResponse,
)
from adapters.memory.idempotency import InProcessIdempotencyStore
from adapters.redis.idempotency import IdempotencyStoreUnavailable, RedisIdempotencyStore

Advance = Callable[[float], None]
HEADERS = (("Content-Type", "application/json"), ("Location", "/api/v1/claims/CLM-1"))
BODY = b'{"claimId":"CLM-1"}\x00\xff'  # binary-safe


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[Callable[[], IdempotencyStore], Advance]]:
    """A factory of stores over one backend (one per simulated worker; lease 1 s, records kept 2 s)."""
    if request.param == "memory":
        clock = ManualClock(1000.0)
        shared = InProcessIdempotencyStore(clock, ttl_s=2, lease_s=1)
        yield (lambda: shared), clock.advance
        return
    url: str = request.getfixturevalue("redis_server")
    prefix: str = request.getfixturevalue("redis_prefix")
    clients: list[redis.Redis] = []

    def make() -> IdempotencyStore:
        clients.append(redis.Redis.from_url(url))
        return RedisIdempotencyStore(clients[-1], prefix, ttl_s=2, lease_s=1)

    yield make, time.sleep
    for client in clients:
        client.close()


def _new(outcome: object) -> New:
    assert isinstance(outcome, New)
    return outcome


def test_first_begin_is_new_then_replayed_after_complete(
    stores: tuple[Callable[[], IdempotencyStore], Advance],
) -> None:
    """New, then complete, then the same request gets the stored response byte for byte."""
    store = stores[0]()
    lease = _new(store.begin("acme", "key-1", "fp-a")).lease
    assert store.complete("acme", "key-1", lease, 201, HEADERS, BODY)
    assert store.begin("acme", "key-1", "fp-a") == Replay(StoredResponse(201, HEADERS, BODY))


def test_different_request_is_a_mismatch(stores: tuple[Callable[[], IdempotencyStore], Advance]) -> None:
    """Reusing a key for another request fingerprint is Mismatch, in flight or done."""
    store = stores[0]()
    lease = _new(store.begin("acme", "key-2", "fp-a")).lease
    assert store.begin("acme", "key-2", "fp-b") == Mismatch()
    store.complete("acme", "key-2", lease, 200, (), b"")
    assert store.begin("acme", "key-2", "fp-b") == Mismatch()


def test_duplicate_while_in_flight(stores: tuple[Callable[[], IdempotencyStore], Advance]) -> None:
    """A second identical request while the first runs is InFlight."""
    store = stores[0]()
    _new(store.begin("acme", "key-3", "fp-a"))
    assert store.begin("acme", "key-3", "fp-a") == InFlight()


def test_abandon_releases_the_key(stores: tuple[Callable[[], IdempotencyStore], Advance]) -> None:
    """After abandon (a failed attempt) the next begin is New; a wrong lease releases nothing."""
    store = stores[0]()
    lease = _new(store.begin("acme", "key-4", "fp-a")).lease
    assert not store.abandon("acme", "key-4", "not-the-lease")
    assert store.begin("acme", "key-4", "fp-a") == InFlight()
    assert store.abandon("acme", "key-4", lease)
    _new(store.begin("acme", "key-4", "fp-a"))


def test_completion_needs_the_current_lease(stores: tuple[Callable[[], IdempotencyStore], Advance]) -> None:
    """complete() with a wrong lease, or twice, does nothing; abandon after completion does nothing."""
    store = stores[0]()
    lease = _new(store.begin("acme", "key-5", "fp-a")).lease
    assert not store.complete("acme", "key-5", "not-the-lease", 200, (), b"x")
    assert store.complete("acme", "key-5", lease, 200, (), b"first")
    assert not store.complete("acme", "key-5", lease, 200, (), b"second")
    assert not store.abandon("acme", "key-5", lease)
    assert store.begin("acme", "key-5", "fp-a") == Replay(StoredResponse(200, (), b"first"))


def test_expired_lease_lets_a_retry_take_over(stores: tuple[Callable[[], IdempotencyStore], Advance]) -> None:
    """A worker that died mid-request blocks the key only for the lease; its late completion is ignored."""
    make, advance = stores
    store = make()
    stale = _new(store.begin("acme", "key-6", "fp-a")).lease
    advance(1.2)
    fresh = _new(store.begin("acme", "key-6", "fp-a")).lease
    assert not store.complete("acme", "key-6", stale, 500, (), b"late")
    assert store.complete("acme", "key-6", fresh, 201, (), b"ok")
    assert store.begin("acme", "key-6", "fp-a") == Replay(StoredResponse(201, (), b"ok"))


def test_records_expire_after_ttl(stores: tuple[Callable[[], IdempotencyStore], Advance]) -> None:
    """A completed record is forgotten after its TTL (24 h in production, 2 s here)."""
    make, advance = stores
    store = make()
    lease = _new(store.begin("acme", "key-7", "fp-a")).lease
    store.complete("acme", "key-7", lease, 201, (), b"")
    advance(2.2)
    _new(store.begin("acme", "key-7", "fp-b"))


def test_keys_are_scoped_per_partner(stores: tuple[Callable[[], IdempotencyStore], Advance]) -> None:
    """Two partners using the same key do not see each other."""
    store = stores[0]()
    _new(store.begin("acme", "shared-key", "fp-a"))
    _new(store.begin("globex", "shared-key", "fp-b"))


def test_concurrent_begin_yields_one_new(stores: tuple[Callable[[], IdempotencyStore], Advance]) -> None:
    """Sixteen threads over two workers begin the same key at once: exactly one New, the rest InFlight."""
    make = stores[0]
    workers = [make(), make()]
    outcomes: list[object] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def race(worker: IdempotencyStore) -> None:
        barrier.wait()
        outcome = worker.begin("acme", "raced-key", "fp-a")
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=race, args=(workers[i % 2],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, New) for o in outcomes) == 1
    assert sum(isinstance(o, InFlight) for o in outcomes) == 15


@pytest.mark.redis
def test_redis_record_ttls(redis_server: str, redis_prefix: str) -> None:
    """In flight the record lives for the lease; once done, for the 24-hour default."""
    client = redis.Redis.from_url(redis_server)
    store = RedisIdempotencyStore(client, redis_prefix)
    lease = _new(store.begin("acme", "key-ttl", "fp")).lease
    assert 0 < client.pttl(store.key("acme", "key-ttl")) <= 60_000
    store.complete("acme", "key-ttl", lease, 200, (), b"")
    assert 86_390 <= client.ttl(store.key("acme", "key-ttl")) <= 86_400
    client.close()


@pytest.mark.redis
def test_redis_store_refuses_decoding_clients(redis_server: str) -> None:
    """A client with decode_responses would corrupt binary bodies, so it is refused up front."""
    with pytest.raises(ValueError, match="decode_responses"):
        RedisIdempotencyStore(redis.Redis.from_url(redis_server, decode_responses=True))


def test_unreachable_redis_is_a_typed_error() -> None:
    """A dead Redis raises IdempotencyStoreUnavailable rather than running the request unguarded."""
    dead = RedisIdempotencyStore(redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0)))
    with pytest.raises(IdempotencyStoreUnavailable):
        dead.begin("acme", "key", "fp")
