"""Soak: the PostgreSQL server topology under mixed load at 70 % of its measured capacity for 10 minutes.

Topology (everything a production deployment runs, each its own process on this machine): ``ledger serve
--workers 2 --no-embedded-sealer`` (uvicorn supervisor + 2 API workers, ``LEDGER_EMBEDDED_WEBHOOKS=0``),
``ledger sealer``, ``ledger webhooks run`` (projector + dispatcher), ``ledger feeds worker`` (polls every
2 s), Redis (shared rate limiter, replay cache, idempotency store), PostgreSQL (fresh schema, dropped
after), a real HTTP webhook receiver on loopback (its own process) and the load generator (its own
process; see benchmarks/_soak_load.py for the request mix and the open-loop scheduling). Start-up
(benchmarks/_soak_deploy.py): the receiver starts while the schema is made; what ``ledger init`` does, in
this process; then the sealer, the server, the dispatcher and the feeds worker all at once; the partner's
feeds are configured in this process (what ``ledger feeds configure`` does). At the end every process is
signalled at once. ``timeline_s`` in the JSON gives each phase's end (seconds from the script's start).

1. **Capacity**: closed loop, ``--capacity-connections`` (32) connections, the soak's mix, for
   ``--capacity-seconds`` (20; quick 2) after 3 s (quick 1 s) not counted. Capacity = operations answered
   2xx per second (an operation is a claim, i.e. document upload + claim, or one read).
2. **Soak**: open loop at ``--load`` (0.70) x capacity for ``--duration`` s (600; quick 12). One partner
   endpoint subscribed to every claim event (``claim.verified``, ``claim.fraud_detected``,
   ``proof.generated``). Eligibility files go into the partner's inbound folder with their ready marker,
   as our SFTP server does after an upload: a small one at 2 %, then ``--feed-rows`` (5,000; quick 100;
   1 % invalid rows) each at 10 % (both in the warm-up), 30, 50, 70 and 90 % (quick: 10 and 50 %); the
   feeds worker's receipt for each is awaited. Afterwards the outbox is drained (up to 120 s) and compared
   with what the receiver got.

**Warm-up**: the first 20 % of the soak (``WARMUP_SHARE``, 120 s of 600) is left out of the RSS and p99
verdicts: connection pools, code paths and the bounded caches (aggregates, tiles; each API worker's
aggregate cache fills in well under a minute at this load) fill there, and the feeds worker processes its
first full-size file in it (its first file of each size loads code and grows its heap once). The JSON's
``warmup`` says whether that file's receipt did come within the warm-up; a later one is not hidden.

Every ``--sample-seconds`` (5; quick 0.5) the RSS and CPU time of every process are read from /proc: the
uvicorn supervisor, each API worker, the sealer, the dispatcher, the feeds worker, the load generator, the
receiver, the PostgreSQL backends serving this run (by ``application_name``; summed, their private memory
``RssAnon`` since RSS also counts the shared buffers they touch) and Redis (shared with other users of the
machine). Verdicts (benchmarks/_soak_analysis.py): ``rss_flat`` (each process's mean RSS grows < 5 % from
the first to the last fifth of the samples after the first 20 %), ``p99_steady`` (per 60 s window, quick
3 s), ``zero_errors`` (no non-2xx answer, no transport error, in both phases), ``webhooks_delivered``
(nothing pending or failed, the receiver got every delivery, and 2 deliveries per claim created),
``claims_proved`` (every claim answered 201 with its inclusion proof), ``feed_processed`` (a receipt for
every file) and ``workers_alive`` (no process died or was replaced: a new pid under a label counts).
The receiver is reported, not judged (it keeps every event id it saw, to count distinct deliveries); so
is Redis: other users of the machine share it, and it keeps this run's idempotency
records for their TTL (24 h), so it grows with every POST by design (keys under the run's prefix and
``used_memory`` at the soak's start and end are in the JSON). Per API worker the table and JSON also give
the claim-facts index's estimated share of the growth and the growth beyond it (benchmarks/_soak_report.py;
the verdict is on the whole RSS).

Usage: ``python benchmarks/soak.py [--quick] [--duration S] [--load 0.7 | --rate OPS] [--logs-dir DIR]
[--server-env LEDGER_X=V] [--tracemalloc DIR]``. With ``--tracemalloc DIR`` the API workers dump allocation
snapshots to DIR (benchmarks/_tracemalloc_site/sitecustomize.py; compare two with its compare.py).
Table on stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    emit_json,
    log,
    machine_info,
    utc_now,
)

from _soak_analysis import (
    WARMUP_SHARE,
    latency_windows,
    p99_steady,
    percentile,
)
from _soak_deploy import TIMELINE, deployment, mark
from _soak_feeds import FeedDrops
from _soak_load import MIX, load_main
from _soak_procs import ProcessSampler
from _soak_report import print_report, process_figures

DEFAULT_REDIS_URL = os.environ.get("LEDGER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
EVENT_TYPES = ["claim.verified", "claim.fraud_detected", "proof.generated"]
DELIVERIES_PER_CLAIM = 2  # claim.verified or claim.fraud_detected, then proof.generated
_SPAWN = multiprocessing.get_context("spawn")


# -- driving the load -----------------------------------------------------------------------------------
class LoadRun:
    """One load-generator process; :meth:`pump` collects its finished requests while the caller samples."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.conn, child = _SPAWN.Pipe(duplex=False)
        self.process = _SPAWN.Process(target=load_main, args=(child, spec), daemon=True)
        self.process.start()
        child.close()
        self.samples: list[tuple[float, float]] = []
        self.ok_at: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.by_op: Counter[str] = Counter()
        self.started_at: float | None = None
        self.done: dict[str, Any] | None = None

    @property
    def pid(self) -> int:
        return int(self.process.pid or 0)

    def pump(self, seconds: float) -> None:
        """Receive messages for up to ``seconds``."""
        deadline = time.monotonic() + seconds
        while self.done is None and (left := deadline - time.monotonic()) > 0:
            if not self.conn.poll(left):
                break
            try:
                kind, payload = self.conn.recv()
            except EOFError:
                raise RuntimeError(f"load generator died (exit code {self.process.exitcode})") from None
            if kind == "start":
                self.started_at = float(payload)
            elif kind == "batch":
                for at, latency, op, status in payload:
                    self.samples.append((at, latency))
                    if status.startswith("2"):
                        self.ok_at.append(at)
                    self.statuses[status] += 1
                    self.by_op[f"{op}:{status}"] += 1
            else:
                self.done = payload
        if self.done is None and not self.process.is_alive() and not self.conn.poll():
            raise RuntimeError(f"load generator died (exit code {self.process.exitcode})")

    def wait(self) -> None:
        while self.done is None:
            self.pump(1.0)
        self.process.join(10)

    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if code.startswith("2"))

    def errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if not code.startswith("2"))

    def claims_created(self) -> int:
        """Claims the server accepted: sealed (201, with or without the proof in the answer) or not sealed
        within the server's wait (202): each is recorded and gets its webhooks."""
        return self.by_op["claim:201"] + self.by_op["claim:201-no-proof"] + self.by_op["claim:202"]

    def claims_unproved(self) -> int:
        """Claims answered without their inclusion proof (202, or a 201 whose ``proof`` is missing)."""
        return self.by_op["claim:201-no-proof"] + self.by_op["claim:202"]


