"""The multi-host topology (issue 18, item 12): hosts as network namespaces on this machine, driven end to end.

Hosts (tests/support/netns.py): ``api1`` and ``api2`` (``ledger serve --no-embedded-sealer``, Redis for
rate limits / replay / idempotency), ``writer`` and ``standby`` (each ``ledger sealer`` and ``ledger
webhooks run``; sealer leadership is the PostgreSQL advisory lock). Each host has its own data directory
and reaches PostgreSQL and Redis over its veth link, through forwarders on the bridge address; the keys
come from a secrets directory (item 11), the API hosts hold no signing key (they publish ``LEDGER_VKEY``).
The webhook receiver listens on the bridge address (https, a certificate from a test CA the dispatchers
are given with ``LEDGER_WEBHOOK_CA_FILE``).

The test: signed claims through both API hosts while the writer host is SIGKILLed (every process of its
namespace) and, later, ``api2``'s link is cut then restored. Then: every acknowledged (2xx) claim is in
the log with an inclusion proof that verifies offline against the vkey; the standby took over (its
sealer leads and new checkpoints appear after the kill); ``ledger verify`` passes; every acknowledged
claim's webhook reached the receiver at least once.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import trustme
from support.http_server import claim_body, server_env
from support.netns import Host, Network, forwarder, netns_unavailable, network, wait_listening
from support.webhook_receiver import Receiver, webhook_receiver

from api.client.ledger_client import LedgerApiError, LedgerClient
from api.security.credentials import DEFAULT_SCOPES, PartnerCredentials
from api.security.secrets import load_token_key

LEDGER = str(Path(sys.executable).parent / "ledger")
HOSTS = ("api1", "api2", "writer", "standby")
API_PORT = 8000
CLAIM_EVENTS = {"claim.verified", "claim.fraud_detected"}


@pytest.fixture(scope="module", autouse=True)
def _namespaces_possible() -> None:
    reason = netns_unavailable()
    if reason is not None:
        if os.environ.get("LEDGER_REQUIRE_NETNS") == "1":
            pytest.fail(f"LEDGER_REQUIRE_NETNS=1 but {reason}")
        pytest.skip(f"multi-host test skipped: {reason}")


def _run(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([LEDGER, *args], capture_output=True, text=True, env=env, check=False, timeout=120)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def _via(url: str, address: str, port: int) -> str:
    """``url`` with its host and port replaced (the forwarder on the bridge instead of 127.0.0.1)."""
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}{address}:{port}"))


@dataclass
class Load:
    """Claims submitted in a background thread, alternating between the API hosts; what was acknowledged."""

    clients: dict[str, LedgerClient]
    acknowledged: dict[str, str] = field(default_factory=dict)
    """claim id -> the API host that answered 2xx."""
    failed: dict[str, int] = field(default_factory=dict)
    """API host -> requests that got no 2xx (connection lost, timeout, 5xx): not acknowledged, not counted."""
    stop: threading.Event = field(default_factory=threading.Event)
    progress: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            for host, client in self.clients.items():
                number += 1
                try:  # a claim with a document: it is verified, so it has a claim.verified webhook
                    content = f"photo {number} {uuid.uuid4()}".encode()
                    document = client.upload_document(content, document_type="photo", media_type="image/jpeg")
                    documents = [{"type": "photo", "hash": document.hash, "metadata": {}}]
                    result = client.submit_claim(claim_body(f"CLM-HOSTS-{number}", documents))
                except (LedgerApiError, httpx.HTTPError):
                    self.failed[host] = self.failed.get(host, 0) + 1
                    continue
                with self.progress:
                    self.acknowledged[result.claim_id] = host
                    self.progress.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.progress:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"load: {what} not reached; acknowledged {len(self.acknowledged)}")
                self.progress.wait(remaining)

    def through(self, host: str) -> int:
        return sum(1 for answered in self.acknowledged.values() if answered == host)


@dataclass
class Topology:
    net: Network
    logs: Path
    env: dict[str, dict[str, str]]
    """Each host's environment, and ``admin``: administrative commands run from the root namespace."""
    vkey: str
    tls: ssl.SSLContext
    """The webhook receiver's TLS (a certificate for the bridge address from the CA the dispatchers trust)."""

    def host(self, name: str) -> Host:
        return self.net.hosts[name]

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.host(name).spawn([LEDGER, *args], env=self.env[name], log=self.logs / f"{name}-{args[0]}.log")

    def events(self, name: str) -> list[dict[str, Any]]:
        """The JSON events ``ledger sealer`` printed on host ``name``."""
        lines = (self.logs / f"{name}-sealer.log").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith('{"')]

    def wait_event(self, name: str, event: str, timeout: float, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("event") == event for e in self.events(name)[after:]):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: no {event!r} event: {self.tail()}")
            time.sleep(0.1)

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in sorted(self.logs.iterdir()))


