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
  postgresql-writer.post/.get  (``--writer``) one writer per ledger: ``ledger writer`` (group commit and
                   sealer in one process, elected by advisory lock) and ``ledger serve --workers 2
                   --no-embedded-sealer`` with ``LEDGER_WRITER_SOCKET``: the workers hand their saves to
                   the writer over a Unix socket (docs/deployment.md "One writer per ledger").
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
(:func:`api.client.signing.sign`); POSTs also carry a unique ``Idempotency-Key`` as the SDK sends.
Requests are built, signed and encoded BEFORE the window (``benchmarks/_load.py``: 30,000 POSTs or
90,000 GETs per case, a quarter with ``--quick``; past them the generator signs on the fly and reports
``signed_live``), each unique and within the server's 300 s timestamp window, so the server still
verifies every token, signature, request id and limit while the generator only writes bytes.
The load generator runs in ``--client-procs`` spawned processes (default 1) sharing the connections.

Machine CPU per 2xx answer (``cpu_ms_per_ok``), over the measured window, split by process
(``/proc/<pid>/stat``): ``api_workers`` (the ``ledger serve`` tree: uvicorn workers, with the embedded
sealer on SQLite), ``writer`` (the separate ``ledger sealer`` on PostgreSQL, or ``ledger writer`` with
``--writer``), ``postgresql`` (the
backends whose ``application_name`` is the server's, from ``pg_stat_activity``), ``redis`` (every
``redis-server``: shared with anything else on the machine, an upper bound), ``load_generator`` (the
spawned generator processes), ``other`` (the rest of the machine's busy time from /proc/stat: the
PostgreSQL server's own processes, this script's sampler, other programs) and ``machine`` (their sum).
Also ``client_cpu_util`` (generator CPU seconds per wall second) and ``server_cpu_ms_per_request`` (the
server trees' CPU over warm-up and window per completed request: the figure of earlier sessions).

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
[--connections N] [--client-procs P] [--baseline-repo DIR] [--writer]``. With ``--baseline-repo`` the ledger cases
run first on that checkout's code (``<backend>-baseline``: the code path before a change, in the same
run). Table on stderr; the last line of stdout is one JSON object.

Note: this file is named ``http.py``, which would shadow the standard library's ``http`` package when run as
a script; importing ``_common`` (first) moves this directory to the end of ``sys.path``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    emit_json,
    fresh_postgres_schema,
    log,
    machine_info,
    parse_backends,
    print_table,
    utc_now,
)

from _load import CpuSources, run_case
from _servers import DEFAULT_REDIS_URL, REPO, create_partner, hello_server, ledger_server

TARGET_POST_RATE = 1_500
TARGET_P99_MS = 100.0
TARGET_HELLO_SHARE = 0.30


# -- main -----------------------------------------------------------------------------------------------
def ledger_cases(backend: str, args: Any, repo: Path = REPO, *, writer: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-http-{backend}-") as tmp:
        root = Path(tmp)
        if backend == "sqlite":
            return _ledger_cases(root, None, args, repo, writer)
        with fresh_postgres_schema(args.postgres_url, prefix="bench_http") as schema:
            return _ledger_cases(root, schema.url, args, repo, writer)


def _ledger_cases(root: Path, database_url: str | None, args: Any, repo: Path, writer: bool) -> dict[str, Any]:
    extra = dict(item.split("=", 1) for item in args.server_env)
    with ledger_server(
        root, database_url, args.redis_url, args.workers, args.seal_interval_ms, extra, repo, writer=writer
    ) as server:
        auth = create_partner(server)
        sources = CpuSources(server["worker_pids"], server["writer_pids"], database_url, server["pg_application"])
        post = run_case("post", "post", server["url"], sources, args, auth=auth)
        created = post.pop("_created")
        if not created:
            raise RuntimeError(f"no claim was created; server log tail:\n{server['log'].read_text()[-3000:]}")
        post["status_201_share"] = round(post["statuses"].get("201", 0) / max(post["requests"], 1), 4)
        get = run_case("get", "get", server["url"], sources, args, auth=auth, claim_ids=created)
        get.pop("_created")
        return {"post": post, "get": get}


def hello_cases(args: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-http-hello-") as tmp, hello_server(Path(tmp), args.workers) as srv:
        out = {}
        for method in ("get", "post"):
            figures = run_case(f"{method}", f"hello_{method}", srv["url"], CpuSources(srv["pids"]), args)
            figures.pop("_created")
            out[method] = figures
        return out


def _split_cell(split: dict[str, float] | None) -> str:
    if split is None:
        return "-"
    parts = ("api_workers", "writer", "postgresql", "redis", "load_generator", "other")
    return f"{split['machine']:.2f}=" + "+".join(f"{split[name]:.2f}" for name in parts)


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
        "--writer",
        action="store_true",
        help="also run PostgreSQL with one writer per ledger (`ledger writer`, LEDGER_WRITER_SOCKET)",
    )
    parser.add_argument(
        "--baseline-repo",
        type=Path,
        default=None,
        help="also run the ledger cases (first) with the server code of this checkout, e.g. an export of main",
    )
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
        if args.baseline_repo is not None:
            log(f"{backend}-baseline: ledger serve --workers {args.workers}, code of {args.baseline_repo}")
            results[f"{backend}-baseline"] = ledger_cases(backend, args, args.baseline_repo.resolve())
        log(f"{backend}: ledger serve --workers {args.workers}")
        results[backend] = ledger_cases(backend, args)
        if backend == "postgresql" and args.writer:
            log(f"{backend}-writer: ledger writer + ledger serve --workers {args.workers} (LEDGER_WRITER_SOCKET)")
            results[f"{backend}-writer"] = ledger_cases(backend, args, writer=True)
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
        "machine ms/ok: wkr+wrt+pg+redis+gen+other",
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
                    _split_cell(f["cpu_ms_per_ok"]),
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
            "baseline_repo": None if args.baseline_repo is None else str(args.baseline_repo),
        },
        "machine": machine_info(args.postgres_url if "postgresql" in backends else None),
        "results": results,
        "ratios_vs_hello": ratios,
        "targets": targets,
    }
    emit_json(document, args.json_out)


if __name__ == "__main__":
    main()
