"""Replay caches (in process and real Redis), one contract: first use wins, per partner, expiry, races."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from support.clock import ManualClock

from adapters.memory.replay import InProcessReplayCache
from adapters.redis.replay import RedisReplayCache, ReplayCacheUnavailable
from ledger_core.partners.ports import ReplayCache

Advance = Callable[[float], None]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def cache(request: pytest.FixtureRequest) -> Iterator[tuple[Callable[[], ReplayCache], Advance]]:
    """A factory of caches sharing one store (one per simulated worker) and a way to let time pass."""
    if request.param == "memory":
        clock = ManualClock(1000.0)
        shared = InProcessReplayCache(clock)
        yield (lambda: shared), clock.advance
        return
    url: str = request.getfixturevalue("redis_server")
    prefix: str = request.getfixturevalue("redis_prefix")
    clients: list[redis.Redis] = []

    def make() -> ReplayCache:
        clients.append(redis.Redis.from_url(url))
        return RedisReplayCache(clients[-1], prefix)

    yield make, time.sleep
    for client in clients:
        client.close()


def test_first_use_is_new_then_seen(cache: tuple[Callable[[], ReplayCache], Advance]) -> None:
    """remember() is True once, then False for the same partner and id."""
    store = cache[0]()
    assert store.remember("acme", "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b", 600)
    assert not store.remember("acme", "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b", 600)


def test_ids_are_scoped_per_partner(cache: tuple[Callable[[], ReplayCache], Advance]) -> None:
    """Two partners may use the same request id."""
    store = cache[0]()
    assert store.remember("acme", "id-1", 600)
    assert store.remember("globex", "id-1", 600)


def test_ids_are_forgotten_after_ttl(cache: tuple[Callable[[], ReplayCache], Advance]) -> None:
    """After ttl seconds the id is new again."""
    make, advance = cache
    store = make()
    assert store.remember("acme", "id-ttl", 1)
    advance(1.2)
    assert store.remember("acme", "id-ttl", 1)


def test_concurrent_workers_accept_an_id_once(cache: tuple[Callable[[], ReplayCache], Advance]) -> None:
    """Sixteen threads over two workers racing on one id: exactly one wins (SET NX semantics)."""
    make = cache[0]
    workers = [make(), make()]
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def race(worker: ReplayCache) -> None:
        barrier.wait()
        outcome = worker.remember("acme", "raced-id", 600)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=race, args=(workers[i % 2],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 15 + [True]


@pytest.mark.redis
def test_redis_keys_carry_the_ttl(redis_server: str, redis_prefix: str) -> None:
    """The Redis key is written with EX ttl, so it vanishes without any sweeper."""
    client = redis.Redis.from_url(redis_server)
    store = RedisReplayCache(client, redis_prefix)
    store.remember("acme", "id-x", 600)
    assert 590 <= client.ttl(store.key("acme", "id-x")) <= 600
    client.close()


def test_memory_cache_prunes_expired_ids() -> None:
    """The in-process cache does not grow without bound: expired ids are dropped."""
    clock = ManualClock(1000.0)
    store = InProcessReplayCache(clock)
    for number in range(100):
        store.remember("acme", f"id-{number}", 10)
    assert len(store) == 100
    clock.advance(11)
    assert len(store) == 0


def test_unreachable_redis_is_a_typed_error() -> None:
    """A dead Redis raises ReplayCacheUnavailable: the request is refused, never waved through."""
    dead = RedisReplayCache(redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0)))
    with pytest.raises(ReplayCacheUnavailable):
        dead.remember("acme", "id", 600)
