"""Webhook delivery: deliveries per second to a local receiver, and latency from log commit to receipt.

Usage: ``python benchmarks/webhooks.py [--quick] [--backends sqlite,postgresql] [--events N] [--rate R]``

For each backend, on a fresh database, with one partner and one endpoint on a loopback receiver (its own
process: a minimal asyncio HTTP/1.1 server that answers 200 at once and records when each body arrived):

* **throughput**: N claim verifications are written first, then the webhook worker starts (projector +
  dispatcher, as the embedded server runs them); the figure is N / the time until the receiver has all
  N (so it includes projecting, signing, sending and recording each outcome).
* **latency**: with the worker running, claims are verified at a steady ``--rate`` per second; for each
  delivery, receipt time minus the entry's ``recordedAt`` (stamped just before the log commit), p50/p99.

Targets (issue 5): >= 1,000 deliveries/s and p99 <= 1 s. The last line of stdout is one JSON object.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    base_parser,
    emit_json,
    fresh_postgres_schema,
    fresh_sqlite_file,
    log,
    machine_info,
    parse_backends,
    print_table,
    utc_now,
)

TARGET_RATE = 1000.0
TARGET_P99_MS = 1000.0
PARTNER = "bench_partner"
_SPAWN = multiprocessing.get_context("spawn")


# -- the receiver (own process) -----------------------------------------------------------------------
def _receiver_main(conn: Any) -> None:
    """Serve until told to stop; then send back [(arrival time, recordedAt text)] of every request."""
    import orjson

    arrivals: list[tuple[float, bytes]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:].strip())
                body = await reader.readexactly(length)
                arrivals.append((time.time(), body))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=2048)
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "count":
                conn.send(len(arrivals))
            elif command == "reset":
                arrivals.clear()
                conn.send(0)
            else:
                result = []
                for at, body in arrivals:
                    payload = orjson.loads(body)
                    result.append((at, payload["timestamp"], payload["id"]))
                conn.send(result)
                server.close()
                return

    asyncio.run(main())


class Receiver:
    def __init__(self) -> None:
        self.conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=_receiver_main, args=(child,), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{self.conn.recv()}/hooks"

    def count(self) -> int:
        self.conn.send("count")
        return int(self.conn.recv())

    def reset(self) -> None:
        self.conn.send("reset")
        self.conn.recv()

    def finish(self) -> list[tuple[float, str, str]]:
        self.conn.send("finish")
        result: list[tuple[float, str, str]] = self.conn.recv()
        self.process.join(10)
        return result


# -- writing events -------------------------------------------------------------------------------------
def _claims(ledger: Any, start: int, count: int) -> None:
    """``count`` verified claims, saved 200 aggregates per save (2 log entries each)."""
    from ledger_core.claims.claim import Claim
    from ledger_core.claims.submission import validate_submission
    from ledger_core.shared.service_support import save

    chunk: list[Any] = []
    for number in range(start, start + count):
        submission = validate_submission(
            partner_id=PARTNER,
            partner_claim_id=f"CLM-{number}",
            claim_type="auto",
            claim_amount="100.00",
            currency="USD",
            submitted_at="2026-01-15T12:00:00Z",
            documents=[{"type": "photo", "hash": f"{number:064x}", "metadata": {}}],
            verification_level="standard",
        )
        claim = Claim.from_submission(submission)
        claim.record_verification(
            status="verified",
            risk_score=5,
            risk_level="low",
            factors=[],
            explanation="ok",
            rule_set_version="bench",
            inputs={},
        )
        chunk.append(claim)
        if len(chunk) == 200:
            save(ledger.app, *chunk)
            chunk = []
    if chunk:
        save(ledger.app, *chunk)


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextmanager
def _database(backend: str, postgres_url: str) -> Iterator[tuple[Path, str]]:
    if backend == "sqlite":
        with fresh_sqlite_file("webhooks.db") as path:
            yield path.parent, f"sqlite:///{path}"
    else:
        with fresh_postgres_schema(postgres_url, "bench_webhooks") as schema, fresh_sqlite_file() as path:
            yield path.parent, schema.url


def run_case(backend: str, postgres_url: str, events: int, rate: float, duration: float, client: str) -> dict[str, Any]:
    from adapters.opening import open_ledger
    from adapters.storage import StorageConfig, open_outbox
    from adapters.workers.webhooks import build_worker

    receiver = Receiver()
    with _database(backend, postgres_url) as (data_dir, url):
        config = StorageConfig(data_dir, url)
        with open_ledger(config) as ledger:
            ledger.partners.register(
                partner_id=PARTNER, name="Bench", category="insurance_carrier", tier="sandbox", scopes=[]
            )
            ledger.partners.add_webhook(PARTNER, "ep", url=receiver.url, event_types=["claim.verified"], secret_id="s1")
            _claims(ledger, 0, events)
            outbox = open_outbox(config)
            worker = build_worker(outbox, b"s" * 32, allow_private=True, max_in_flight=256, http_client=client)
            started = time.perf_counter()
            worker.start()
            try:
                while receiver.count() < events:
                    time.sleep(0.01)
                elapsed = time.perf_counter() - started
                receiver.reset()
                written = _steady(ledger, events, rate, duration)
                deadline = time.monotonic() + 30
                while receiver.count() < written and time.monotonic() < deadline:
                    time.sleep(0.01)
            finally:
                worker.stop()
                outbox.close()
            arrivals = receiver.finish()
    latencies = [
        (at - datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).timestamp()) * 1000
        for at, stamp, _ in arrivals
    ]
    return {
        "events": events,
        "deliveries_per_s": round(events / elapsed, 1),
        "drain_s": round(elapsed, 3),
        "latency_deliveries": len(latencies),
        "latency_written": written,
        "rate": rate,
        "p50_ms": None if not latencies else round(_percentile(latencies, 0.5) or 0, 1),
        "p99_ms": None if not latencies else round(_percentile(latencies, 0.99) or 0, 1),
        "max_ms": None if not latencies else round(max(latencies), 1),
    }


def _steady(ledger: Any, start: int, rate: float, duration: float) -> int:
    """Verify claims at ``rate`` per second (in batches every 10 ms) for ``duration`` seconds."""
    written = 0
    began = time.perf_counter()
    while True:
        now = time.perf_counter() - began
        if now >= duration:
            break
        due = int(now * rate) - written
        if due > 0:
            _claims(ledger, start + written, due)
            written += due
        time.sleep(0.01)
    return written


def main() -> None:
    parser = base_parser(__doc__.split("\n\n", 1)[0])
    parser.add_argument("--events", type=int, default=None, help="deliveries drained (20000; quick: 3000)")
    parser.add_argument("--rate", type=float, default=200.0, help="claims verified per second, latency phase")
    parser.add_argument("--duration", type=float, default=None, help="latency phase seconds (20; quick: 5)")
    parser.add_argument("--clients", default="aiohttp,httpx", help="HTTP clients to compare (default: both)")
    args = parser.parse_args()
    events = args.events or (3000 if args.quick else 20000)
    duration = args.duration or (5.0 if args.quick else 20.0)
    started = utc_now()
    results: dict[str, Any] = {}
    for backend in parse_backends(args.backends):
        for client in [c.strip() for c in args.clients.split(",") if c.strip()]:
            log(f"{backend}/{client}: {events} deliveries, then {args.rate:g}/s for {duration:g} s")
            results[f"{backend}.{client}"] = run_case(backend, args.postgres_url, events, args.rate, duration, client)
    rows = [
        [
            name,
            f"{r['deliveries_per_s']:,.0f}",
            f"{TARGET_RATE:,.0f}",
            str(r["p50_ms"]),
            str(r["p99_ms"]),
            f"{TARGET_P99_MS:,.0f}",
            str(r["max_ms"]),
            f"{r['latency_deliveries']}/{r['latency_written']}",
        ]
        for name, r in results.items()
    ]
    headers = ["backend.client", "deliveries/s", "target", "p50 ms", "p99 ms", "target", "max ms", "received"]
    print_table(headers, rows, "webhooks: loopback receiver, embedded projector + dispatcher")
    targets = {
        name: {
            "rate": {
                "target": TARGET_RATE,
                "value": r["deliveries_per_s"],
                "met": r["deliveries_per_s"] >= TARGET_RATE,
            },
            "p99_ms": {
                "target": TARGET_P99_MS,
                "value": r["p99_ms"],
                "met": r["p99_ms"] is not None and r["p99_ms"] <= TARGET_P99_MS,
            },
        }
        for name, r in results.items()
    }
    emit_json(
        {
            "benchmark": "webhooks",
            "started": started,
            "quick": args.quick,
            "machine": machine_info(args.postgres_url if "postgresql" in results else None),
            "results": results,
            "targets": targets,
        },
        args.json_out,
    )


if __name__ == "__main__":
    main()
