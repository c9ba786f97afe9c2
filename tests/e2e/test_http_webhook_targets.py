"""Webhook targets through HTTP (issue 18, items 4 and 9): internal hosts refused at registration in every
numeric spelling, a refused delivery logged for the partner without the resolved address (operators get it),
and TLS: verified against the configured CA, 1.2 at least, the negotiated version in the delivery log."""

from __future__ import annotations

import json
import socket
import ssl
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from support.http_server import LiveServer, claim_body, live_server
from support.webhook_receiver import webhook_receiver

from adapters.opening import open_ledger
from adapters.storage import StorageConfig, open_outbox
from adapters.webhook_management import WebhookManager
from adapters.webhook_targets import REGISTRATION_MESSAGE, TARGET_NOT_ALLOWED
from api.client.ledger_client import LedgerApiError, LedgerClient
from api.security.credentials import DEFAULT_SCOPES
from api.security.secrets import load_deployment_secret

SCOPES = (*DEFAULT_SCOPES, "webhooks:manage")
INTERNAL_SPELLINGS = [
    "https://LOCALHOST./hooks",
    "https://localhost/hooks",
    "https://2130706433/hooks",
    "https://0x7f000001/hooks",
    "https://0177.0.0.1/hooks",
    "https://127.1/hooks",
    "https://127.0.0.1./hooks",
    "https://[::127.0.0.1]/hooks",
    "https://[::ffff:7f00:1]/hooks",
    "https://[64:ff9b::a00:1]/hooks",
    "https://0xa9.0xfe.0xa9.0xfe/latest/meta-data",
    "https://10.1/hooks",
    "https://no-such-host.invalid/hooks",
]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with the SSRF guard on (as a server deployment has it), retries a thousand times faster."""
    extra = {"LEDGER_WEBHOOK_ALLOW_PRIVATE_TARGETS": "0", "LEDGER_WEBHOOK_RETRY_SCALE": "0.001"}
    with live_server(tmp_path_factory.mktemp("guarded") / "data", extra_env=extra) as server:
        yield server


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, ca_file: Path) -> Iterator[LiveServer]:
    """A development server (loopback receivers allowed) trusting the test CA for webhook targets."""
    extra = {"LEDGER_WEBHOOK_CA_FILE": str(ca_file), "LEDGER_WEBHOOK_RETRY_SCALE": "0.001"}
    with live_server(tmp_path_factory.mktemp("tls") / "data", extra_env=extra) as server:
        yield server


def partner(server: LiveServer) -> tuple[str, LedgerClient]:
    partner_id = f"p_{uuid.uuid4().hex[:10]}"
    return partner_id, server.client(server.create_partner(partner_id, scopes=SCOPES))


def submit(client: LedgerClient) -> None:
    document = client.upload_document(b"photo " + uuid.uuid4().bytes, document_type="photo", media_type="image/jpeg")
    docs = [{"type": "photo", "hash": document.hash, "metadata": {}}]
    client.submit_claim(claim_body(f"CLM-{uuid.uuid4().hex[:8]}", docs))


def first_attempts(client: LedgerClient, endpoint_id: str) -> list[Any]:
    """The attempts of the endpoint's oldest delivery, once it has one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        deliveries = client.list_webhook_deliveries(endpoint_id).data
        if deliveries and deliveries[-1].attempts:
            return client.get_webhook_delivery(endpoint_id, deliveries[-1].delivery_id).attempts
        time.sleep(0.05)
    raise AssertionError("no attempt recorded")


def server_context(ca: trustme.CA, *, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    if maximum is not None and maximum >= ssl.TLSVersion.TLSv1_2:
        context.maximum_version = maximum
    elif maximum is not None:  # an obsolete server on purpose: Python warns that these versions are deprecated
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = maximum
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS < 1.2 at the default level
    return context


@pytest.mark.parametrize("url", INTERNAL_SPELLINGS)
def test_registration_refuses_internal_hosts_in_every_spelling(guarded: LiveServer, url: str) -> None:
    """Decimal, hex, octal, shortened, IPv6-embedded, trailing-dot and upper-case forms of internal hosts, and
    unresolvable names, are refused alike, with one message that names no address."""
    _, client = partner(guarded)
    with pytest.raises(LedgerApiError) as refused:
        client.create_webhook_endpoint(url, ["claim.verified"])
    assert (refused.value.status, refused.value.code) == (400, "VALIDATION_ERROR")
    assert refused.value.message == REGISTRATION_MESSAGE
    assert "127." not in json.dumps(refused.value.details)
    assert client.list_webhook_endpoints().data == []


def test_registration_refuses_hosts_file_names(guarded: LiveServer) -> None:
    """This machine's own name (from the hosts file) resolves to a non-public address: refused too."""
    name = socket.gethostname()
    addresses = {str(info[4][0]) for info in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)}
    if any(not address.startswith(("127.", "10.", "172.", "192.168.", "::1", "fe80")) for address in addresses):
        pytest.skip(f"{name} resolves to a public address here")
    _, client = partner(guarded)
    with pytest.raises(LedgerApiError) as refused:
        client.create_webhook_endpoint(f"https://{name.upper()}./hooks", ["claim.verified"])
    assert refused.value.message == REGISTRATION_MESSAGE


