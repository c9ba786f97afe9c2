"""The soak's traffic: the partner's mixed load (own process) and the partner's webhook receiver (own process).

Load (:func:`load_main`, spawned): raw asyncio HTTP/1.1 on keep-alive connections with TCP_NODELAY, every
ledger request signed as the SDK signs it (OAuth bearer token, API key, unique ``X-Request-ID``,
``X-Timestamp``, HMAC ``X-Signature``; POSTs also carry a unique ``Idempotency-Key``). The mix repeats
:data:`MIX`: per 10 operations 5 claims, 3 claim reads (``GET /api/v1/claims/{id}``) and 2 proof reads
(``GET /api/v1/claims/{id}/proof``) of claims created earlier in the run (a bounded ring of ids, so the
generator's memory stays flat). A claim is the partner's two requests: the document upload
(``POST /api/v1/documents``, a unique 1 KiB photo) and the claim naming it (``POST /api/v1/claims``; 201
means sealed, with its inclusion proof; the claim is verified, so it produces ``claim.verified`` then
``proof.generated``). Its latency and status cover both (the first non-2xx answer, if any).

* ``closed`` mode: ``connections`` tasks each send their next request when the previous one is answered
  (saturation: the capacity probe).
* ``open`` mode: requests are *scheduled* at ``rate`` per second whatever the answers; each is sent on an
  idle connection (a new one when none is idle, up to ``max_connections``), and its latency is counted
  from its scheduled instant, so a stalled server shows up as latency instead of a slower offered load
  (no coordinated omission).

Every second the generator sends its finished requests to the parent through a pipe, as
``(scheduled at s since start, latency s, op, status)`` tuples (one per operation) (``status`` is the HTTP code or
``exc:<Type>``), so nothing accumulates in it. Messages: ``("start", monotonic)``, ``("batch", [...])``,
``("done", {"cpu_s": ...})``.

Receiver (:func:`receiver_main`, spawned): answers every POST 200 at once and counts bodies and distinct
event ids (``"id"`` of the Standard Webhooks body); ``"count"`` on its pipe answers
``(posts, distinct ids)``, ``"stop"`` ends it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import socket
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

CLAIM, READ, PROOF = "claim", "read", "proof"
MIX = (CLAIM, READ, CLAIM, PROOF, CLAIM, READ, CLAIM, PROOF, CLAIM, READ)
KNOWN_IDS = 10_000
REQUEST_TIMEOUT_S = 30.0
IDLE_REUSE_S = 2.0


def claim_body(partner_claim_id: str, documents: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "partnerClaimId": partner_claim_id,
            "claimType": "auto",
            "claimAmount": "1250.00",
            "currency": "USD",
            "submittedAt": "2026-01-15T14:30:00Z",
            "documents": documents,
            "verificationLevel": "standard",
        },
        separators=(",", ":"),
    ).encode()


class _Partner:
    """Builds signed requests for one partner and remembers the claims it created."""

    def __init__(self, auth: dict[str, str], tag: str, host_header: bytes) -> None:
        from api.client.signing import sign

        self._sign = sign
        self.auth = auth
        self.tag = tag
        self.host_header = host_header
        self.known: deque[str] = deque(maxlen=KNOWN_IDS)
        self.rng = random.Random(tag)

    def build(self, op: str, seq: int) -> tuple[str, list[bytes]]:
        """(effective op, requests to send in order). A claim is two: the document upload, then the claim
        naming it (a claim's document must be registered for it to be verified). A read before any claim
        exists becomes a claim."""
        if op != CLAIM and not self.known:
            op = CLAIM
        if op == CLAIM:
            content = b"\xff\xd8\xff\xe0" + uuid.uuid4().bytes * 64  # a 1 KiB photo, unique per claim
            document = [{"type": "photo", "hash": hashlib.sha256(content).hexdigest(), "metadata": {}}]
            body = claim_body(f"SOAK-{self.tag}-{seq}", document)
            return op, [
                self._request("POST", "/api/v1/documents", "type=photo", content, "image/jpeg"),
                self._request("POST", "/api/v1/claims", "", body, "application/json"),
            ]
        claim_id = self.known[self.rng.randrange(len(self.known))]
        path = f"/api/v1/claims/{claim_id}" + ("/proof" if op == PROOF else "")
        return op, [self._request("GET", path, "", b"", None)]

    def _request(self, method: str, path: str, query: str, body: bytes, content_type: str | None) -> bytes:
        rid = str(uuid.uuid4())
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        headers = {
            "Authorization": f"Bearer {self.auth['token']}",
            "X-API-Key": self.auth["api_key"],
            "X-Request-ID": rid,
            "X-Timestamp": stamp,
        }
        if content_type is not None:
            headers["Content-Type"] = content_type
            headers["Idempotency-Key"] = str(uuid.uuid4())
        headers["X-Signature"] = self._sign(self.auth["api_secret"], method, path, query, stamp, rid, body)
        target = f"{path}?{query}" if query else path
        lines = [f"{method} {target} HTTP/1.1\r\n".encode(), self.host_header]
        lines += [f"{name}: {value}\r\n".encode() for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}\r\n\r\n".encode() if method == "POST" else b"\r\n")
        return b"".join(lines) + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bytes]:
    """One keep-alive exchange: (status, Location header value, body). The server sends Content-Length."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    location = b""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding":
            raise RuntimeError("chunked response: not supported by this load generator")
        elif lowered == b"location":
            location = value.strip()
    return status, location, await reader.readexactly(length)


class _Connections:
    """Idle keep-alive connections to one server, opened on demand, most recently used first.

    A connection idle for :data:`IDLE_REUSE_S` or more is closed instead of reused: the server closes idle
    keep-alive connections after 5 s (uvicorn's ``timeout_keep_alive``), and a request written into a
    connection the server is closing is lost (HTTP/1.1's keep-alive race, RFC 9112 section 9.3.1; clients
    such as httpx likewise drop connections they find closed before reusing them)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.monotonic()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since < IDLE_REUSE_S and not reader.at_eof():
                return reader, writer
            writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    def give_back(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.idle.append((reader, writer, time.monotonic()))

    def close_all(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


async def _run(conn: Any, spec: dict[str, Any]) -> None:
    host, _, port = spec["url"].removeprefix("http://").rpartition(":")
    partner = _Partner(spec["auth"], spec["tag"], f"Host: {host}:{port}\r\n".encode())
    pool = _Connections(host, int(port))
    loop = asyncio.get_running_loop()
    finished: list[tuple[float, float, str, str]] = []
    start = loop.time()
    conn.send(("start", time.monotonic()))

    async def one(seq: int, scheduled: float) -> None:
        op, requests = partner.build(MIX[seq % len(MIX)], seq)
        try:
            reader, writer = await asyncio.wait_for(pool.take(), REQUEST_TIMEOUT_S)
        except (TimeoutError, OSError) as error:
            finished.append((scheduled - start, loop.time() - scheduled, op, f"exc:{type(error).__name__}"))
            return
        code = ""
        for request in requests:
            try:
                exchange = _exchange(reader, writer, request)
                status, location, body = await asyncio.wait_for(exchange, REQUEST_TIMEOUT_S)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as error:
                writer.close()
                finished.append((scheduled - start, loop.time() - scheduled, op, f"exc:{type(error).__name__}"))
                return
            code = str(status)
            if not 200 <= status < 300:
                break
        pool.give_back(reader, writer)
        if op == CLAIM and code == "201":
            if b'"proof":null' in body or b'"proof":' not in body:
                code = "201-no-proof"
            partner.known.append(location.decode().rsplit("/", 1)[1])
        finished.append((scheduled - start, loop.time() - scheduled, op, code))

    async def flush() -> None:
        while True:
            await asyncio.sleep(1.0)
            if finished:
                conn.send(("batch", finished[:]))
                finished.clear()

    flusher = asyncio.create_task(flush())
    seq = 0
    duration = float(spec["duration"])
    if spec["mode"] == "closed":

        async def loop_task(index: int) -> None:
            nonlocal seq
            while loop.time() - start < duration:
                seq += 1
                await one(seq, loop.time())

        await asyncio.gather(*(loop_task(i) for i in range(int(spec["connections"]))))
    else:
        rate = float(spec["rate"])
        in_flight = asyncio.Semaphore(int(spec["max_connections"]))
        tasks: set[asyncio.Task[None]] = set()

        async def bounded(number: int, scheduled: float) -> None:
            async with in_flight:
                await one(number, scheduled)

        while seq / rate < duration:
            scheduled = start + seq / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(bounded(seq, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            seq += 1
        await asyncio.gather(*tasks)
    flusher.cancel()
    pool.close_all()
    if finished:
        conn.send(("batch", finished[:]))


def load_main(conn: Any, spec: dict[str, Any]) -> None:
    """Entry point of the load-generator process (``multiprocessing`` spawn target)."""
    cpu0 = time.process_time()
    asyncio.run(_run(conn, spec))
    conn.send(("done", {"cpu_s": time.process_time() - cpu0}))
    conn.close()


def receiver_main(conn: Any) -> None:
    """Entry point of the webhook receiver process: sends its port, then serves until ``"stop"``."""
    posts = 0
    ids: set[str] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal posts
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:].strip())
                body = await reader.readexactly(length)
                posts += 1
                ids.add(str(json.loads(body)["id"]))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        while (command := await loop.run_in_executor(None, conn.recv)) != "stop":
            if command == "count":
                conn.send((posts, len(ids)))
        conn.send((posts, len(ids)))
        server.close()

    asyncio.run(main())
