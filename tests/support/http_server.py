"""A real HTTP server in a subprocess (``python -m api.cli.serve serve``) for end-to-end tests.

The server binds port 0 on loopback and prints its URL; settings travel as ``LEDGER_*`` variables,
with test overrides: generous rate limits except for the ``limited`` partner (a tight policy, so a
429 is quick to reach and to recover from), a fast sealer, small body limits, and a version policy
(``v1`` deprecated with a sunset date, ``v0`` retired) to exercise the lifecycle headers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from adapters.files.master_key import MASTER_KEY_FILE, load_master_key
from adapters.files.signing_key import SIGNING_KEY_FILE, ensure_signing_key
from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from api.client.core import LedgerApiError
from api.client.ledger_client import LedgerClient
from api.security.credentials import DEFAULT_SCOPES, CredentialService, PartnerCredentials
from api.security.secrets import load_deployment_secret
from proofs import parse_body
from proofs.note import open_note, parse_vkey

LIMITED_PARTNER = "limited"
TIGHT = [60, 3, None]  # 60 per minute (one per second), bursts of 3, no daily cap
MAX_BODY = 65_536
VERSIONS = {
    "v1": {
        "deprecatedAt": "2026-01-01T00:00:00+00:00",
        "sunsetAt": "2031-01-01T00:00:00+00:00",
        "migration": "https://docs.proveniq.example/ledger/v2-migration",
    },
    "v0": {"retired": True, "migration": "https://docs.proveniq.example/ledger/v1-migration"},
}


def server_env(data_dir: Path, database_url: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a test server (and of CLI commands that must share its data directory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        {
            "LEDGER_DATA_DIR": str(data_dir),
            "LEDGER_RATE_LIMITS": json.dumps(
                {tier: [1_000_000, 100_000, None] for tier in ("sandbox", "standard", "enterprise", "anonymous")}
                | {"tight": TIGHT}
            ),
            "LEDGER_PARTNER_POLICIES": json.dumps({LIMITED_PARTNER: "tight"}),
            "LEDGER_SEAL_INTERVAL_MS": "5",
            "LEDGER_SEAL_WAIT_SECONDS": "10",
            "LEDGER_MAX_BODY_BYTES": str(MAX_BODY),
            "LEDGER_MAX_UPLOAD_BYTES": str(4 * MAX_BODY),
            "LEDGER_VERSIONS": json.dumps(VERSIONS),
            "LEDGER_LOG_LEVEL": "INFO",
            "LEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",  # receivers are on loopback
        }
    )
    if database_url is not None:
        env["LEDGER_DATABASE_URL"] = database_url
        if not any(name.startswith("LEDGER_MASTER_KEY") for name in extra or {}):  # the test names its own
            env.update(named_keys(data_dir))
    env.update(extra or {})
    return env


def named_keys(data_dir: Path) -> dict[str, str]:
    """A PostgreSQL deployment names its keys (adapters/key_sources.py): the data directory's key
    files, created if missing, named explicitly (so this test process, which opens the same ledger with
    the data directory's ``master.key``, and the server agree on the master key)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    load_master_key(data_dir)
    ensure_signing_key(data_dir)
    return {
        "LEDGER_SIGNING_KEY_FILE": str(data_dir / SIGNING_KEY_FILE),
        "LEDGER_MASTER_KEY_FILE": str(data_dir / MASTER_KEY_FILE),
    }


@dataclass
class LiveServer:
    """A running server subprocess and what tests need to talk to it."""

    url: str
    data_dir: Path
    database_url: str | None
    env: dict[str, str]
    process: subprocess.Popen[str]
    log_path: Path
    clients: list[LedgerClient] = field(default_factory=list)
    sealer: subprocess.Popen[str] | None = None
    banner: str = ""
    """What the server printed on stdout before it was listening (the sandbox credentials, once)."""

    def create_partner(
        self, partner_id: str, *, tier: str = "sandbox", scopes: Sequence[str] = DEFAULT_SCOPES
    ) -> PartnerCredentials:
        """Register a partner directly in the server's database (as ``ledger partners create`` does)."""
        with open_ledger(StorageConfig(self.data_dir, self.database_url)) as ledger:
            service = CredentialService(ledger, load_deployment_secret(self.data_dir))
            return service.create_partner(partner_id, partner_id, tier=tier, category="claims_software", scopes=scopes)

    def create_operator(self, operator_id: str = "ops") -> PartnerCredentials:
        """Register an operations principal (scope ``operations``), as ``ledger operators create`` does."""
        with open_ledger(StorageConfig(self.data_dir, self.database_url)) as ledger:
            service = CredentialService(ledger, load_deployment_secret(self.data_dir))
            return service.create_operator(operator_id, operator_id)

    def client(self, credentials: PartnerCredentials, **options: Any) -> LedgerClient:
        client = LedgerClient(
            self.url,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            api_key=credentials.api_key,
            api_secret=credentials.api_secret,
            **options,
        )
        self.clients.append(client)
        return client

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return lines

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kill_group(self.process)


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the server and every process of its session (uvicorn's workers too: no orphan left running)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def ledger_command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the server's command line (``python -m api.cli.serve``) to completion."""
    program = "api" if args and args[0] == "init" else "api.cli.serve"  # only `ledger` itself has init
    return subprocess.run([sys.executable, "-m", program, *args], capture_output=True, text=True, env=env, check=False)


@contextmanager
def live_server(
    data_dir: Path,
    database_url: str | None = None,
    *,
    args: Sequence[str] = (),
    extra_env: dict[str, str] | None = None,
    pass_fds: Sequence[int] = (),
) -> Iterator[LiveServer]:
    """Start a server on a free loopback port; yield it once ``/health`` answers; stop it afterwards.
    ``pass_fds``: descriptors the server inherits (a key handed over a pipe, ``LEDGER_*_FD``)."""
    env = server_env(data_dir, database_url, extra_env)
    log_path = data_dir.parent / f"{data_dir.name}-server.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli.serve", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            pass_fds=tuple(pass_fds),
            start_new_session=True,  # its own process group: kill_group reaches the workers
        )
    server: LiveServer | None = None
    try:
        url, banner = _wait_for_url(process, log_path)
        _wait_for_health(url, process, log_path)
        server = LiveServer(url, data_dir, database_url, env, process, log_path, banner=banner)
        yield server
    finally:
        if server is not None:
            server.stop()
        elif process.poll() is None:
            kill_group(process)
        if process.stdout is not None:  # the pipe the URL and banner were read from
            process.stdout.close()


def _wait_for_url(process: subprocess.Popen[str], log_path: Path) -> tuple[str, str]:
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    printed: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited early: {log_path.read_text()[-3000:]}")
        try:
            event = json.loads(line)
        except ValueError:
            printed.append(line)
            continue
        if isinstance(event, dict) and event.get("event") == "listening":
            return str(event["url"]), "".join(printed)
        printed.append(line)
    raise RuntimeError("server did not report its URL")


def _wait_for_health(url: str, process: subprocess.Popen[str], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"server never became healthy: {log_path.read_text()[-3000:]}")


@contextmanager
def external_sealer(data_dir: Path, database_url: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``ledger init`` then ``ledger sealer`` as its own process (the PostgreSQL topology); yields once its key
    exists."""
    data_dir.mkdir(parents=True, exist_ok=True)
    where = ["--data-dir", str(data_dir), "--database-url", database_url]
    subprocess.run([sys.executable, "-m", "api", "init", *where], env=env, check=True, capture_output=True)
    log_path = data_dir.parent / f"{data_dir.name}-sealer.log"
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
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
                "0.005",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while '"started"' not in log_path.read_text(encoding="utf-8"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sealer did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def backend_server(
    kind: str,
    root: Path,
    postgres_url: str | None = None,
    redis_url: str | None = None,
    redis_prefix: str = "test:",
    extra_env: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    """SQLite: the embedded default (one process, in-process stores). PostgreSQL: a separate sealer
    process, the server with ``--no-embedded-sealer``, and Redis for limits, replay and idempotency."""
    data_dir = root / "data"
    if kind == "sqlite":
        with live_server(data_dir, extra_env=extra_env) as server:
            yield server
        return
    assert postgres_url is not None
    assert redis_url is not None
    # A short seal wait: the separate sealer polls every 5 ms, and the in-flight test pauses it on purpose.
    extra = {
        **(extra_env or {}),
        "LEDGER_REDIS_URL": redis_url,
        "LEDGER_REDIS_PREFIX": redis_prefix,
        "LEDGER_SEAL_WAIT_SECONDS": "2",
    }
    env = server_env(data_dir, postgres_url, extra)
    with (
        external_sealer(data_dir, postgres_url, env) as sealer,
        live_server(data_dir, postgres_url, args=["--no-embedded-sealer"], extra_env=extra) as server,
    ):
        server.sealer = sealer
        yield server


def servers(
    request: Any, tmp_path_factory: Any, kind: str, extra_env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Body of a module-scoped, backend-parametrized ``server`` fixture (``yield from servers(...)``)."""
    import uuid

    from support.databases import fresh_database

    root = tmp_path_factory.mktemp(f"http-{kind}")
    if kind == "sqlite":
        with backend_server("sqlite", root, extra_env=extra_env) as server:
            yield server
        return
    postgres = request.getfixturevalue("postgres_server")
    redis_url = request.getfixturevalue("redis_server")
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    try:
        with (
            fresh_database("postgresql", postgres) as url,
            backend_server("postgresql", root, url, redis_url, prefix, extra_env) as server,
        ):
            yield server
    finally:
        import redis

        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def claim_body(
    partner_claim_id: str, documents: Sequence[dict[str, Any]] = (), amount: Any = "1250.00"
) -> dict[str, Any]:
    """A seed 5.1 ClaimSubmission."""
    return {
        "partnerClaimId": partner_claim_id,
        "claimType": "auto",
        "claimAmount": amount,
        "currency": "USD",
        "submittedAt": "2026-01-15T14:30:00Z",
        "documents": list(documents),
        "verificationLevel": "standard",
    }


def first_sealed_size(client: LedgerClient, timeout: float = 30.0) -> int:
    """The size of the first checkpoint, once the sealer made one (within its interval of the first entries).

    A test that proves consistency from an early tree size takes it from here: which sizes get a checkpoint
    depends on when the sealer runs, so no particular size (such as 1) is guaranteed to have one.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return parse_body(open_note(client.checkpoint(), [parse_vkey(client.public_key())])[0]).size
        except LedgerApiError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