def test_refused_delivery_tells_the_partner_no_address(guarded: LiveServer) -> None:
    """An endpoint an operator registered (the CLI allows any target) that resolves to loopback is refused by
    the dispatcher; the partner's delivery log says only "not allowed", the operators' log has the address."""
    partner_id, client = partner(guarded)
    config = StorageConfig(guarded.data_dir, guarded.database_url)
    with open_ledger(config) as ledger:
        outbox = open_outbox(config)
        try:
            manager = WebhookManager(
                ledger.partners, outbox, load_deployment_secret(guarded.data_dir), allow_private=True
            )
            endpoint = manager.create(partner_id, "https://LOCALHOST.:9/hooks", ["claim.verified"]).endpoint
        finally:
            outbox.close()
    submit(client)
    attempts = first_attempts(client, endpoint.endpoint_id)
    assert attempts[0].error == f"refused: {TARGET_NOT_ALLOWED}"
    deliveries = client.list_webhook_deliveries(endpoint.endpoint_id).data
    shown = json.dumps([a.error for a in attempts] + [d.last_error for d in deliveries])
    assert "127.0.0.1" not in shown
    assert "::1" not in shown
    refusals = [line for line in guarded.log_lines() if line.get("webhooks", {}).get("event") == "refused"]
    assert any("127.0.0.1" in line["webhooks"]["detail"] or "::1" in line["webhooks"]["detail"] for line in refusals)


def test_tls_13_is_negotiated_and_recorded(tls_server: LiveServer, ca: trustme.CA) -> None:
    """A receiver with a certificate from the configured CA gets the delivery; the log records TLSv1.3."""
    _, client = partner(tls_server)
    with webhook_receiver(tls=server_context(ca), host="localhost") as receiver:
        endpoint = client.create_webhook_endpoint(receiver.url, ["claim.verified"]).endpoint
        submit(client)
        receiver.wait_count(1)
        attempts = first_attempts(client, endpoint.endpoint_id)
    assert (attempts[0].status_code, attempts[0].tls_version, attempts[0].error) == (200, "TLSv1.3", None)


def test_tls_12_is_accepted_and_recorded(tls_server: LiveServer, ca: trustme.CA) -> None:
    """A receiver that stops at TLS 1.2 is still served, and the log says so."""
    _, client = partner(tls_server)
    with webhook_receiver(tls=server_context(ca, maximum=ssl.TLSVersion.TLSv1_2), host="localhost") as receiver:
        endpoint = client.create_webhook_endpoint(receiver.url, ["claim.verified"]).endpoint
        submit(client)
        receiver.wait_count(1)
        attempts = first_attempts(client, endpoint.endpoint_id)
    assert (attempts[0].status_code, attempts[0].tls_version) == (200, "TLSv1.2")


@pytest.mark.parametrize("maximum", [ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1])
def test_tls_below_12_is_refused(tls_server: LiveServer, ca: trustme.CA, maximum: ssl.TLSVersion) -> None:
    """A receiver offering only TLS 1.1 or 1.0 never gets the body: the handshake fails and is logged as such."""
    _, client = partner(tls_server)
    with webhook_receiver(tls=server_context(ca, maximum=maximum), host="localhost") as receiver:
        endpoint = client.create_webhook_endpoint(receiver.url, ["claim.verified"]).endpoint
        submit(client)
        attempts = first_attempts(client, endpoint.endpoint_id)
        assert receiver.received == []
    assert attempts[0].status_code is None
    assert attempts[0].tls_version is None
    assert str(attempts[0].error).startswith("TLS handshake failed")


def test_untrusted_certificate_is_refused(tls_server: LiveServer) -> None:
    """A certificate from another CA fails verification: nothing is sent."""
    _, client = partner(tls_server)
    with webhook_receiver(tls=server_context(trustme.CA()), host="localhost") as receiver:
        endpoint = client.create_webhook_endpoint(receiver.url, ["claim.verified"]).endpoint
        submit(client)
        attempts = first_attempts(client, endpoint.endpoint_id)
        assert receiver.received == []
    assert attempts[0].error == "TLS handshake failed (CERTIFICATE_VERIFY_FAILED)"
