"""A real HTTP (or HTTPS) webhook receiver on loopback for tests: records every request, answers as scripted."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


Responder = Callable[[Received], tuple[int, dict[str, str]]]


def accept(_: Received) -> tuple[int, dict[str, str]]:
    return 200, {}


@dataclass
class Receiver:
    """The running receiver: ``url``, what it received, and the responder deciding each answer."""

    url: str
    responder: Responder = accept
    received: list[Received] = field(default_factory=list)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 30.0) -> list[Received]:
        """Block until ``predicate(received)`` holds; fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while not predicate(self.received):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"receiver: condition not met; got {len(self.received)} requests")
                self.condition.wait(remaining)
            return list(self.received)

    def wait_count(self, count: int, timeout: float = 30.0) -> list[Received]:
        return self.wait_for(lambda got: len(got) >= count, timeout)


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the listen backlog: a dispatcher opens hundreds of connections at once


@contextmanager
def webhook_receiver(
    responder: Responder = accept,
    path: str = "/hooks",
    *,
    tls: ssl.SSLContext | None = None,
    host: str = "127.0.0.1",
    bind: str = "127.0.0.1",
) -> Iterator[Receiver]:
    """Serve on ``bind`` (a free port) in a thread until the block ends; HTTPS with the ``tls`` server context,
    the URL then naming ``host`` (the name its certificate is for). ``bind``: another address of this machine
    (a bridge that network-namespace hosts reach, tests/support/netns.py)."""
    receiver = Receiver(url="", responder=responder)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
            status, headers = receiver.responder(got)
            with receiver.condition:
                receiver.received.append(got)
                receiver.condition.notify_all()
            if status < 0:  # scripted timeout: hold the connection longer than the dispatcher waits
                time.sleep(-status)
                status = 200
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = _Server((bind, 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://{bind}:{server.server_address[1]}{path}"
    if tls is not None:  # the handshake runs on accept; a failed one is dropped by socketserver (an OSError)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        receiver.url = f"https://{host}:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
