"""The HTTP load generator of the benchmarks: raw asyncio keep-alive connections in spawned processes.

* :func:`claim_body`: a claim-sized JSON body for ``POST /api/v1/claims``.
* :func:`load_worker`: one load-generator process (``spec["connections"]`` tasks for warm-up + duration).
* :func:`run_case`: drive one case over ``--client-procs`` processes; figures (rate, latency percentiles,
  statuses, load-generator CPU, server process-tree CPU per request, machine busy share, and the machine's
  CPU per 2xx answer split by process group: :class:`CpuSources`, :data:`CPU_GROUPS`).

Requests are pre-signed before the measured window (:func:`load_worker`), so the generator's own CPU per
request is small and measured (``load_generator`` in the split).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import socket
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from _common import log, machine_cpu_ticks, run_workers

from _servers import pid_cpu_seconds, pids_named, postgres_backends, tree_cpu_seconds


def claim_body(partner_claim_id: str) -> bytes:
    return json.dumps(
        {
            "partnerClaimId": partner_claim_id,
            "claimType": "auto",
            "claimAmount": "1250.00",
            "currency": "USD",
            "submittedAt": "2026-01-15T14:30:00Z",
            "documents": [],
            "verificationLevel": "standard",
        },
        separators=(",", ":"),
    ).encode()


# -- load generator -------------------------------------------------------------------------------------
_SPAWN = multiprocessing.get_context("spawn")
PRESIGN = {"post": 30_000, "get": 90_000}
"""Requests each load-generator process signs before the measured window, per ledger case: above what
64 connections complete in 3 + 20 s on this machine; past them it signs on the fly (``signed_live``)."""


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def load_worker(index: int, barrier: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """One load-generator process: ``spec["connections"]`` tasks for warmup + duration seconds.

    Ledger requests are built and signed before the window (``spec["presign"]`` of them): each with its
    own ``X-Request-ID``, ``X-Timestamp`` (the server accepts 300 s of skew, far more than a case lasts)
    and ``Idempotency-Key``, already encoded as HTTP/1.1 bytes, so in the window the generator only writes
    bytes and parses status lines, while the server still checks every token, signature, id and limit.
    """
    from api.client.signing import sign

    kind: str = spec["kind"]  # "post", "get", "hello_get", "hello_post"
    auth = spec.get("auth")
    claim_ids: list[str] = spec.get("claim_ids") or []
    run_tag = f"{uuid.uuid4().hex[:8]}-{index}"
    hello_body = claim_body("HELLO-ECHO-0000")
    rng = random.Random(index)
    host, _, port = spec["url"].removeprefix("http://").rpartition(":")
    host_header = f"Host: {host}:{port}\r\n".encode()

    def encode(method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"{method} {path} HTTP/1.1\r\n".encode(), host_header]
        lines += [f"{name}: {value}\r\n".encode() for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}\r\n\r\n".encode() if method == "POST" else b"\r\n")
        return b"".join(lines) + body

    def build(seq: int) -> bytes:
        if kind == "hello_get":
            return encode("GET", "/", b"", {})
        if kind == "hello_post":
            return encode("POST", "/echo", hello_body, {"Content-Type": "application/json"})
        if auth is None:
            raise ValueError(f"case {kind} needs the partner's credentials")
        rid = str(uuid.uuid4())
        stamp = _stamp()
        headers = {
            "Authorization": f"Bearer {auth['token']}",
            "X-API-Key": auth["api_key"],
            "X-Request-ID": rid,
            "X-Timestamp": stamp,
        }
        if kind == "post":
            method, path, body = "POST", "/api/v1/claims", claim_body(f"BENCH-{run_tag}-{seq}")
            headers["Content-Type"] = "application/json"
            headers["Idempotency-Key"] = str(uuid.uuid4())
        else:
            method, path, body = "GET", f"/api/v1/claims/{rng.choice(claim_ids)}", b""
        headers["X-Signature"] = sign(auth["api_secret"], method, path, "", stamp, rid, body)
        return encode(method, path, body, headers)

    static = build(0) if kind.startswith("hello_") else None  # the hello requests are all alike
    presigned = [] if static is not None else [build(seq) for seq in range(spec.get("presign", 0))]
    signed_live = 0

    def next_request(seq: int) -> bytes:
        nonlocal signed_live
        if static is not None:
            return static
        if seq < len(presigned):
            return presigned[seq]
        signed_live += 1
        return build(seq)

    async def request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> tuple[int, bytes]:
        """One HTTP/1.1 keep-alive exchange; the server must answer with Content-Length (it does)."""
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
            elif line[:18].lower() == b"transfer-encoding:":
                raise RuntimeError("chunked response: not supported by this load generator")
        head_lower = head.lower()
        location = b""
        if b"\r\nlocation:" in head_lower:
            at = head_lower.index(b"\r\nlocation:") + 11
            location = head[at : head.index(b"\r\n", at)].strip()
        await reader.readexactly(length)
        return status, location

    async def main() -> dict[str, Any]:
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        created: list[str] = []
        counter = iter(range(10**12))
        completed = 0  # every exchange, warm-up included (server CPU is measured over the same span)
        loop = asyncio.get_running_loop()
        barrier.wait()
        window = spec.get("window")
        if window is not None:  # the parent samples CPU from this moment on (if it can)
            with suppress(threading.BrokenBarrierError):
                window.wait(timeout=120)
        start = loop.time()
        measure_from = start + spec["warmup"]
        stop_at = measure_from + spec["duration"]

        async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            """A keep-alive connection with TCP_NODELAY; a refused connect is retried for 10 s (a worker
            restarting, or 64 connects landing at once on a backlog still being drained)."""
            deadline = loop.time() + 10
            while True:
                try:
                    reader, writer = await asyncio.open_connection(host, int(port))
                except OSError:
                    if loop.time() >= deadline:
                        raise
                    await asyncio.sleep(0.05)
                    continue
                writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return reader, writer

        async def task() -> None:
            nonlocal completed
            reader, writer = await connect()
            try:
                while True:
                    before = loop.time()
                    if before >= stop_at:
                        return
                    raw = next_request(next(counter))
                    t0 = time.perf_counter()
                    location = b""
                    try:
                        status, location = await asyncio.wait_for(request(reader, writer, raw), 30)
                        code = str(status)
                    except (TimeoutError, OSError, asyncio.IncompleteReadError) as error:
                        code = f"exc:{type(error).__name__}"
                        writer.close()
                        reader, writer = await connect()
                    elapsed = time.perf_counter() - t0
                    completed += 1
                    if before >= measure_from and loop.time() <= stop_at:
                        latencies.append(elapsed)
                        statuses[code] += 1
                    if location and kind == "post" and len(created) < 20_000:
                        created.append(location.decode().rsplit("/", 1)[1])
            finally:
                writer.close()

        cpu0 = time.process_time()
        await asyncio.gather(*(task() for _ in range(spec["connections"])))
        cpu = time.process_time() - cpu0
        return {
            "latencies": latencies,
            "statuses": dict(statuses),
            "created": created,
            "cpu": cpu,
            "completed": completed,
            "presigned": len(presigned),
            "signed_live": signed_live,
        }

    return asyncio.run(main())


# -- machine CPU by process -----------------------------------------------------------------------------
CPU_GROUPS = ("api_workers", "writer", "postgresql", "redis", "load_generator", "other", "machine")


@dataclass(frozen=True)
class CpuSources:
    """The processes whose CPU a case splits: server trees, PostgreSQL backends, redis-server.

    ``workers``: the ``ledger serve`` tree (its uvicorn workers; with the embedded sealer on SQLite);
    ``writer``: the separate ``ledger sealer`` tree (PostgreSQL topology; empty otherwise); PostgreSQL
    backends are those whose ``application_name`` is ``pg_application`` (:func:`_servers.tag_application`);
    Redis is every ``redis-server`` process (shared with anything else using it: an upper bound); the
    load generator is this process's tree minus the servers (the spawned generator processes)."""

    workers: list[int]
    writer: list[int] = field(default_factory=list)
    pg_url: str | None = None
    pg_application: str | None = None


