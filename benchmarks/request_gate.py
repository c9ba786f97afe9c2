"""The request gate in process: replay + rate limit + idempotency claim, one Redis script vs two, same run.

Cases, each ``--requests`` new requests (a new request id and a new ``Idempotency-Key`` each, the limits
raised so nothing is refused), run from an asyncio loop with every Redis call handed to a worker thread
as ``api/http/threads.py`` does:

  two_trips  the code path before issue 13 item 4: ``remember_and_check`` (replay + limit, one script) in
             one thread hand-off, then ``RedisIdempotencyStore.begin`` in a second one.
  one_trip   :class:`adapters.request_gate.RequestGate`: the three in one script, one hand-off.

The cases alternate in ``--rounds`` blocks so drift on a shared machine falls on both. Reported per
request: CPU of this process (client side: redis-py, the hand-offs), CPU of the ``redis-server``
processes (shared with anything else using that server: an upper bound) and wall time.

Usage: ``python benchmarks/request_gate.py [--quick] [--requests N] [--rounds R]``; the JSON is the last line.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from _common import base_parser, emit_json, log, machine_info, print_table, utc_now

import redis
from _servers import DEFAULT_REDIS_URL, pid_cpu_seconds, pids_named

from adapters.ratelimit import RatePolicy
from adapters.redis.idempotency import RedisIdempotencyStore
from adapters.redis.ratelimit import RedisRateLimiter
from adapters.redis.replay import RedisReplayCache
from adapters.request_gate import IdempotencyClaim, RequestGate, remember_and_check

POLICY = RatePolicy("bench", limit=10_000_000, burst=1_000_000, window_s=60, daily_quota=None)


def _redis_cpu() -> float:
    total: float = sum(pid_cpu_seconds(pid) for pid in pids_named("redis-server"))
    return total


async def _run(case: str, requests: int, client: redis.Redis, prefix: str) -> dict[str, float]:
    replay, limiter = RedisReplayCache(client, prefix), RedisRateLimiter(client, prefix)
    store = RedisIdempotencyStore(client, prefix)
    gate = RequestGate(replay, limiter, store)
    loop = asyncio.get_running_loop()
    cpu0, redis0, wall0 = time.process_time(), _redis_cpu(), time.perf_counter()
    for _ in range(requests):
        request_id, key = uuid.uuid4().hex, uuid.uuid4().hex
        if case == "two_trips":
            decision = await loop.run_in_executor(
                None, remember_and_check, replay, limiter, "bench", request_id, 600, POLICY
            )
            if decision is None or not decision.allowed:
                raise RuntimeError("refused")
            await loop.run_in_executor(None, store.begin, "bench", key, "fingerprint")
        else:
            admitted = await loop.run_in_executor(
                None, gate.admit, "bench", request_id, 600, POLICY, IdempotencyClaim(key, "fingerprint")
            )
            if admitted.claim is None:
                raise RuntimeError("not claimed")
    return {
        "cpu": time.process_time() - cpu0,
        "redis_cpu": _redis_cpu() - redis0,
        "wall": time.perf_counter() - wall0,
    }


def main() -> None:
    parser = base_parser(__doc__.split("\n\n", 1)[0])
    parser.add_argument("--requests", type=int, default=None, help="requests per case and round (4,000; quick 1,000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default: 3)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis URL (default: %(default)s)")
    args = parser.parse_args()
    requests = args.requests or (1_000 if args.quick else 4_000)
    client = redis.Redis.from_url(args.redis_url)
    prefix = f"bench:{uuid.uuid4().hex[:12]}:"
    started = utc_now()
    totals: dict[str, dict[str, float]] = {case: {"cpu": 0.0, "redis_cpu": 0.0, "wall": 0.0} for case in CASES}
    try:
        asyncio.run(_run("one_trip", 200, client, prefix))  # warm-up: scripts loaded, threads started
        for _ in range(args.rounds):
            for case in CASES:
                figures = asyncio.run(_run(case, requests, client, prefix))
                for name, value in figures.items():
                    totals[case][name] += value
    finally:
        keys = list(client.scan_iter(f"{prefix}*"))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()
    count = requests * args.rounds
    results = {
        case: {
            "requests": count,
            "client_cpu_us": round(t["cpu"] / count * 1e6, 1),
            "redis_cpu_us": round(t["redis_cpu"] / count * 1e6, 1),
            "wall_us": round(t["wall"] / count * 1e6, 1),
        }
        for case, t in totals.items()
    }
    rows = [[case, str(r["client_cpu_us"]), str(r["redis_cpu_us"]), str(r["wall_us"])] for case, r in results.items()]
    print_table(["case", "client CPU us/req", "redis CPU us/req", "wall us/req"], rows, title="\nrequest gate")
    log(f"load average: {os.getloadavg()}")
    emit_json(
        {
            "benchmark": "request_gate",
            "started": started,
            "finished": utc_now(),
            "quick": args.quick,
            "settings": {"requests": requests, "rounds": args.rounds},
            "machine": machine_info(None) | {"load_average": os.getloadavg()},
            "results": results,
        },
        args.json_out,
    )


CASES = ("two_trips", "one_trip")

if __name__ == "__main__":
    main()