def capacity(url: str, auth: dict[str, str], args: Any) -> dict[str, Any]:
    """Closed-loop saturation with the soak's mix; the warm-up's requests are not counted."""
    warmup = 1.0 if args.quick else 3.0
    run = LoadRun(
        {
            "mode": "closed",
            "url": url,
            "auth": auth,
            "tag": f"cap-{uuid.uuid4().hex[:6]}",
            "duration": warmup + args.capacity_seconds,
            "connections": args.capacity_connections,
        }
    )
    run.wait()
    measured = [latency for at, latency in run.samples if at >= warmup]
    ok = sum(1 for at in run.ok_at if at >= warmup)
    rate = ok / args.capacity_seconds
    claim_share = MIX.count("claim") / len(MIX)
    return {
        "connections": args.capacity_connections,
        "seconds": args.capacity_seconds,
        "requests_per_s": round(rate, 1),
        "claims_per_s": round(rate * claim_share, 1),
        "p50_ms": _ms(percentile(measured, 0.5)),
        "p99_ms": _ms(percentile(measured, 0.99)),
        "statuses": dict(run.statuses),
        "errors": run.errors(),
        "claims_created": run.claims_created(),
        "claims_without_proof": run.claims_unproved(),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def soak_phase(
    server: dict[str, Any], auth: dict[str, str], rate: float, sampler: ProcessSampler, args: Any
) -> tuple[LoadRun, FeedDrops]:
    """The open-loop run with the sampling and the feed files; returns the run and the feed drops."""
    run = LoadRun(
        {
            "mode": "open",
            "url": server["url"],
            "auth": auth,
            "tag": f"soak-{uuid.uuid4().hex[:6]}",
            "duration": args.duration,
            "rate": rate,
            "max_connections": args.max_connections,
        }
    )
    sampler.add("load generator", run.pid)
    feeds = FeedDrops(server["data_dir"], auth["id"], args.feed_rows, args.feed_shares)
    next_sample = time.monotonic()
    next_report = time.monotonic() + args.window
    while run.done is None:
        now = time.monotonic()
        if now >= next_sample:
            sampler.sample()
            next_sample += args.sample_seconds
        if run.started_at is not None:
            feeds.tick((now - run.started_at) / args.duration, now)
        if now >= next_report:
            log(
                f"  {now - (run.started_at or now):5.0f} s  ok {run.ok():,}  errors {run.errors()}  "
                f"load avg {os.getloadavg()[0]:.1f}"
            )
            next_report += args.window
        run.pump(max(0.05, min(next_sample, next_report) - time.monotonic()))
    run.wait()
    sampler.remove("load generator")
    feeds.wait(120)
    return run, feeds


def drain_webhooks(server: dict[str, Any], receiver_pipe: Any, claims: int) -> dict[str, Any]:
    """Wait (up to 120 s) until nothing is pending in the outbox and the receiver has every delivery."""
    from adapters.storage import StorageConfig, open_outbox

    expected = claims * DELIVERIES_PER_CLAIM
    outbox = open_outbox(StorageConfig(server["data_dir"], server["database_url"]))
    try:
        deadline = time.monotonic() + 120
        while True:
            counts = outbox.counts()
            receiver_pipe.send("count")
            posts, distinct = receiver_pipe.recv()
            settled = counts.get("pending", 0) == 0 and counts.get("delivered", 0) >= expected
            if (settled and distinct >= counts.get("delivered", 0)) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        outbox.close()
    delivered = counts.get("delivered", 0)
    return {
        "expected": expected,
        "outbox": counts,
        "received_posts": posts,
        "received_distinct": distinct,
        "delivered": delivered == expected and distinct == expected and set(counts) <= {"delivered"},
    }


def redis_usage(redis_url: str, prefix: str) -> dict[str, int]:
    """Keys under this run's prefix, and the Redis server's ``used_memory`` (all its users)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = sum(1 for _ in client.scan_iter(f"{prefix}*", count=1000))
        return {"keys": keys, "used_memory": int(client.info("memory")["used_memory"])}
    finally:
        client.close()


def run(args: Any) -> dict[str, Any]:
    """Capacity, then the soak, then the webhook drain; the figures and verdicts."""
    sampler = ProcessSampler()
    with deployment(args, sampler) as deployed:
        server, auth = deployed["server"], deployed["auth"]
        log(f"capacity: closed loop, {args.capacity_connections} connections, {args.capacity_seconds:g} s")
        cap = capacity(server["url"], auth, args)
        mark("capacity measured")
        log(
            f"  {cap['requests_per_s']} ops/s ({cap['claims_per_s']} claims/s), p99 {cap['p99_ms']} ms, "
            f"statuses {cap['statuses']}"
        )
        rate = args.rate or max(1.0, cap["requests_per_s"] * args.load)
        log(f"soak: open loop at {rate:.1f} ops/s for {args.duration:g} s")
        redis_before = redis_usage(args.redis_url, server["env"]["LEDGER_REDIS_PREFIX"])
        soak_started = time.monotonic()
        load, feeds = soak_phase(server, auth, rate, sampler, args)
        soak_ended = time.monotonic()
        redis_after = redis_usage(args.redis_url, server["env"]["LEDGER_REDIS_PREFIX"])
        claims = cap["claims_created"] + load.claims_created()
        log(f"  draining webhooks: {claims} claims -> {claims * DELIVERIES_PER_CLAIM} deliveries expected")
        mark("soak ended")
        hooks_figures = drain_webhooks(server, deployed["hooks"], claims)
        mark("webhooks drained")
        alive = all(process.poll() is None for process in deployed["processes"].values())
    mark("every process stopped, schema dropped")
    facts = dict(item.split("=", 1) for item in args.server_env).get("LEDGER_CLAIM_FACTS", "memory")
    processes = process_figures(
        sampler,
        soak_started,
        soak_ended,
        load.claims_created() / args.duration,
        facts_in_workers=facts.strip().lower() != "table",
    )
    soak = soak_figures(load, rate, args)
    print_report(cap, soak, processes)
    flat = [f["flat"] for f in processes.values() if f["judged"]]
    verdicts = {
        "rss_flat": bool(flat) and all(flag is True for flag in flat),
        "p99_steady": soak["steadiness"]["steady"],
        "zero_errors": cap["errors"] == 0 and soak["errors"] == 0,
        "webhooks_delivered": bool(hooks_figures["delivered"]),
        "claims_proved": cap["claims_without_proof"] == 0 and load.claims_unproved() == 0,
        "feed_processed": feeds.processed(),
        "workers_alive": alive and not sampler.pid_changes,
    }
    loads = sampler.load_average
    return {
        "verdicts": verdicts,
        "capacity": cap,
        "soak": soak,
        "webhooks": hooks_figures,
        "feed_files": feeds.files,
        "warmup": {
            "share": WARMUP_SHARE,
            "seconds": round(args.duration * WARMUP_SHARE, 1),
            "full_size_feed_file_processed_within": any(
                f["rows"] == args.feed_rows and f.get("processed_at_share", 1.0) <= WARMUP_SHARE for f in feeds.files
            ),
        },
        "processes": processes,
        "redis": {"soak_start": redis_before, "soak_end": redis_after},
        "pid_changes": sampler.pid_changes,
        "timeline_s": TIMELINE,
        "load_average_1m": {"mean": round(sum(loads) / len(loads), 2), "max": round(max(loads), 2)} if loads else None,
    }


def soak_figures(load: LoadRun, rate: float, args: Any) -> dict[str, Any]:
    """The soak's request figures, with the latency per window and its steadiness."""
    windows = latency_windows(load.samples, args.window, args.duration)
    steadiness = p99_steady(windows)
    latencies = [latency for _, latency in load.samples]
    return {
        "duration_s": args.duration,
        "load_factor": args.load,
        "rate_per_s": round(rate, 1),
        "operations": len(load.samples),
        "achieved_per_s": round(len(load.samples) / args.duration, 1),
        "claims_created": load.claims_created(),
        "claims_without_proof": load.claims_unproved(),
        "statuses": dict(load.statuses),
        "by_op": dict(load.by_op),
        "errors": load.errors(),
        "p50_ms": _ms(percentile(latencies, 0.5)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "windows": [
            {
                "start_s": w.start_s,
                "seconds": w.seconds,
                "operations": w.requests,
                "p50_ms": _round(w.p50_ms),
                "p99_ms": _round(w.p99_ms),
                "max_ms": _round(w.max_ms),
            }
            for w in windows
        ],
        "steadiness": {
            "steady": steadiness.steady,
            "reason": steadiness.reason,
            "median_p99_ms": _round(steadiness.median_p99_ms),
            "worst_p99_ms": _round(steadiness.worst_p99_ms),
            "first_third_p99_ms": _round(steadiness.first_third_p99_ms),
            "last_third_p99_ms": _round(steadiness.last_third_p99_ms),
        },
        "load_generator_cpu_s": None if load.done is None else round(load.done["cpu_s"], 1),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def main() -> None:
    parser = base_parser(__doc__.split("\n\n", 1)[0] if __doc__ else "soak")
    parser.add_argument("--duration", type=float, default=None, help="soak seconds (600; quick 12)")
    parser.add_argument("--load", type=float, default=0.70, help="offered load as a share of capacity (0.70)")
    parser.add_argument(
        "--rate", type=float, default=None, help="offered operations/s instead of --load x capacity (e.g. when tracing)"
    )
    parser.add_argument("--capacity-seconds", type=float, default=None, help="capacity probe seconds (20; quick 2)")
    parser.add_argument("--capacity-connections", type=int, default=32, help="capacity probe connections (32)")
    parser.add_argument("--max-connections", type=int, default=256, help="open-loop connection cap (256)")
    parser.add_argument("--window", type=float, default=None, help="latency window seconds (60; quick 3)")
    parser.add_argument("--sample-seconds", type=float, default=None, help="process sampling interval (5; quick 0.5)")
    parser.add_argument(
        "--feed-rows", type=int, default=None, help="eligibility rows dropped mid-run (5000; quick 100)"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="LEDGER_X=VALUE",
        help="extra environment of every ledger process (repeatable), e.g. LEDGER_WORKER_HEALTHCHECK_SECONDS=5",
    )
    parser.add_argument(
        "--tracemalloc",
        type=Path,
        default=None,
        metavar="DIR",
        help="API workers dump tracemalloc snapshots here (slows them several-fold: use with --rate)",
    )
    parser.add_argument("--logs-dir", type=Path, default=None, help="copy every process's log here at the end")
    parser.add_argument("--workers", type=int, default=2, help="API workers (2)")
    parser.add_argument("--seal-interval-ms", type=int, default=50, help="sealer interval (50)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis URL (default: %(default)s)")
    args = parser.parse_args()
    args.duration = args.duration or (12.0 if args.quick else 600.0)
    args.capacity_seconds = args.capacity_seconds or (2.0 if args.quick else 20.0)
    args.window = args.window or (3.0 if args.quick else 60.0)
    args.sample_seconds = args.sample_seconds or (0.5 if args.quick else 5.0)
    args.feed_rows = args.feed_rows or (100 if args.quick else 5000)
    args.feed_shares = (0.02, 0.10, 0.5) if args.quick else (0.02, 0.10, 0.3, 0.5, 0.7, 0.9)
    # A stopped soak (SIGTERM, or SIGINT when started in the background, where SIGINT is ignored) unwinds
    # its ExitStack: every process it started is stopped and the schema dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = utc_now()
    results = run(args)
    for name, verdict in results["verdicts"].items():
        log(f"{name}: {'yes' if verdict else 'NO'}")
    emit_json(
        {
            "benchmark": "soak",
            "started": started,
            "finished": utc_now(),
            "quick": args.quick,
            "settings": {
                "topology": "postgresql: ledger serve --workers N --no-embedded-sealer, ledger sealer, "
                "ledger webhooks run, ledger feeds worker, redis",
                "workers": args.workers,
                "mix_per_10": {op: MIX.count(op) for op in sorted(set(MIX))},
                "load_factor": args.load,
                "duration_s": args.duration,
                "window_s": args.window,
                "sample_s": args.sample_seconds,
                "feed_rows": args.feed_rows,
            },
            "machine": machine_info(args.postgres_url),
            **results,
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