@contextmanager
def topology(tmp_path: Path, postgres_url: str, redis_url: str, redis_prefix: str) -> Iterator[Topology]:
    """Secrets, the ledger, four hosts with their processes; all stopped and removed on exit."""
    secrets_dir = tmp_path / "run-secrets"
    signing_key, master_key = secrets_dir / "checkpoint.key", secrets_dir / "master.key"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    _run("keys", "create", "--signing-key", str(signing_key), "--master-key", str(master_key), env=clean)
    load_token_key(secrets_dir)  # the access-token key every API host signs and checks tokens with
    shared = {
        "LEDGER_MASTER_KEY_FILE": str(master_key),
        "LEDGER_TOKEN_KEY_FILE": str(secrets_dir / "token.key"),
        "LEDGER_DEPLOYMENT_SECRET": base64.b64encode(secrets.token_bytes(32)).decode(),
        "LEDGER_REDIS_PREFIX": redis_prefix,
        "LEDGER_EMBEDDED_WEBHOOKS": "0",
        "LEDGER_WEBHOOK_RETRY_SCALE": "0.002",  # the retry schedule in fractions of a second
        "LEDGER_WEBHOOK_TIMEOUT_SECONDS": "5",
        "LEDGER_SEAL_WAIT_SECONDS": "3",
        "LEDGER_WEBHOOK_CA_FILE": str(secrets_dir / "webhook-ca.pem"),  # targets are https only, verified
    }
    authority = trustme.CA()
    authority.cert_pem.write_to_path(shared["LEDGER_WEBHOOK_CA_FILE"])
    root_env = server_env(tmp_path / "admin", postgres_url, shared | {"LEDGER_SIGNING_KEY_FILE": str(signing_key)})
    init = json.loads(_run("init", env=root_env))
    logs = tmp_path / "logs"
    logs.mkdir()
    with ExitStack() as stack:
        net = stack.enter_context(network(HOSTS))
        database = stack.enter_context(forwarder((net.gateway, 0), _address(postgres_url)))
        cache = stack.enter_context(forwarder((net.gateway, 0), _address(redis_url)))
        hosts_env = shared | {
            "LEDGER_REDIS_URL": _via(redis_url, net.gateway, cache.port),
            "LEDGER_VKEY": init["vkey"],
        }
        env: dict[str, dict[str, str]] = {"admin": root_env}  # administrative commands, from the root namespace
        for name in HOSTS:
            extra = dict(hosts_env)
            if name in ("writer", "standby"):  # the sealing hosts alone hold the signing key
                extra |= {
                    "LEDGER_SIGNING_KEY_FILE": str(signing_key),
                    "LEDGER_PUBLISHED_CHECKPOINT_FILE": str(tmp_path / name / "checkpoint.published"),
                }
            env[name] = server_env(tmp_path / name, _via(postgres_url, net.gateway, database.port), extra)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        authority.issue_cert(net.gateway).configure_cert(tls)
        yield Topology(net, logs, env, init["vkey"], tls)


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 0


def _start_hosts(hosts: Topology) -> None:
    """The writer's sealer first (it leads), then the standby's; a webhook worker on each; both API hosts."""
    sealer = ("sealer", "--poll-interval", "0.05", "--interval-ms", "20")
    hosts.start("writer", *sealer)
    hosts.wait_event("writer", "leader", timeout=60)
    hosts.start("standby", *sealer)
    for name in ("writer", "standby"):
        hosts.start(name, "webhooks", "run")
    servers = {name: hosts.start(name, "serve", "--host", "0.0.0.0", "--port", str(API_PORT), "--no-embedded-sealer")
               for name in ("api1", "api2")}  # fmt: skip
    for name, process in servers.items():
        wait_listening(hosts.host(name).address, API_PORT, process, timeout=90)
    hosts.wait_event("standby", "waiting", timeout=60)


def _partner(hosts: Topology) -> PartnerCredentials:
    scopes = [item for scope in (*DEFAULT_SCOPES, "webhooks:manage") for item in ("--scope", scope)]
    made = json.loads(_run("partners", "create", "Multi Host Mutual", *scopes, env=hosts.env["admin"]))
    return PartnerCredentials(
        made["partnerId"], made["clientId"], made["clientSecret"], made["apiKey"], made["apiSecret"],
        made["tier"], tuple(made["scopes"]),
    )  # fmt: skip


def _checkpoint_size(client: LedgerClient) -> int:
    return int(client.checkpoint().splitlines()[1])


