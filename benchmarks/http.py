"""HTTP throughput and latency of the partner API, beside a bare Litestar hello-world, in one run.

Cases (each against a real server subprocess on a free loopback port, uvicorn with 2 workers):

  sqlite.post      ``ledger serve --workers 2`` on SQLite with the embedded sealer (and Redis for the
                   shared rate limiter / replay cache / idempotency store, which ``--workers > 1`` needs):
                   authenticated ``POST /api/v1/claims``, each a new claim (unique ``partnerClaimId``,
                   no documents) that the server answers only once it is sealed (201 + inclusion proof).
  sqlite.get       same server: authenticated ``GET /api/v1/claims/{id}`` over the claims created above.
  postgresql.post  PostgreSQL topology of the e2e tests: ``ledger sealer`` as its own process and
                   ``ledger serve --workers 2 --no-embedded-sealer`` with Redis; fresh schema, dropped after.
  postgresql.get   same server, GET as above.
  hello.get        bare Litestar app (``GET /`` -> ``"Hello, world!"``), uvicorn, 2 workers, same socket
                   options as ``ledger serve`` (TCP_NODELAY listening socket, no access log).
  hello.post       same app, ``POST /echo`` returning the raw body (a claim-sized JSON body).

Load: ``--connections`` (64) asyncio tasks, each a loop of requests on its own keep-alive connection
(raw asyncio streams speaking HTTP/1.1 with TCP_NODELAY: ``httpx.AsyncClient`` was measured here at
~120 req/s for 64 connections against the hello-world while using more than a full core, so it would
have measured itself, not the server; httpx is used only for setup and health checks),
for ``--duration`` seconds after a ``--warmup`` (same requests,
not counted). Every ledger request carries the five zero-trust headers: a pre-fetched OAuth token,
the API key, a unique ``X-Request-ID``, ``X-Timestamp`` and the HMAC signature
(:func:`api.client.signing.sign`), computed per request in the load generator; POSTs also carry a
unique ``Idempotency-Key`` as the SDK sends. The load generator runs in ``--client-procs`` spawned
processes (default 1) sharing the connections; its CPU time is reported (``client_cpu_util`` = client
CPU seconds per wall second, out of ``os.cpu_count()`` cores shared with the servers, the sealer and
the database), as is the CPU of the server process tree and the share of the machine busy.

Rate limits: the partner is created at the ``enterprise`` tier, and ``LEDGER_RATE_LIMITS`` raises every
tier to 10M/min (burst 1M, no daily cap) so the limiter still runs (one Redis script per request) but
never rejects. Sealing: the server's defaults (``seal_interval_ms`` 50, ``seal_wait_seconds`` 5); the
separate PostgreSQL sealer gets the same interval (``--seal-interval-ms``) and polls every 10 ms.
Logs: the server's default (INFO, structured JSON access log per request) written to a temp file.

Reported per case: requests/s (completed 2xx per second of the measured window), p50/p99/max latency
of all measured requests, status counts (``exc:<Type>`` for transport errors), the ratio of each
ledger rate to the hello-world rate of the same method, and ``server_cpu_ms_per_request``: CPU
seconds of the server process tree (workers; the sealer too on PostgreSQL) over every request
completed during warm-up and measurement, the figure that stays comparable on a busy machine.

Readiness: a server counts as up after 8 consecutive health checks on new connections (one answer
proves only one worker ready), and the load generator retries a refused connect for 10 s.

Targets (issue 4): PostgreSQL POST >= 1,500/s with p99 <= 100 ms, and >= 30 % of the hello-world rate.

Usage: ``python benchmarks/http.py [--quick] [--backends sqlite,postgresql] [--duration S]
[--connections N] [--client-procs P]``. Table on stderr; the last line of stdout is one JSON object.

Note: this file is named ``http.py``, which shadows the standard library's ``http`` package when run as
a script; the first lines below move this directory to the end of ``sys.path`` before anything imports it.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]
if getattr(sys.modules.get("http"), "__file__", None) == os.path.abspath(__file__):  # pragma: no cover
    del sys.modules["http"]

import asyncio  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from _common import (  # noqa: E402
    base_parser,
    emit_json,
    fresh_postgres_schema,
    import_shadowed_package,
    log,
    machine_cpu_ticks,
    machine_info,
    parse_backends,
    print_table,
    run_workers,
    utc_now,
)

import_shadowed_package("proofs")

import httpx  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = os.environ.get("LEDGER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TARGET_POST_RATE = 1_500
TARGET_P99_MS = 100.0
TARGET_HELLO_SHARE = 0.30
UNLIMITED = [10_000_000, 1_000_000, None]


# -- processes ------------------------------------------------------------------------------------------
def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def tree_cpu_seconds(roots: list[int]) -> float:
    """User + system CPU seconds of the live processes in the trees under ``roots`` (Linux /proc)."""
    children = _proc_children()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    stack = list(roots)
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _stop(process: subprocess.Popen[str], sig: int = signal.SIGINT) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_listening(process: subprocess.Popen[str], log_path: Path) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()[-3000:]}")
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "listening":
            return str(event["url"])
    raise RuntimeError("server did not report its URL")


def _wait_healthy(url: str, path: str, process: subprocess.Popen[str], log_path: Path, settle: int = 8) -> None:
    """Until ``settle`` consecutive new connections get 200: one answer proves only one worker ready
    (the others may still be starting), and the load generator opens all its connections at once."""
    deadline = time.monotonic() + 60
    streak = 0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log_path.read_text()[-3000:]}")
        try:
            ok = httpx.get(f"{url}{path}", timeout=2).status_code == 200
        except httpx.TransportError:
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= settle:
            return
        time.sleep(0.05 if ok else 0.1)
    raise RuntimeError(f"server never became healthy:\n{log_path.read_text()[-3000:]}")


def _ledger_env(data_dir: Path, database_url: str | None, redis_url: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        {
            "LEDGER_DATA_DIR": str(data_dir),
            "LEDGER_REDIS_URL": redis_url,
            "LEDGER_REDIS_PREFIX": prefix,
            "LEDGER_RATE_LIMITS": json.dumps(
                dict.fromkeys(("sandbox", "standard", "enterprise", "anonymous"), UNLIMITED)
            ),
        }
    )
    if database_url is not None:
        env["LEDGER_DATABASE_URL"] = database_url
    return env


@contextmanager
def ledger_server(
    root: Path,
    database_url: str | None,
    redis_url: str,
    workers: int,
    seal_interval_ms: int,
    extra_env: dict[str, str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Start (sealer and) server; yield ``{"url", "env", "pids", "data_dir", "database_url"}``."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"bench:{uuid.uuid4().hex[:12]}:"
    env = _ledger_env(data_dir, database_url, redis_url, prefix) | (extra_env or {})
    processes: list[subprocess.Popen[str]] = []
    pids: list[int] = []
    try:
        args = ["--workers", str(workers), "--redis-url", redis_url]
        if database_url is not None:  # the PostgreSQL topology: a separate sealer process
            sealer_log = root / "sealer.log"
            sealer_env = env | {"LEDGER_SEAL_INTERVAL_MS": str(seal_interval_ms)}
            with sealer_log.open("w") as out:
                sealer = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "api.cli.proofs",
                        "sealer",
                        "--data-dir",
                        str(data_dir),
                        "--database-url",
                        database_url,
                        "--poll-interval",
                        "0.01",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=sealer_env,
                    cwd=REPO,
                )
            processes.append(sealer)
            pids.append(sealer.pid)
            deadline = time.monotonic() + 60
            while '"started"' not in sealer_log.read_text():
                if sealer.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sealer did not start:\n{sealer_log.read_text()[-3000:]}")
                time.sleep(0.05)
            args.append("--no-embedded-sealer")
        server_log = root / "server.log"
        with server_log.open("w") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "api.cli.serve", "serve", "--port", "0", *args],
                stdout=subprocess.PIPE,
                stderr=out,
                text=True,
                env=env,
                cwd=REPO,
            )
        processes.insert(0, server)
        pids.insert(0, server.pid)
        url = _wait_listening(server, server_log)
        _wait_healthy(url, "/health", server, server_log)
        yield {
            "url": url,
            "env": env,
            "pids": pids,
            "data_dir": data_dir,
            "database_url": database_url,
            "log": server_log,
        }
    finally:
        for process in processes:  # server first, then the sealer
            _stop(process, signal.SIGINT if process is processes[0] else signal.SIGTERM)
        try:
            import redis

            client = redis.Redis.from_url(redis_url)
            keys = list(client.scan_iter(f"{prefix}*"))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])
            client.close()
        except Exception as error:
            log(f"  (redis cleanup failed: {error})")


HELLO_APP = """
from litestar import Litestar, Request, get, post
from litestar.response import Response


