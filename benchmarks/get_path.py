"""An authenticated ``GET /api/v1/claims/{id}`` in process: CPU of this process per request, no load generator.

The app is :func:`api.app.create_app` on PostgreSQL (a fresh schema, dropped after) and Redis (a fresh key
prefix, deleted after), its lifespan run here. One partner and one claim are made; then ``--requests``
GETs of that claim, each signed beforehand (a new ``X-Request-ID`` and ``X-Timestamp`` each, one token
for all of them, as a partner's steady traffic), are sent one after the other as ASGI calls from this
process's event loop, with the worker pool the server uses (so the thread hand-offs are in the figure).
The access log is written as in the server (JSON lines), to ``/dev/null``.

Reported: CPU of this process (``time.process_time``, every thread) and wall time per GET, for each of
``--rounds`` rounds, and their medians. With ``--profile FILE`` one more round runs under cProfile and
its stats are dumped to ``FILE``.

Usage: ``python benchmarks/get_path.py [--requests N] [--rounds R] [--profile FILE]``; the JSON is the last line.
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from _common import base_parser, emit_json, log, utc_now

import psycopg
import redis
from _servers import DEFAULT_REDIS_URL, REPO, _init_ledger, _named_keys
from litestar import Litestar
from litestar.serialization import encode_json
from litestar.types import Scope

from api.app import create_app
from api.client.core import rfc3339
from api.client.signing import EMPTY_BODY_SHA256, sign
from api.http import views
from api.http.context import client_address, repeated_header
from api.http.observability import Metrics, access_log
from api.http.pipeline.authentication import first_headers
from api.http.threads import run_blocking
from api.runtime import Runtime, open_runtime
from api.security.credentials import CredentialService, PartnerCredentials
from api.security.verifier import SignedHeaders
from api.settings import Settings, StorageSection
from ledger_core.shared.vocabulary import TierLimits

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
CLAIMS = "/api/v1/claims"
CLAIM = (
    b'{"partnerClaimId":"CLM-GET","claimType":"auto","claimAmount":"10.00","currency":"USD",'
    b'"submittedAt":"2026-01-15T14:30:00Z","documents":[],"verificationLevel":"standard"}'
)
UNLIMITED = TierLimits(100_000_000, 10_000_000, None)


@contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    schema = f"g_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


Header = tuple[bytes, bytes]


class Partner:
    """A partner's credentials and one access token, signing requests as the SDK does."""

    def __init__(self, runtime: Runtime, credentials: PartnerCredentials, partner_id: str) -> None:
        self.credentials = credentials
        now = datetime.now(UTC)
        scopes = ("claims:write", "claims:read", "audit:read")
        issued = runtime.issuer.issue(partner_id=partner_id, client_id=credentials.client_id, scopes=scopes, now=now)
        self.token = issued.access_token

    def headers(self, method: str, path: str, body: bytes = b"") -> list[Header]:
        request_id, stamp = str(uuid.uuid4()), rfc3339(datetime.now(UTC))
        signature = sign(self.credentials.api_secret, method, path, "", stamp, request_id, body)
        pairs = {
            "host": "testserver",
            "authorization": f"Bearer {self.token}",
            "x-api-key": self.credentials.api_key,
            "x-request-id": request_id,
            "x-timestamp": stamp,
            "x-signature": signature,
            "accept": "application/json",
        }
        if body:
            pairs |= {"content-type": "application/json", "content-length": str(len(body))}
        return [(name.encode(), value.encode()) for name, value in pairs.items()]