def _claim_ids(received: list[Any]) -> set[str]:
    bodies = [json.loads(r.body) for r in received]
    return {body["data"]["claim_id"] for body in bodies if body["type"] in CLAIM_EVENTS}


def test_two_api_hosts_a_killed_writer_and_a_cut_link(
    tmp_path: Path, postgres_url: str, redis_server: str, redis_prefix: str
) -> None:
    with topology(tmp_path, postgres_url, redis_server, redis_prefix) as hosts:
        _start_hosts(hosts)
        credentials = _partner(hosts)
        clients = {name: LedgerClient(f"http://{hosts.host(name).address}:{API_PORT}", client_id=credentials.client_id,
                                      client_secret=credentials.client_secret, api_key=credentials.api_key,
                                      api_secret=credentials.api_secret, timeout=5.0, max_retries=1, backoff=0.1)
                   for name in ("api1", "api2")}  # fmt: skip
        with ExitStack() as closing:
            for client in clients.values():
                closing.callback(client.close)
            receiver = closing.enter_context(
                webhook_receiver(tls=hosts.tls, host=hosts.net.gateway, bind=hosts.net.gateway)
            )
            clients["api1"].create_webhook_endpoint(receiver.url, sorted(CLAIM_EVENTS))
            load = Load(clients)
            worker = threading.Thread(target=load.run, name="load", daemon=True)
            worker.start()
            try:
                _drive(hosts, load, clients["api1"])
            finally:
                load.stop.set()
                worker.join(60)
            _check(hosts, load, clients, receiver)


def _drive(hosts: Topology, load: Load, observer: LedgerClient) -> None:
    """Kill the writer under load, wait for the standby to lead and seal, cut api2's link, restore it."""
    load.wait_for(lambda: len(load.acknowledged) >= 6, timeout=60, what="6 claims before the kill")
    killed = hosts.host("writer").kill_all()
    assert len(killed) >= 2, "the writer host runs a sealer and a webhook worker"
    at_kill = _checkpoint_size(observer)
    hosts.wait_event("standby", "leader", timeout=60)
    before_cut = len(load.acknowledged)
    load.wait_for(lambda: len(load.acknowledged) >= before_cut + 6, timeout=60, what="6 claims after the kill")
    deadline = time.monotonic() + 60
    while _checkpoint_size(observer) <= at_kill:  # the standby signs new checkpoints
        assert time.monotonic() < deadline, f"no checkpoint after {at_kill} since the kill: {hosts.tail()}"
        time.sleep(0.1)
    failed_before = load.failed.get("api2", 0)
    hosts.host("api2").cut()
    try:
        load.wait_for(lambda: load.failed.get("api2", 0) > failed_before, timeout=60, what="a request lost in the cut")
    finally:
        hosts.host("api2").restore()
    through_api2 = load.through("api2")
    load.wait_for(lambda: load.through("api2") >= through_api2 + 3, timeout=60, what="api2 answering again")


def _check(hosts: Topology, load: Load, clients: dict[str, LedgerClient], receiver: Receiver) -> None:
    acknowledged = dict(load.acknowledged)
    assert load.through("api1") > 0, "api1 acknowledged claims"
    assert load.through("api2") > 0, "api2 acknowledged claims"
    reader = clients["api2"]
    for claim_id in acknowledged:  # each with its proof (a 202 answered before sealing gets it once sealed)
        deadline = time.monotonic() + 60
        while (proof := reader.get_claim_proof(claim_id).proof) is None:
            assert time.monotonic() < deadline, f"claim {claim_id} never got a proof"
            time.sleep(0.1)
        reader.verify_proof_offline(proof, hosts.vkey)
    leaders = [e for e in hosts.events("standby") if e.get("event") == "leader"]
    assert leaders, "the standby took the sealer lock"
    assert any(e.get("event") == "sealed" for e in hosts.events("standby")), "the standby signed checkpoints"
    for name in HOSTS:  # keys apart from data: no host's data directory holds a key
        data_dir = Path(hosts.env[name]["LEDGER_DATA_DIR"])
        assert not [key for key in ("checkpoint.key", "master.key") if (data_dir / key).exists()], name
    verified = json.loads(_run("verify", env=hosts.env["admin"]))
    assert verified["tree"]["signaturesChecked"] is True
    assert verified["tree"]["integratedSize"] >= len(acknowledged)
    try:
        received = receiver.wait_for(lambda got: set(acknowledged) <= _claim_ids(got), timeout=60)
    except AssertionError as missing:
        deliveries = _run("webhooks", "status", env=hosts.env["admin"])
        raise AssertionError(f"{missing}; deliveries per status: {deliveries}\n{hosts.tail()}") from None
    assert set(acknowledged) <= _claim_ids(received)  # every acknowledged claim's webhook, at least once
