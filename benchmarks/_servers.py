"""Servers the HTTP benchmarks drive, each a real subprocess on a free loopback port.

* :func:`ledger_server`: ``ledger serve`` on SQLite (embedded sealer) or, given a database URL, the
  PostgreSQL topology (``ledger sealer`` as its own process, ``ledger serve --no-embedded-sealer``), with
  Redis under a fresh key prefix removed afterwards; rate limits raised so the limiter runs but never refuses.
* :func:`hello_server`: the bare Litestar hello-world (``GET /``, ``POST /echo``) served like ``ledger serve``.
* :func:`create_partner`: an enterprise partner (default or given scopes) with a fresh access token.
* :func:`tree_cpu_seconds`: CPU seconds of process trees (Linux /proc), for CPU per request.

Readiness: a server counts as up after 8 consecutive health checks on new connections (one answer proves
only one worker ready). Stop: SIGINT to the server and SIGTERM to the sealer at once (a writer: after the
server has stopped, since the server saves through it), SIGKILL after 20 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import log, proc_stats

import httpx

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = os.environ.get("LEDGER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
UNLIMITED = [10_000_000, 1_000_000, None]


# -- processes ------------------------------------------------------------------------------------------
def tree_cpu_seconds(roots: list[int]) -> float:
    """User + system CPU seconds of the live processes in the trees under ``roots`` (Linux /proc, read once)."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for pid, _, fields in proc_stats():
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    total = 0
    stack = list(roots)
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        total += ticks.get(pid, 0)
    return total / os.sysconf("SC_CLK_TCK")


def pid_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(command: str) -> list[int]:
    """The processes whose ``comm`` is ``command`` (e.g. ``redis-server``)."""
    return [pid for pid, name, _ in proc_stats() if name == command]


def tag_application(database_url: str, application: str) -> str:
    """``database_url`` with libpq's ``application_name``, so the server's backends can be told apart."""
    return f"{database_url}{'&' if '?' in database_url else '?'}application_name={application}"


def postgres_backends(probe: Any, application: str) -> list[int]:
    """Pids of the PostgreSQL backends serving connections named ``application`` (``pg_stat_activity``),
    asked over ``probe``: an open psycopg connection (the server may have no connection slot to spare)."""
    rows = probe.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,))
    return [int(row[0]) for row in rows.fetchall()]


def _stop(process: subprocess.Popen[str], sig: int = signal.SIGINT) -> None:
    _signal(process, sig)
    _reap(process)


def _signal(process: subprocess.Popen[str], sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)


def _reap(process: subprocess.Popen[str], timeout: float = 20) -> None:
    """Wait for a signalled process; SIGKILL after ``timeout`` seconds."""
    try:
        process.wait(timeout=timeout)
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


def _wait_sealer(sealer: subprocess.Popen[str], log_path: Path, ready: str) -> None:
    deadline = time.monotonic() + 120  # it starts beside the server's workers: on a loaded host, slowly
    while ready not in log_path.read_text():
        if sealer.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"sealer did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.05)


def _wait_healthy(url: str, path: str, process: subprocess.Popen[str], log_path: Path, settle: int = 8) -> None:
    """Until ``settle`` consecutive new connections get 200: one answer proves only one worker ready
    (the others may still be starting), and the load generator opens all its connections at once."""
    deadline = time.monotonic() + 180  # a worker's start-up alone took over 60 s at a load average of 20
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
        env.update(_named_keys(data_dir))
    return env


def _named_keys(data_dir: Path) -> dict[str, str]:
    """A PostgreSQL deployment names its keys (adapters/key_sources.py): the data directory's key files
    (created if missing; :func:`create_partner` opens the ledger with the same master key), named."""
    from adapters.files.master_key import MASTER_KEY_FILE, load_master_key
    from adapters.files.signing_key import SIGNING_KEY_FILE, ensure_signing_key

    load_master_key(data_dir)
    ensure_signing_key(data_dir)
    return {
        "LEDGER_SIGNING_KEY_FILE": str(data_dir / SIGNING_KEY_FILE),
        "LEDGER_MASTER_KEY_FILE": str(data_dir / MASTER_KEY_FILE),
    }


