"""The API key rotation schedule through HTTP (issue 18 item 9, seed 000 §6.1): a maximum key age set by the
operations API and the CLI, ``X-API-Key-Expires`` on responses, one ``audit.alert`` webhook in the warning
window, and 401 ``AUTH_KEY_EXPIRED`` once the key is too old (a rotated key works again)."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from support.http_server import LiveServer, ledger_command, live_server
from support.webhook_receiver import Received, webhook_receiver

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from api.client.ledger_client import LedgerApiError, LedgerClient
from api.security.credentials import DEFAULT_SCOPES, CredentialService, PartnerCredentials
from api.security.secrets import load_deployment_secret
from ledger_core.shared.validation import parse_timestamp

SCOPES = (*DEFAULT_SCOPES, "webhooks:manage")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("keys") / "data") as running:
        yield running


def partner_issued(server: LiveServer, days_ago: int) -> PartnerCredentials:
    """A partner whose credentials were issued ``days_ago`` days ago (a ledger opened on that day's clock)."""
    issued = datetime.now(UTC) - timedelta(days=days_ago)
    with open_ledger(StorageConfig(server.data_dir, server.database_url), clock=lambda: issued) as ledger:
        service = CredentialService(ledger, load_deployment_secret(server.data_dir))
        partner_id = f"p_{uuid.uuid4().hex[:10]}"
        return service.create_partner(partner_id, partner_id, tier="sandbox", category="claims_software", scopes=SCOPES)


def expires_header(client: LedgerClient) -> str | None:
    assert client.last_response is not None
    value = client.last_response.headers.get("x-api-key-expires")
    return None if value is None else str(value)


def refused_within(client: LedgerClient, seconds: float = 10.0) -> LedgerApiError:
    """The refusal once the server sees the new schedule (its partner cache lives one second)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            client.list_webhook_endpoints()
        except LedgerApiError as refused:
            return refused
        time.sleep(0.2)
    raise AssertionError("the key was never refused")


def accepted_within(client: LedgerClient, seconds: float = 10.0) -> None:
    """A request that succeeds once the server sees a rotated key (its partner cache lives one second)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.list_webhook_endpoints()
            return
        except LedgerApiError as refused:
            if refused.status != 401 or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def is_key_alert(received: Received) -> bool:
    body = json.loads(received.body)
    return bool(body["type"] == "audit.alert" and body["data"]["alert"] == "api_key_expiring")


def test_warning_header_alert_then_refusal(server: LiveServer) -> None:
    """Max age 30 days on a 25-day-old key (inside the last 7.5 days): X-API-Key-Expires on responses and one
    audit.alert; max age 10 days: 401 AUTH_KEY_EXPIRED with details.expired_at; the rotated key works."""
    credentials = partner_issued(server, days_ago=25)
    operator = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    client = server.client(credentials)
    with webhook_receiver() as receiver:
        client.create_webhook_endpoint(receiver.url, ["audit.alert"])
        assert expires_header(client) is None  # no schedule yet, no deadline

        policy = operator.set_key_max_age(credentials.partner_id, 30)
        [key] = policy.keys
        assert (policy.max_age_days, key.key_id) == (30, credentials.api_key)
        assert key.expires_at is not None
        assert key.warn_from is not None
        issued = parse_timestamp(key.issued_at, "issuedAt")
        assert parse_timestamp(key.expires_at, "expiresAt") - issued == timedelta(days=30)
        assert parse_timestamp(key.expires_at, "expiresAt") - parse_timestamp(key.warn_from, "warnFrom") == timedelta(
            days=7, hours=12
        )  # a quarter of 30 days: shorter than 14 days

        time.sleep(1.1)  # the server's partner cache
        client.list_webhook_endpoints()
        assert expires_header(client) == key.expires_at
        [alert] = receiver.wait_for(lambda got: any(is_key_alert(r) for r in got))
        data = json.loads(alert.body)["data"]
        assert (data["key_id"], data["expires_at"]) == (credentials.api_key, key.expires_at)
        client.list_webhook_endpoints()
        assert operator.get_key_policy(credentials.partner_id).keys[0].warned is True

    done = ledger_command("partners", "key-max-age", credentials.partner_id, "10", env=server.env)
    assert done.returncode == 0, done.stderr
    refused = refused_within(client)
    assert (refused.status, refused.code) == (401, "AUTH_KEY_EXPIRED")
    assert refused.details["expired_at"] == operator.get_key_policy(credentials.partner_id).keys[0].expires_at

    rotated = ledger_command("partners", "rotate-key", credentials.partner_id, "--overlap-hours", "0", env=server.env)
    assert rotated.returncode == 0, rotated.stderr
    fresh = json.loads(rotated.stdout)
    renewed = server.client(dataclasses.replace(credentials, api_key=fresh["apiKey"], api_secret=fresh["apiSecret"]))
    accepted_within(renewed)
    header = expires_header(renewed)
    assert header is not None
    assert parse_timestamp(header, "X-API-Key-Expires") > datetime.now(UTC) + timedelta(days=9)


def test_key_policy_is_operations_only_and_validated(server: LiveServer) -> None:
    """A partner cannot set its own schedule (403); out-of-range ages are 400 VALIDATION_ERROR; null clears."""
    credentials = partner_issued(server, days_ago=0)
    client = server.client(credentials)
    with pytest.raises(LedgerApiError) as forbidden:
        client.set_key_max_age(credentials.partner_id, 3650)
    assert forbidden.value.status == 403
    operator = server.client(server.create_operator(f"ops_{uuid.uuid4().hex[:8]}"))
    for bad in (0, 3651):
        with pytest.raises(LedgerApiError) as invalid:
            operator.set_key_max_age(credentials.partner_id, bad)
        assert (invalid.value.status, invalid.value.code) == (400, "VALIDATION_ERROR")
    assert operator.set_key_max_age(credentials.partner_id, 90).keys[0].expires_at is not None
    cleared = operator.set_key_max_age(credentials.partner_id, None)
    assert cleared.max_age_days is None
    assert cleared.keys[0].expires_at is None