def cpu_snapshot(sources: CpuSources, probe: Any) -> dict[str, Any]:
    """CPU seconds by group now (per PostgreSQL backend pid, so backends that start later count whole).

    The load generator is this process's tree minus the servers and minus this process itself (which
    only samples: its CPU lands in ``other``)."""
    workers = tree_cpu_seconds(sources.workers)
    writer = tree_cpu_seconds(sources.writer)
    generators = tree_cpu_seconds([os.getpid()]) - pid_cpu_seconds(os.getpid())
    backends = {}
    if probe is not None and sources.pg_application:
        backends = {pid: pid_cpu_seconds(pid) for pid in postgres_backends(probe, sources.pg_application)}
    busy, _ = machine_cpu_ticks()
    return {
        "api_workers": workers,
        "writer": writer,
        "pg": backends,
        "redis": sum(pid_cpu_seconds(pid) for pid in pids_named("redis-server")),
        "load_generator": generators - workers - writer,
        "machine": busy / os.sysconf("SC_CLK_TCK"),
    }


def cpu_split_ms(before: dict[str, Any], after: dict[str, Any], requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request by group between two snapshots; ``other``: the machine's busy time
    not in any group (the PostgreSQL server's own processes, other programs on the machine)."""
    delta = {name: after[name] - before[name] for name in ("api_workers", "writer", "redis", "load_generator")}
    delta["postgresql"] = sum(cpu - before["pg"].get(pid, 0.0) for pid, cpu in after["pg"].items())
    delta["machine"] = after["machine"] - before["machine"]
    delta["other"] = delta["machine"] - sum(delta[name] for name in CPU_GROUPS if name not in ("other", "machine"))
    return {name: round(delta[name] * 1000 / max(requests, 1), 3) for name in CPU_GROUPS}


def _sample_window(sources: CpuSources, window: Any, warmup: float, duration: float, out: dict[str, Any]) -> None:
    """In a parent thread: wait for the generators to start, then snapshot at the start and end of the
    measured window (the generators time the same span from the same barrier)."""
    try:
        with ExitStack() as stack:
            probe = None
            if sources.pg_url is not None:
                import psycopg

                probe = stack.enter_context(
                    psycopg.connect(sources.pg_url, application_name="bench-probe", autocommit=True)
                )
            window.wait()
            started = time.monotonic()
            time.sleep(max(0.0, started + warmup - time.monotonic()))
            out["from"] = cpu_snapshot(sources, probe)
            time.sleep(max(0.0, started + warmup + duration - time.monotonic()))
            out["to"] = cpu_snapshot(sources, probe)
    except BaseException:
        window.abort()  # the generators go on without the split rather than wait forever
        raise


def run_case(
    label: str, kind: str, url: str, sources: CpuSources | list[int], args: Any, **extra: Any
) -> dict[str, Any]:
    """Drive one case; returns its figures (and the ids of created claims under ``_created``). ``sources``:
    the processes to split CPU by, or (as before the split) just the server pids, counted as API workers."""
    if isinstance(sources, list):
        sources = CpuSources(sources)
    procs = args.client_procs
    window = _SPAWN.Barrier(procs + 1)
    presign = 0 if kind.startswith("hello_") else PRESIGN[kind] // (4 if args.quick else 1) // procs
    spec_base = {
        "kind": kind,
        "url": url,
        "warmup": args.warmup,
        "duration": args.duration,
        "presign": presign,
        "window": window,
        **extra,
    }
    per_proc = [args.connections // procs + (1 if i < args.connections % procs else 0) for i in range(procs)]
    # run_workers passes the same args to every worker; connections differ only when not divisible
    spec = spec_base | {"connections": per_proc[0]}
    pids = sources.workers + sources.writer
    samples: dict[str, Any] = {}
    sampler = threading.Thread(target=_sample_window, args=(sources, window, args.warmup, args.duration, samples))
    sampler.start()
    server_cpu0 = tree_cpu_seconds(pids)
    busy0, total0 = machine_cpu_ticks()
    t0 = time.monotonic()
    try:
        results = run_workers(load_worker, procs, spec)
    finally:
        window.abort()  # a generator that failed before the window must not leave the sampler waiting
        sampler.join()
    wall = time.monotonic() - t0
    busy1, total1 = machine_cpu_ticks()
    server_cpu = tree_cpu_seconds(pids) - server_cpu0
    latencies = sorted(x for r in results for x in r["latencies"])
    statuses: Counter[str] = Counter()
    for r in results:
        statuses.update(r["statuses"])
    ok = sum(n for code, n in statuses.items() if code.startswith("2"))
    client_cpu = sum(r["cpu"] for r in results)

    def pct(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2) if latencies else None

    figures = {
        "requests": len(latencies),
        "ok": ok,
        "seconds": args.duration,
        "requests_per_s": round(ok / args.duration, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "statuses": dict(sorted(statuses.items())),
        "errors": sum(n for code, n in statuses.items() if not code.startswith("2")),
        "client_procs": procs,
        "connections": per_proc[0] * procs,
        "presigned": sum(r["presigned"] for r in results),
        "signed_live": sum(r["signed_live"] for r in results),
        # load generator CPU over warmup + measured window, per second of that wall time
        "client_cpu_util": round(client_cpu / (args.warmup + args.duration), 2),
        "server_cpu_util": round(server_cpu / wall, 2),
        # server-side CPU (server process tree: workers, and the sealer on PostgreSQL) per request
        "server_cpu_ms_per_request": round(server_cpu * 1000 / max(sum(r["completed"] for r in results), 1), 3),
        # machine CPU per 2xx answer of the measured window, by process group (CPU_GROUPS)
        "cpu_ms_per_ok": cpu_split_ms(samples["from"], samples["to"], ok) if "to" in samples else None,
        "machine_busy": round((busy1 - busy0) / (total1 - total0), 2) if total1 > total0 else None,
        "_created": [c for r in results for c in r["created"]],
    }
    split = figures["cpu_ms_per_ok"] or {}
    log(
        f"  {label:<16} {figures['requests_per_s']:>9,.0f} req/s  p50 {figures['p50_ms']} ms  "
        f"p99 {figures['p99_ms']} ms  statuses {figures['statuses']}  client cpu {figures['client_cpu_util']}  "
        f"server cpu/request {figures['server_cpu_ms_per_request']} ms  machine ms/ok "
        + " ".join(f"{name} {value}" for name, value in split.items())
    )
    return figures