def _init_ledger(data_dir: Path, database_url: str, env: dict[str, str], repo: Path) -> None:
    """What ``ledger init --data-dir D --database-url U`` does (schema, checkpoint key, SFTP host key): in this
    process with ``env`` as its environment (a CLI start-up less), or as that command when ``repo`` is another
    checkout (its code, not this one's, creates the ledger)."""
    if repo != REPO:
        command = [sys.executable, "-m", "api", "init", "--data-dir", str(data_dir), "--database-url", database_url]
        subprocess.run(command, env=env, check=True, capture_output=True, cwd=repo)
        return
    from adapters.feeds.host_key import ensure_host_key
    from adapters.opening import open_ledger
    from adapters.storage import StorageConfig
    from api.cli.proofs import init_tree

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the ledger's settings (e.g. LEDGER_CLAIM_FACTS) as the processes get them
    try:
        ensure_host_key(data_dir)
        with open_ledger(StorageConfig(data_dir, database_url)):
            init_tree(data_dir, database_url, None, None)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def ledger_server(
    root: Path,
    database_url: str | None,
    redis_url: str,
    workers: int,
    seal_interval_ms: int,
    extra_env: dict[str, str] | None = None,
    repo: Path = REPO,
    *,
    writer: bool = False,
    on_initialized: Callable[[dict[str, str]], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Start (sealer and) server; yield ``{"url", "env", "pids", "worker_pids", "writer_pids", "pg_application",
    "data_dir", "database_url", "log"}`` (``pids``: server then sealer; the database URL carries
    ``application_name=pg_application``, see :func:`postgres_backends`). ``repo``: the checkout whose
    code the server runs (default: this one). ``writer`` (PostgreSQL): ``ledger writer`` instead of ``ledger
    sealer``, and the server hands its saves to it (``LEDGER_WRITER_SOCKET``). ``on_initialized(env)``
    (PostgreSQL): called once the ledger's schema exists, before the sealer and the server are up, to start
    other processes of the deployment alongside them. The sealer and the server start together (the server
    does not need the sealer to start; a ``writer`` is waited for first, since the server saves through it)."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"bench:{uuid.uuid4().hex[:12]}:"
    application = prefix.rstrip(":").replace(":", "-")
    if database_url is not None:
        database_url = tag_application(database_url, application)
    env = _ledger_env(data_dir, database_url, redis_url, prefix) | (extra_env or {})
    if repo != REPO:  # another checkout's code (e.g. the code path before a change), first on sys.path
        env["PYTHONPATH"] = str(repo)
    processes: list[subprocess.Popen[str]] = []
    pids: list[int] = []
    try:
        args = ["--workers", str(workers), "--redis-url", redis_url]
        if database_url is not None:  # the PostgreSQL topology: a separate sealer process
            _init_ledger(data_dir, database_url, env, repo)  # the sealer opens an existing ledger only
            sealer_log = root / "sealer.log"
            sealer_env = env | {"LEDGER_SEAL_INTERVAL_MS": str(seal_interval_ms)}
            command = ["api.cli.proofs", "sealer", "--poll-interval", "0.01"]
            if writer:
                env["LEDGER_WRITER_SOCKET"] = str(root / "writer.sock")
                sealer_env["LEDGER_WRITER_SOCKET"] = env["LEDGER_WRITER_SOCKET"]
                command = ["api.cli.writer", "writer"]
            with sealer_log.open("w") as out:
                sealer = subprocess.Popen(
                    [sys.executable, "-m", *command, "--data-dir", str(data_dir), "--database-url", database_url],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=sealer_env,
                    cwd=repo,
                )
            processes.append(sealer)
            pids.append(sealer.pid)
            if writer:  # the server hands its saves to the writer's socket: the writer first
                _wait_sealer(sealer, sealer_log, '"leader"')
            if on_initialized is not None:
                on_initialized(dict(env))
            args.append("--no-embedded-sealer")
        server_log = root / "server.log"
        with server_log.open("w") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "api.cli.serve", "serve", "--port", "0", *args],
                stdout=subprocess.PIPE,
                stderr=out,
                text=True,
                env=env,
                cwd=repo,
            )
        processes.insert(0, server)
        pids.insert(0, server.pid)
        url = _wait_listening(server, server_log)
        _wait_healthy(url, "/health", server, server_log)
        if database_url is not None and not writer:
            _wait_sealer(processes[1], root / "sealer.log", '"started"')
        yield {
            "url": url,
            "env": env,
            "pids": pids,
            "worker_pids": pids[:1],
            "writer_pids": pids[1:],
            "pg_application": application if database_url is not None else None,
            "data_dir": data_dir,
            "database_url": database_url,
            "log": server_log,
        }
    finally:
        for process in processes:  # server (SIGINT) and sealer (SIGTERM) at once; a writer after the server
            _signal(process, signal.SIGINT if process is processes[0] else signal.SIGTERM)
            if writer:
                _reap(process)
        for process in processes:
            _reap(process)
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
def create_partner(
    server: dict[str, Any], scopes: Sequence[str] | None = None, prefix: str = "bench"
) -> dict[str, str]:
    """An enterprise partner registered directly in the server's database (``scopes``: default the
    partner defaults, :data:`api.security.credentials.DEFAULT_SCOPES`), with a fresh access token:
    ``{"token", "api_key", "api_secret", "id"}``."""
    from adapters.opening import open_ledger
    from adapters.storage import StorageConfig
    from api.client.ledger_client import LedgerClient
    from api.security.credentials import DEFAULT_SCOPES, CredentialService
    from api.security.secrets import load_deployment_secret

    partner_id = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with open_ledger(StorageConfig(server["data_dir"], server["database_url"])) as ledger:
        service = CredentialService(ledger, load_deployment_secret(server["data_dir"]))
        credentials = service.create_partner(
            partner_id,
            partner_id,
            tier="enterprise",
            category="claims_software",
            scopes=DEFAULT_SCOPES if scopes is None else scopes,
        )
    with LedgerClient(
        server["url"],
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        api_key=credentials.api_key,
        api_secret=credentials.api_secret,
    ) as client:
        token = client.token()
    return {"token": token, "api_key": credentials.api_key, "api_secret": credentials.api_secret, "id": partner_id}
