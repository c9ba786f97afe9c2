"""Client addresses through HTTP (issue 18, items 3 and 9): ``X-Forwarded-For`` believed only from
configured proxies, per-address limits that hold, and per-partner IP allowlists.

Two real servers on loopback with a tight ``anonymous`` policy (bursts of 3): one with the default
settings (no trusted proxy: the header changes nothing), one that trusts 127.0.0.1 as its proxy (the
test plays the proxy and writes the header a real one would).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from support.http_server import LiveServer, ledger_command, live_server

from api.client.ledger_client import LedgerClient
from api.security.credentials import PartnerCredentials

TIGHT_ANONYMOUS = {
    # A burst of 3, then one request per 10 s: the guesses below run out of it even when a loaded machine
    # answers each in a second or more (at 60 per minute a refill came between them under load).
    "LEDGER_RATE_LIMITS": json.dumps({"anonymous": [6, 3, None], "sandbox": [1_000_000, 100_000, None]})
}


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with no trusted proxy (the default)."""
    with live_server(tmp_path_factory.mktemp("direct") / "data", extra_env=TIGHT_ANONYMOUS) as live:
        yield live


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server behind a proxy at 127.0.0.1 (``LEDGER_TRUSTED_PROXIES``)."""
    env = {**TIGHT_ANONYMOUS, "LEDGER_TRUSTED_PROXIES": "127.0.0.1/32,::1"}
    with live_server(tmp_path_factory.mktemp("proxied") / "data", extra_env=env) as live:
        yield live


def bad_token_request(server: LiveServer, forwarded: str | None) -> httpx.Response:
    """A secret guess on ``/oauth/token``, optionally with an ``X-Forwarded-For`` header."""
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return httpx.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "partner_nobody", "client_secret": "guess"},
        headers=headers,
    )


def statuses_until_429(server: LiveServer, forwarded: list[str | None]) -> list[int]:
    return [bad_token_request(server, value).status_code for value in forwarded]


def test_rotating_x_forwarded_for_does_not_escape_the_per_address_limit(direct: LiveServer) -> None:
    """Without a trusted proxy, a new ``X-Forwarded-For`` per guess is the same client: 429 after 3."""
    statuses = statuses_until_429(direct, [f"198.51.100.{n}" for n in range(1, 9)])
    assert statuses[:3] == [401, 401, 401]
    assert 429 in statuses[3:], statuses


def test_behind_a_trusted_proxy_clients_get_their_own_buckets(proxied: LiveServer) -> None:
    """Behind the configured proxy: client A exhausts its bucket (429), client B is still answered 401;
    a spoofed hop to the left of A's real address does not give A a fresh one."""
    first = statuses_until_429(proxied, ["203.0.113.10"] * 6)
    assert first[:3] == [401, 401, 401]
    assert 429 in first[3:], first
    spoofed = bad_token_request(proxied, "192.0.2.99, 203.0.113.10")  # the client wrote the left entry
    assert spoofed.status_code == 429
    assert bad_token_request(proxied, "203.0.113.11").status_code == 401


def partner_client(server: LiveServer) -> tuple[PartnerCredentials, LedgerClient]:
    credentials = server.create_partner(f"ip_{uuid.uuid4().hex[:8]}")
    return credentials, server.client(credentials, max_retries=0)


def get_checkpoint(client: LedgerClient, forwarded: str) -> httpx.Response:
    headers = {**client.signed_headers("GET", "/api/v1/audit/checkpoint", "", b""), "X-Forwarded-For": forwarded}
    return client.http.get("/api/v1/audit/checkpoint", headers=headers)


def wait_for_status(client: LedgerClient, forwarded: str, status: int) -> httpx.Response:
    """The server's partner cache lasts a second: ask until the change shows (bounded)."""
    answer = get_checkpoint(client, forwarded)
    for _ in range(50):
        if answer.status_code == status:
            break
        time.sleep(0.1)
        answer = get_checkpoint(client, forwarded)
    return answer


def test_ip_allowlist_set_by_the_cli_refuses_other_addresses(proxied: LiveServer) -> None:
    """``ledger partners allow-ips``: from outside the list 403 IP_NOT_ALLOWED, inside it 200; ``clear-ips``
    lifts it. The address is the trusted-proxy rule's client address."""
    credentials, client = partner_client(proxied)
    partner_id = credentials.partner_id
    client.token()  # before the list: a token is issued from anywhere
    allowed = ledger_command("partners", "allow-ips", partner_id, "203.0.113.0/24", "2001:db8::/48", env=proxied.env)
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["ipAllowlist"] == ["203.0.113.0/24", "2001:db8::/48"]
    refused = wait_for_status(client, "198.51.100.7", 403)
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["details"]["address"]) == ("IP_NOT_ALLOWED", "198.51.100.7")
    assert get_checkpoint(client, "203.0.113.44").status_code == 200
    assert get_checkpoint(client, "2001:db8::5").status_code == 200
    outside_token = httpx.post(
        f"{proxied.url}/oauth/token",
        auth=(credentials.client_id, credentials.client_secret),
        data={"grant_type": "client_credentials"},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert outside_token.json()["error"]["code"] == "IP_NOT_ALLOWED"
    assert ledger_command("partners", "clear-ips", partner_id, env=proxied.env).returncode == 0
    assert wait_for_status(client, "198.51.100.7", 200).status_code == 200


def test_ip_allowlist_through_the_operations_api(proxied: LiveServer) -> None:
    """``PUT /api/v1/operations/partners/{id}/ip-allowlist`` sets it (logged on the partner); a bad CIDR is 400."""
    credentials, client = partner_client(proxied)
    partner_id = credentials.partner_id
    client.token()  # before the list
    operator = proxied.client(proxied.create_operator(f"ops_{uuid.uuid4().hex[:6]}"), max_retries=0)
    path = f"/api/v1/operations/partners/{partner_id}/ip-allowlist"

    def put(cidrs: list[str]) -> httpx.Response:
        body = json.dumps({"cidrs": cidrs}).encode()
        headers = {**operator.signed_headers("PUT", path, "", body), "Content-Type": "application/json"}
        return operator.http.put(path, content=body, headers=headers)

    assert put(["10.0.0.5/8"]).status_code == 400  # host bits set: a likely typo
    answer = put(["192.0.2.1"])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"partnerId": partner_id, "cidrs": ["192.0.2.1/32"]}
    assert wait_for_status(client, "192.0.2.2", 403).status_code == 403
    assert get_checkpoint(client, "192.0.2.1").status_code == 200
    assert put([]).status_code == 200
    assert wait_for_status(client, "192.0.2.2", 200).status_code == 200
