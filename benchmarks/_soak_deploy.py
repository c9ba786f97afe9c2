"""The soak's deployment (benchmarks/soak.py): every process started (the server and the sealer through
benchmarks/_servers.py, the dispatcher and the feeds worker alongside them as soon as the schema exists),
the partner onboarded (credentials, feeds, webhook endpoint), the processes registered with the sampler,
and everything stopped at the end. :func:`mark` times the phases (start-up is most of a quick run)."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import fresh_postgres_schema, log

from _servers import create_partner, ledger_server
from _soak_load import receiver_main
from _soak_procs import ProcessSampler, postgres_backends, redis_pid

_HERE = os.path.dirname(os.path.abspath(__file__))
EVENT_TYPES = ["claim.verified", "claim.fraud_detected", "proof.generated"]
_SPAWN = multiprocessing.get_context("spawn")
_STARTED = time.monotonic()
TIMELINE: dict[str, float] = {}
"""Seconds from the script's start (after its imports) to each phase's end (start-up is most of a quick
run): in the JSON."""


def mark(phase: str) -> None:
    """Record (and log) that ``phase`` ended now."""
    TIMELINE[phase] = round(time.monotonic() - _STARTED, 1)
    log(f"  [{TIMELINE[phase]:5.1f} s] {phase}")


# -- the deployment's other processes -------------------------------------------------------------------
def _ledger_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("ledger")), *args]


class SideProcesses:
    """The deployment's processes besides the server and the sealer, started as soon as the schema exists
    (alongside the server: start-up is most of a quick run), each with its output in ``root/<name>.log``;
    :meth:`wait_ready` until each one's ``ready`` text is in its log; SIGTERM at :meth:`stop` or when the
    context ends."""

    def __init__(self, root: Path, specs: dict[str, tuple[list[str], str]]) -> None:
        self.root = root
        self.specs = specs
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self._stopping = False

    def __enter__(self) -> SideProcesses:
        return self

    def start(self, env: dict[str, str]) -> None:
        for name, (args, _) in self.specs.items():
            with (self.root / f"{name}.log").open("w") as out:
                self.processes[name] = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, text=True, env=env)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 180  # start-up took over 60 s at a load average of 20
        for name, (_, ready) in self.specs.items():
            log_path = self.root / f"{name}.log"
            while ready not in log_path.read_text():
                if self.processes[name].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM to each process (once): alongside the server's and the sealer's stop, not after it."""
        if self._stopping:
            return
        self._stopping = True
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def __exit__(self, *_: object) -> None:
        self.stop()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Receiver:
    """The partner's webhook receiver (its own process, benchmarks/_soak_load.py): started at once, its
    :attr:`url` known when first asked (the process starts while the deployment's schema is made)."""

    def __init__(self) -> None:
        self.pipe, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=receiver_main, args=(child,), daemon=True)
        self.process.start()
        self.pid = int(self.process.pid or 0)
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = f"http://127.0.0.1:{self.pipe.recv()}/hooks"
        return self._url

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.is_alive():
            if self._url is None:
                self.pipe.recv()  # its port, which nobody asked for
            self.pipe.send("stop")
            self.pipe.recv()
        self.process.join(10)


def configure_feeds(server: dict[str, Any], partner_id: str) -> None:
    """What ``ledger feeds configure PARTNER --it-email ...`` does (in this process: a CLI start-up less)."""
    from dataclasses import replace

    from api.feeds_runtime import feed_files
    from api.settings import Settings

    keys = feed_files(Settings.from_env(server["env"])).keys
    keys.save(replace(keys.config_or_new(partner_id), it_email="it@partner.example"))


