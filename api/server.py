"""Running the HTTP server with uvicorn (``ledger serve``): one process, or ``--workers N``.

Settings travel to the workers as ``LEDGER_*`` environment variables (:meth:`Settings.to_env`):
uvicorn imports :func:`app_factory` in every worker, and each builds its own app, ledger connections
and (if enabled) embedded sealer; on PostgreSQL the sealer lock elects one, on SQLite the
compare-and-set does. Several workers need ``--redis-url``: the in-process rate limiter, replay cache
and idempotency store would each see only a share of the traffic, so the server refuses to start
without it. Metrics of all workers are aggregated through ``PROMETHEUS_MULTIPROC_DIR``.

**TCP_NODELAY.** A response is written as a header block then a body; with Nagle's algorithm on, the
second small write can wait for the client's delayed ACK (~40 ms; measured here as a 44 ms median
with uvicorn and 2 workers). asyncio sets ``TCP_NODELAY`` on TCP transports, but only on sockets it
knows to be TCP, and uvicorn wraps a passed-in listening socket as ``AF_UNIX`` (``socket.fromfd``),
so accepted connections would keep Nagle on. We therefore bind the listening socket ourselves with
``TCP_NODELAY`` set: Linux copies the option to every accepted socket (checked by a unit test).

**Loop and parser.** uvicorn picks uvloop and httptools when installed (they are dependencies):
against its pure-Python h11 parser and the asyncio loop they cut a bare request from ~0.31 to
~0.13 ms of CPU (docs/performance.md, "HTTP"). The blocking ledger calls run on one pool of
``Settings.http.worker_threads`` threads per process (api/http/threads.py).

**The supervisor imports no app.** With ``--workers N`` the process that binds the socket and supervises
the workers never builds an app: :mod:`api.app` (the web stack, ~0.4 s of CPU to import) is imported by
:func:`app_factory` in each worker, and by :func:`serve` for one worker only.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from typing import Any

import uvicorn
from litestar import Litestar

from api.http.observability import configure_logging
from api.settings import Settings


def app_factory() -> Litestar:
    """The app of one worker, from the ``LEDGER_*`` environment (``uvicorn --factory``)."""
    from api.app import create_app

    return create_app(Settings.from_env())


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket with ``SO_REUSEADDR`` and ``TCP_NODELAY`` (port 0: the system picks one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve until SIGINT/SIGTERM. Prints one JSON line ``{"event": "listening", "url": ...}`` first."""
    if workers > 1 and settings.storage.redis_url is None:
        raise SystemExit("--workers > 1 needs --redis-url: rate limits, replay and idempotency must be shared")
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    url = f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
    print(json.dumps({"event": "listening", "url": url, "workers": workers}), flush=True)  # noqa: T201 - read by callers
    options: dict[str, Any] = {
        "fd": sock.fileno(),
        "log_config": None,
        "access_log": False,  # the app writes a structured access log with the request id
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
        "server_header": False,
        "proxy_headers": False,  # X-Forwarded-For: read by the app, from configured proxies only (api/http/proxies.py)
    }
    if workers == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings), **options)
        return
    os.environ.update(settings.to_env())
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="ledger-metrics-"))
    configure_logging(settings)  # the supervisor's own lines too ("Child process [N] died" when it replaces one)
    options["timeout_worker_healthcheck"] = settings.http.worker_healthcheck_seconds
    uvicorn.run("api.server:app_factory", factory=True, workers=workers, **options)


if __name__ == "__main__":  # python -m api.server: serve with the LEDGER_* environment
    serve(Settings.from_env(), port=int(os.environ.get("PORT", "8000")))
    sys.exit(0)