@get("/", sync_to_thread=False)
def hello() -> str:
    return "Hello, world!"


@post("/echo", status_code=200)
async def echo(request: Request) -> Response[bytes]:
    return Response(await request.body(), media_type="application/json")


app = Litestar([hello, echo])
"""

HELLO_MAIN = """
import json, socket, sys
import uvicorn

if __name__ == "__main__":
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    print(json.dumps({"event": "listening", "url": "http://127.0.0.1:%d" % sock.getsockname()[1]}), flush=True)
    uvicorn.run("hello_app:app", workers=int(sys.argv[1]), fd=sock.fileno(), log_config=None, access_log=False,
                lifespan="on", timeout_graceful_shutdown=10, server_header=False)
"""


@contextmanager
def hello_server(root: Path, workers: int) -> Iterator[dict[str, Any]]:
    """The bare Litestar app on uvicorn with ``workers`` processes, served like ``ledger serve``."""
    (root / "hello_app.py").write_text(textwrap.dedent(HELLO_APP))
    (root / "hello_main.py").write_text(textwrap.dedent(HELLO_MAIN))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["PYTHONPATH"] = str(root)
    server_log = root / "hello.log"
    with server_log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, str(root / "hello_main.py"), str(workers)],
            stdout=subprocess.PIPE,
            stderr=out,
            text=True,
            env=env,
            cwd=root,
        )
    try:
        url = _wait_listening(server, server_log)
        _wait_healthy(url, "/", server, server_log)
        yield {"url": url, "pids": [server.pid]}
    finally:
        _stop(server)


# -- partner --------------------------------------------------------------------------------------------
def create_partner(server: dict[str, Any]) -> dict[str, str]:
    """An enterprise partner registered directly in the server's database; with a fresh access token."""
    from adapters.opening import open_ledger
    from adapters.storage import StorageConfig
    from api.client.ledger_client import LedgerClient
    from api.security.credentials import DEFAULT_SCOPES, CredentialService
    from api.security.secrets import load_deployment_secret

    partner_id = f"bench_{uuid.uuid4().hex[:10]}"
    with open_ledger(StorageConfig(server["data_dir"], server["database_url"])) as ledger:
        service = CredentialService(ledger, load_deployment_secret(server["data_dir"]))
        credentials = service.create_partner(
            partner_id, partner_id, tier="enterprise", category="claims_software", scopes=DEFAULT_SCOPES
        )
    with LedgerClient(
        server["url"],
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        api_key=credentials.api_key,
        api_secret=credentials.api_secret,
    ) as client:
        token = client.token()
    return {"token": token, "api_key": credentials.api_key, "api_secret": credentials.api_secret}


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