def register_endpoint(url: str, auth: dict[str, str], target: str) -> None:
    """``POST /api/v1/webhooks/endpoints`` as the partner, signed like every partner request."""
    import httpx

    from api.client.signing import sign

    body = httpx.Request("POST", "/", json={"url": target, "eventTypes": EVENT_TYPES}).content
    path = "/api/v1/webhooks/endpoints"
    rid = str(uuid.uuid4())
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    headers = {
        "Authorization": f"Bearer {auth['token']}",
        "X-API-Key": auth["api_key"],
        "X-Request-ID": rid,
        "X-Timestamp": stamp,
        "Content-Type": "application/json",
        "X-Signature": sign(auth["api_secret"], "POST", path, "", stamp, rid, body),
    }
    answer = httpx.post(url + path, content=body, headers=headers, timeout=30)
    if answer.status_code != 201:
        raise RuntimeError(f"webhook registration answered {answer.status_code}: {answer.text}")


@contextmanager
def deployment(args: Any, sampler: ProcessSampler) -> Iterator[dict[str, Any]]:
    """Start every process, onboard the partner (credentials, feeds, webhook endpoint), register the
    processes with ``sampler``; yield ``{"server", "auth", "hooks", "processes"}``; stop everything."""
    from api.security.credentials import DEFAULT_SCOPES

    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-soak-")))
        if args.logs_dir is not None:  # runs after every process below has stopped
            stack.callback(_keep_logs, root, args.logs_dir)
        hooks = stack.enter_context(Receiver())
        schema = stack.enter_context(fresh_postgres_schema(args.postgres_url, prefix="bench_soak"))
        mark("schema made, receiver starting")
        server_env = {"LEDGER_EMBEDDED_WEBHOOKS": "0", "LEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS": "1"}
        server_env |= dict(item.split("=", 1) for item in args.server_env)
        if args.tracemalloc is not None:  # allocation snapshots of the API workers (benchmarks/_tracemalloc_site)
            args.tracemalloc.mkdir(parents=True, exist_ok=True)
            server_env |= {
                "PYTHONPATH": str(Path(_HERE) / "_tracemalloc_site"),
                "LEDGER_BENCH_TRACEMALLOC_DIR": str(args.tracemalloc),
                "LEDGER_BENCH_TRACEMALLOC_MATCH": "serve",
                "LEDGER_BENCH_TRACEMALLOC_FRAMES": "3",
            }
        # ``ledger webhooks run`` and ``ledger feeds worker`` take their storage from the environment
        side = stack.enter_context(
            SideProcesses(
                root,
                {
                    "dispatcher": (_ledger_command("webhooks", "run"), '"started"'),
                    "feeds-worker": (_ledger_command("feeds", "worker"), ""),
                },
            )
        )
        server_env |= {"LEDGER_FEEDS_POLL_SECONDS": "2"}
        server = stack.enter_context(
            ledger_server(
                root,
                schema.url,
                args.redis_url,
                args.workers,
                args.seal_interval_ms,
                server_env,
                on_initialized=side.start,
            )
        )
        stack.callback(side.stop)  # at the end: with the server and the sealer, not after them
        mark("sealer and API workers healthy")
        side.wait_ready()
        dispatcher, feeds_worker = side.processes["dispatcher"], side.processes["feeds-worker"]
        mark("dispatcher and feeds worker started")
        auth = create_partner(server, [*DEFAULT_SCOPES, "webhooks:manage"], prefix="soak")
        configure_feeds(server, auth["id"])
        mark("partner created, feeds configured")
        register_endpoint(server["url"], auth, hooks.url)
        mark("webhook endpoint registered")

        sampler.add_uvicorn(server["pids"][0])
        sampler.add("sealer", server["pids"][1])
        sampler.add("webhook dispatcher", dispatcher.pid)
        sampler.add("feeds worker", feeds_worker.pid)
        sampler.add("webhook receiver (harness)", hooks.pid, judged=False)
        sampler.add_finder("postgresql backends", postgres_backends(args.postgres_url, server["pg_application"]))
        redis = redis_pid(args.redis_url)
        if redis is not None:
            sampler.add("redis (shared)", redis, judged=False)
        yield {
            "server": server,
            "auth": auth,
            "hooks": hooks.pipe,
            "processes": {"dispatcher": dispatcher, "feeds worker": feeds_worker},
        }


def _keep_logs(root: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in root.glob("*.log"):
        shutil.copyfile(path, target / path.name)