def scope_of(method: str, path: str, headers: list[Header]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(app: Litestar, scope: dict[str, Any], body: bytes = b"") -> tuple[int, bytes]:
    """One ASGI request: its status and body."""
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)  # type: ignore[arg-type]
    return status, b"".join(chunks)


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads, by thread name (``/proc``; the pools' threads summed)."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/stat") as file:
                text = file.read()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")].rstrip("0123456789_-")
        fields = text[text.rindex(")") + 2 :].split()
        name = "main" if int(task) == os.getpid() else name
        totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return totals


async def run_gets(app: Litestar, scopes: list[dict[str, Any]]) -> tuple[float, float]:
    """CPU and wall seconds for these GETs, each answered 200."""
    cpu, wall, threads = time.process_time(), time.perf_counter(), thread_cpu()
    for scope in scopes:
        status, content = await call(app, scope)
        if status != 200:
            raise RuntimeError(f"GET answered {status}: {content[:300]!r}")
    after = thread_cpu()
    split = {name: (after[name] - threads.get(name, 0.0)) / len(scopes) * 1e6 for name in after}
    log(
        "  threads, us per GET: "
        + ", ".join(f"{n} {v:.0f}" for n, v in sorted(split.items(), key=lambda i: -i[1]) if v)
    )
    return time.process_time() - cpu, time.perf_counter() - wall


async def bench(app: Litestar, opened: list[Runtime], args: Any) -> dict[str, Any]:
    async with app.lifespan():
        runtime = opened[0]
        name = f"p_{uuid.uuid4().hex[:10]}"
        credentials = CredentialService(runtime.ledger, runtime.security.deployment_secret)
        made = credentials.create_partner(name, "Bench", tier="standard", category="insurance_carrier")
        partner = Partner(runtime, made, name)
        status, content = await call(app, scope_of("POST", CLAIMS, partner.headers("POST", CLAIMS, CLAIM)), CLAIM)
        if status not in (200, 201, 202):
            raise RuntimeError(f"POST answered {status}: {content[:300]!r}")
        claim_id = content.split(b'"claimId":"', 1)[1].split(b'"', 1)[0].decode()
        path = {"claim": f"{CLAIMS}/{claim_id}", "public-key": "/api/v1/audit/public-key", "health": "/health"}[
            args.target
        ]

        def batch(count: int) -> list[dict[str, Any]]:
            return [scope_of("GET", path, partner.headers("GET", path)) for _ in range(count)]

        await run_gets(app, batch(args.warmup))
        rounds = []
        for _ in range(args.rounds):
            cpu, wall = await run_gets(app, batch(args.requests))
            rounds.append({"cpu_us": cpu / args.requests * 1e6, "wall_us": wall / args.requests * 1e6})
            log(f"round: {rounds[-1]['cpu_us']:.1f} us CPU, {rounds[-1]['wall_us']:.1f} us wall per GET")
        stages = await time_stages(app, runtime, partner, f"{CLAIMS}/{claim_id}", args.requests) if args.stages else {}
        if args.profile:
            scopes = batch(args.requests)
            profiler = cProfile.Profile()
            profiler.enable()
            await run_gets(app, scopes)
            profiler.disable()
            profiler.dump_stats(args.profile)
        return {
            "stages_us": stages,
            "rounds": rounds,
            "cpu_us_median": statistics.median(r["cpu_us"] for r in rounds),
            "wall_us_median": statistics.median(r["wall_us"] for r in rounds),
        }


async def time_stages(app: Litestar, runtime: Runtime, partner: Partner, path: str, count: int) -> dict[str, float]:
    """CPU per call of the GET's parts, each called ``count`` times on its own (µs)."""
    security = runtime.security
    authenticator, limits, directory = security.authenticator, security.limits, security.directory
    scopes = [scope_of("GET", path, partner.headers("GET", path)) for _ in range(count)]
    claim_id = uuid.UUID(path.rsplit("/", 1)[1])
    stages: dict[str, float] = {}

    def timed(name: str, work: Callable[[dict[str, Any]], object]) -> list[object]:
        cpu = time.process_time()
        results = [work(scope) for scope in scopes]
        stages[name] = (time.process_time() - cpu) / count * 1e6
        return results

    def headers_step(scope: dict[str, Any]) -> SignedHeaders:
        repeated_header(scope)
        headers, client = first_headers(cast("Scope", scope)), client_address(scope)
        lookup = authenticator.cached_lookup(headers)  # None once a second: the directory's cache expired
        signed = authenticator.check_headers(headers, lookup)
        known, found = directory.cached(signed.partner_id)
        if not known:
            found = directory.partner(signed.partner_id)
        if found is None or not found.allows_address(client):
            raise RuntimeError("partner refused")
        return signed

    signed = timed("auth: headers, token, key, allowlist", headers_step)
    signatures = iter(signed)
    checked = timed(
        "body step: signature",
        lambda scope: authenticator.check_signature(next(signatures), "GET", path, "", EMPTY_BODY_SHA256),  # type: ignore[arg-type]
    )
    admitted = iter(checked)
    timed("limits: replay + limit + key-age headers (Redis)", lambda scope: limits.admit(next(admitted), "127.0.0.1"))  # type: ignore[arg-type]
    partner_id = checked[0].partner_id  # type: ignore[attr-defined]
    claims = timed("handler: claim read (PostgreSQL)", lambda scope: runtime.ledger.claims.view(claim_id, partner_id))
    timed("handler: view + JSON", lambda scope: encode_json(views.claim_view(claims[0])))  # type: ignore[arg-type]
    extra = {"request_id": "x", "method": "GET", "path": path, "route": path, "status": 200, "duration_ms": 1.0}
    timed(
        "edge: access log line",
        lambda scope: access_log.info("%s %s %s", "GET", path, 200, extra=extra | {"partner_id": "p"}),
    )
    timed("edge: metrics", lambda scope: runtime.metrics.observe_request("GET", path, 200, 0.001))
    cpu = time.process_time()
    for _ in range(count):
        await run_blocking(int)
    stages["thread hand-off (x1)"] = (time.process_time() - cpu) / count * 1e6
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(3)
    stages["idle: background threads, CPU per wall second (us)"] = (
        (time.process_time() - cpu) / (time.perf_counter() - wall) * 1e6
    )
    for name, value in stages.items():
        log(f"  {value:8.1f} us  {name}")
    return stages


def main() -> None:
    parser = base_parser(__doc__.split("\n\n", 1)[0])
    parser.add_argument("--requests", type=int, default=3000, help="GETs per round (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=500, help="GETs before the rounds (default: %(default)s)")
    parser.add_argument("--profile", default=None, help="run one more round under cProfile, stats to this file")
    parser.add_argument(
        "--target", choices=("claim", "public-key", "health"), default="claim", help="what to GET (default: the claim)"
    )
    parser.add_argument("--stages", action="store_true", help="also time the GET's parts one by one")
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL server URL (default: %(default)s)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis URL (default: %(default)s)")
    args = parser.parse_args()
    prefix = f"getbench:{uuid.uuid4().hex[:12]}:"
    started = utc_now()
    opened: list[Runtime] = []

    def runtime_factory(settings: Settings, metrics: Metrics) -> Runtime:
        opened.append(open_runtime(settings, metrics))
        return opened[0]

    with tempfile.TemporaryDirectory() as tmp, fresh_schema(args.postgres) as url:
        storage = StorageSection(
            data_dir=Path(tmp) / "data", database_url=url, redis_url=args.redis_url, redis_prefix=prefix
        )
        keys = _named_keys(storage.data_dir)
        _init_ledger(storage.data_dir, url, {**os.environ, **keys}, REPO)
        os.environ.update(keys)
        settings = Settings(storage=storage).with_limits({"standard": UNLIMITED})
        app = create_app(settings, runtime_factory=runtime_factory)
        stderr = sys.stderr
        with open(os.devnull, "w") as sink:
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is stderr:
                    handler.setStream(sink)
            try:
                result = asyncio.run(bench(app, opened, args))
            finally:
                client = redis.Redis.from_url(args.redis_url)
                keys = list(client.scan_iter(f"{prefix}*"))
                for start in range(0, len(keys), 1000):
                    client.delete(*keys[start : start + 1000])
                client.close()
    log(f"median: {result['cpu_us_median']:.1f} us CPU, {result['wall_us_median']:.1f} us wall per GET")
    emit_json({"benchmark": "get_path", "started": started, "finished": utc_now(), **result}, args.json_out)


if __name__ == "__main__":
    main()
