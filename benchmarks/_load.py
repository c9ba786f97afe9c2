"""The HTTP load generator of the benchmarks: raw asyncio keep-alive connections in spawned processes.

* :func:`claim_body`: a claim-sized JSON body for ``POST /api/v1/claims``.
* :func:`load_worker`: one load-generator process (``spec["connections"]`` tasks for warm-up + duration).
* :func:`run_case`: drive one case over ``--client-procs`` processes; figures (rate, latency percentiles,
  statuses, load-generator CPU, server process-tree CPU per request, machine busy share).
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from _common import log, machine_cpu_ticks, run_workers
from _servers import tree_cpu_seconds


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
def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def load_worker(index: int, barrier: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """One load-generator process: ``spec["connections"]`` tasks for warmup + duration seconds."""
    from api.client.signing import sign

    kind: str = spec["kind"]  # "post", "get", "hello_get", "hello_post"
    auth = spec.get("auth")
    claim_ids: list[str] = spec.get("claim_ids") or []
    run_tag = f"{uuid.uuid4().hex[:8]}-{index}"
    hello_body = claim_body("HELLO-ECHO-0000")
    rng = random.Random(index)

    def build(seq: int) -> tuple[str, str, bytes, dict[str, str]]:
        if kind == "hello_get":
            return "GET", "/", b"", {}
        if kind == "hello_post":
            return "POST", "/echo", hello_body, {"Content-Type": "application/json"}
        assert auth is not None
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
        return method, path, body, headers

    host, _, port = spec["url"].removeprefix("http://").rpartition(":")
    host_header = f"Host: {host}:{port}\r\n".encode()

    async def request(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> tuple[int, bytes]:
        """One HTTP/1.1 keep-alive exchange; the server must answer with Content-Length (it does)."""
        lines = [f"{method} {path} HTTP/1.1\r\n".encode(), host_header]
        lines += [f"{name}: {value}\r\n".encode() for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}\r\n\r\n".encode() if method == "POST" else b"\r\n")
        writer.write(b"".join(lines) + body)
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
                    method, path, body, headers = build(next(counter))
                    t0 = time.perf_counter()
                    location = b""
                    try:
                        status, location = await asyncio.wait_for(
                            request(reader, writer, method, path, body, headers), 30
                        )
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
        }

    return asyncio.run(main())


def run_case(label: str, kind: str, url: str, pids: list[int], args: Any, **extra: Any) -> dict[str, Any]:
    """Drive one case; returns its figures (and the ids of created claims under ``_created``)."""
    procs = args.client_procs
    spec_base = {"kind": kind, "url": url, "warmup": args.warmup, "duration": args.duration, **extra}
    per_proc = [args.connections // procs + (1 if i < args.connections % procs else 0) for i in range(procs)]
    # run_workers passes the same args to every worker; connections differ only when not divisible
    spec = spec_base | {"connections": per_proc[0]}
    server_cpu0 = tree_cpu_seconds(pids)
    busy0, total0 = machine_cpu_ticks()
    t0 = time.monotonic()
    results = run_workers(load_worker, procs, spec)
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
        # load generator CPU over warmup + measured window, per second of that wall time
        "client_cpu_util": round(client_cpu / (args.warmup + args.duration), 2),
        "server_cpu_util": round(server_cpu / wall, 2),
        # server-side CPU (server process tree: workers, and the sealer on PostgreSQL) per request
        "server_cpu_ms_per_request": round(server_cpu * 1000 / max(sum(r["completed"] for r in results), 1), 3),
        "machine_busy": round((busy1 - busy0) / (total1 - total0), 2) if total1 > total0 else None,
        "_created": [c for r in results for c in r["created"]],
    }
    log(
        f"  {label:<16} {figures['requests_per_s']:>9,.0f} req/s  p50 {figures['p50_ms']} ms  "
        f"p99 {figures['p99_ms']} ms  statuses {figures['statuses']}  client cpu {figures['client_cpu_util']}  "
        f"server cpu/request {figures['server_cpu_ms_per_request']} ms"
    )
    return figures