# -- main -----------------------------------------------------------------------------------------------
def ledger_cases(backend: str, args: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-http-{backend}-") as tmp:
        root = Path(tmp)
        if backend == "sqlite":
            return _ledger_cases(root, None, args)
        with fresh_postgres_schema(args.postgres_url, prefix="bench_http") as schema:
            return _ledger_cases(root, schema.url, args)


def _ledger_cases(root: Path, database_url: str | None, args: Any) -> dict[str, Any]:
    extra = dict(item.split("=", 1) for item in args.server_env)
    with ledger_server(root, database_url, args.redis_url, args.workers, args.seal_interval_ms, extra) as server:
        auth = create_partner(server)
        post = run_case("post", "post", server["url"], server["pids"], args, auth=auth)
        created = post.pop("_created")
        if not created:
            raise RuntimeError(f"no claim was created; server log tail:\n{server['log'].read_text()[-3000:]}")
        post["status_201_share"] = round(post["statuses"].get("201", 0) / max(post["requests"], 1), 4)
        get = run_case("get", "get", server["url"], server["pids"], args, auth=auth, claim_ids=created)
        get.pop("_created")
        return {"post": post, "get": get}


def hello_cases(args: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-http-hello-") as tmp, hello_server(Path(tmp), args.workers) as srv:
        out = {}
        for method in ("get", "post"):
            figures = run_case(f"{method}", f"hello_{method}", srv["url"], srv["pids"], args)
            figures.pop("_created")
            out[method] = figures
        return out


def main() -> None:
    parser = base_parser(__doc__.split("\n\n", 1)[0])
    parser.add_argument("--duration", type=float, default=None, help="measured seconds per case (20; quick: 4)")
    parser.add_argument("--warmup", type=float, default=None, help="unmeasured seconds first (3; quick: 1)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default: 64)")
    parser.add_argument("--client-procs", type=int, default=1, help="load-generator processes (default: 1)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of every server (default: 2)")
    parser.add_argument("--seal-interval-ms", type=int, default=50, help="separate sealer's T (default: 50)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis URL (default: %(default)s)")
    parser.add_argument("--no-hello", action="store_true", help="skip the hello-world baseline")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="LEDGER_X=VALUE",
        help="extra environment of the ledger server (repeatable), e.g. LEDGER_EMBEDDED_WEBHOOKS=0",
    )
    args = parser.parse_args()
    args.duration = args.duration if args.duration is not None else (4.0 if args.quick else 20.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    backends = parse_backends(args.backends)

    started = utc_now()
    results: dict[str, Any] = {}
    for backend in backends:
        log(f"{backend}: ledger serve --workers {args.workers}")
        results[backend] = ledger_cases(backend, args)
    if not args.no_hello:
        log(f"hello-world: bare Litestar, uvicorn --workers {args.workers}")
        results["hello"] = hello_cases(args)

    ratios: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    hello = results.get("hello")
    for backend in backends:
        ratios[backend] = {}
        for method in ("post", "get"):
            if hello and hello[method]["requests_per_s"]:
                ratios[backend][method] = round(
                    results[backend][method]["requests_per_s"] / hello[method]["requests_per_s"], 3
                )
    if "postgresql" in results:
        post = results["postgresql"]["post"]
        targets["postgresql_post_rate"] = {
            "target": TARGET_POST_RATE,
            "value": post["requests_per_s"],
            "met": post["requests_per_s"] >= TARGET_POST_RATE,
        }
        targets["postgresql_post_p99_ms"] = {
            "target": TARGET_P99_MS,
            "value": post["p99_ms"],
            "met": post["p99_ms"] is not None and post["p99_ms"] <= TARGET_P99_MS,
        }
        if "post" in ratios.get("postgresql", {}):
            share = ratios["postgresql"]["post"]
            targets["postgresql_post_vs_hello"] = {
                "target": TARGET_HELLO_SHARE,
                "value": share,
                "met": share >= TARGET_HELLO_SHARE,
            }

    headers = [
        "case",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "vs hello",
        "client cpu",
        "server cpu",
        "cpu ms/req",
        "busy",
        "statuses",
    ]
    rows = []
    for name, cases in results.items():
        for method, f in cases.items():
            ratio = ratios.get(name, {}).get(method)
            rows.append(
                [
                    f"{name}.{method}",
                    f"{f['requests_per_s']:,.0f}",
                    str(f["p50_ms"]),
                    str(f["p99_ms"]),
                    str(f["max_ms"]),
                    str(f["errors"]),
                    "-" if ratio is None else f"{ratio:.0%}",
                    f"{f['client_cpu_util']:.2f}",
                    f"{f['server_cpu_util']:.2f}",
                    f"{f['server_cpu_ms_per_request']:.2f}",
                    str(f["machine_busy"]),
                    ",".join(f"{k}:{v}" for k, v in f["statuses"].items()),
                ]
            )
    print_table(
        headers,
        rows,
        title=f"\nHTTP, {args.connections} connections, {args.duration:g} s per case, {args.workers} workers, "
        f"{args.client_procs} load-generator process(es); cpu = cores used (of {os.cpu_count()})",
    )
    for name, target in targets.items():
        log(f"target {name}: {target['value']} vs {target['target']} -> {'met' if target['met'] else 'NOT met'}")

    document = {
        "benchmark": "http",
        "started": started,
        "finished": utc_now(),
        "quick": args.quick,
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "client_procs": args.client_procs,
            "workers": args.workers,
            "seal_interval_ms": args.seal_interval_ms,
            "rate_limits": "all tiers 10M/min, burst 1M",
            "partner_tier": "enterprise",
            "post_documents": 0,
            "idempotency_key": True,
            "server_env": args.server_env,
        },
        "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
        "results": results,
        "ratios_vs_hello": ratios,
        "targets": targets,
    }
    emit_json(document, args.json_out)


if __name__ == "__main__":
    main()
