"""The server's memory under unauthenticated large uploads (issue 18, item 1).

A real ``ledger serve`` (SQLite, the embedded default, default body settings: ``max_body_bytes`` 1 MiB,
``max_upload_bytes`` 100 MiB, ``large_body_bytes`` 64 KiB, ``max_large_bodies`` 8) gets ``--clients``
(16) concurrent ``POST /api/v1/documents`` declaring ``--size-mib`` (95) MiB each, with no credentials.
Each client sends its headers and then streams its body in 256 KiB writes while it waits for the
answer; with ``--drain`` it keeps sending the whole body after the answer (the server reads and drops
the rest of a refused request's body), else it closes the connection once answered.

Measured: the server's RSS at idle (after a warm-up request), its RSS sampled every 5 ms during the
run (``/proc/PID/status`` ``VmRSS``), the peak of those samples, and each answer's status and how far
the client had got in sending its body when the answer arrived.

The bound the settings give (api/http/pipeline/body.py): an unauthenticated request's body is never
read, so its memory is the server's read buffer for the connection; an authenticated one's is at
most ``max_large_bodies x max_body_bytes`` for large bodies plus ``large_body_bytes`` per other
connection. The run checks the peak against ``idle + max_large_bodies x max_body_bytes +
clients x large_body_bytes`` (9 MiB for 16 clients with the defaults).

``--path /oauth/token`` sends the same bodies to the token endpoint, the one that reads a body before
authenticating anyone (413 past ``max_token_body_bytes``, 4 KiB).

Usage: ``python benchmarks/edge_memory.py [--quick] [--clients N] [--size-mib M] [--drain] [--path P]``. Table on
stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _common import base_parser, emit_json, log, machine_info, print_table, utc_now

import httpx

CHUNK = 256 * 1024
MIB = 1_048_576
DEFAULT_MAX_BODY = MIB
DEFAULT_LARGE_BODIES = 8
DEFAULT_LARGE_BODY = 65_536


def rss_kib(pid: int) -> int:
    """The resident set size of ``pid`` now (``VmRSS``, KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Sampler(threading.Thread):
    """Samples a process's RSS every 5 ms until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self.samples += 1
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update({"LEDGER_DATA_DIR": str(data_dir), "LEDGER_LOG_LEVEL": "WARNING"})
    log_file = (data_dir.parent / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli.serve", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("server exited early")
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "listening":
            url = str(event["url"])
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        return process, url
                except httpx.TransportError:
                    time.sleep(0.05)
            break
    raise RuntimeError("server did not start")


async def upload(url: str, path: str, size: int, drain: bool) -> dict[str, Any]:
    """One unauthenticated upload declaring ``size`` bytes: its status and how much was sent when answered."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\nContent-Type: application/pdf\r\n"
            f"Content-Length: {size}\r\n\r\n"
        ).encode()
    )
    answer = asyncio.ensure_future(reader.readuntil(b"\r\n\r\n"))
    sent, sent_at_answer, chunk = 0, None, b"%" * CHUNK
    try:
        while sent < size:
            if answer.done() and sent_at_answer is None:
                sent_at_answer = sent
                if not drain:
                    break
            piece = chunk[: min(CHUNK, size - sent)]
            writer.write(piece)
            await writer.drain()
            sent += len(piece)
        head = await answer
    except (ConnectionError, asyncio.IncompleteReadError):
        head = await answer if answer.done() and not answer.exception() else b""
    finally:
        writer.close()
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return {"status": status, "sent_at_answer": sent if sent_at_answer is None else sent_at_answer, "sent": sent}


async def run_clients(url: str, path: str, clients: int, size: int, drain: bool) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(upload(url, path, size, drain) for _ in range(clients))))


def main() -> None:
    parser = base_parser(__doc__ or "")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--size-mib", type=int, default=95)
    parser.add_argument("--path", default="/api/v1/documents", help="also: /oauth/token (413 past 4 KiB)")
    parser.add_argument("--drain", action="store_true", help="send every body in full, even after the answer")
    args = parser.parse_args()
    clients = 4 if args.quick else args.clients
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="edge-memory-") as root:
        process, url = start_server(Path(root) / "data")
        try:
            httpx.post(f"{url}/api/v1/documents", content=b"warm-up")
            time.sleep(0.5)
            idle = rss_kib(process.pid)
            sampler = Sampler(process.pid)
            sampler.start()
            started = time.perf_counter()
            results = asyncio.run(run_clients(url, args.path, clients, size, args.drain))
            elapsed = time.perf_counter() - started
            time.sleep(0.2)
            sampler.stop()
            after = rss_kib(process.pid)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    bound = idle + (DEFAULT_LARGE_BODIES * DEFAULT_MAX_BODY + clients * DEFAULT_LARGE_BODY) // 1024
    statuses = sorted({r["status"] for r in results})
    document = {
        "benchmark": "edge_memory",
        "at": utc_now(),
        "machine": machine_info(),
        "clients": clients,
        "declared_mib_each": args.size_mib,
        "drain": args.drain,
        "path": args.path,
        "statuses": statuses,
        "max_sent_mib_when_answered": round(max(r["sent_at_answer"] for r in results) / MIB, 2),
        "total_sent_mib": round(sum(r["sent"] for r in results) / MIB, 1),
        "seconds": round(elapsed, 2),
        "rss_idle_mib": round(idle / 1024, 1),
        "rss_peak_mib": round(sampler.peak / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "bound_mib": round(bound / 1024, 1),
        "under_bound": sampler.peak <= bound,
        "rss_samples": sampler.samples,
    }
    print_table(
        ["clients", "MiB each", "statuses", "sent when answered (max MiB)", "RSS idle", "RSS peak", "bound"],
        [
            [
                str(clients),
                str(args.size_mib),
                ",".join(map(str, statuses)),
                str(document["max_sent_mib_when_answered"]),
                f"{document['rss_idle_mib']} MiB",
                f"{document['rss_peak_mib']} MiB",
                f"{document['bound_mib']} MiB",
            ]
        ],
        title="Unauthenticated large uploads",
    )
    log(f"total sent {document['total_sent_mib']} MiB in {document['seconds']} s")
    emit_json(document, args.json_out)


if __name__ == "__main__":
    main()
