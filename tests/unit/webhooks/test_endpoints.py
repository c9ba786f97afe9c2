"""Endpoint secrets rotation on the Partner aggregate, and the deployment's target rules for URLs."""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from adapters.webhook_management import check_target
from adapters.webhook_targets import (
    TARGET_NOT_ALLOWED,
    TargetPolicy,
    TargetRefused,
    canonical_host,
    is_public,
    partner_error,
)
from ledger_core.engine.errors import InvalidCommand
from ledger_core.partners.access import WebhookSettings
from ledger_core.partners.partner import Partner

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
HOOK: WebhookSettings = {
    "url": "https://partner.example/hooks",
    "event_types": ["claim.verified"],
    "secret_id": "whs_1",
}


def partner() -> Partner:
    p = Partner.register(partner_id="acme", name="Acme", category="insurance_carrier", tier="sandbox", scopes=[])
    p.add_webhook("ep1", **HOOK)
    return p


def test_rotation_keeps_the_old_secret_for_the_overlap() -> None:
    """After rotating, both secret ids sign until the overlap ends, then only the new one."""
    p = partner()
    p.rotate_webhook_secret("ep1", secret_id="whs_2", at=NOW, overlap=timedelta(hours=24))
    endpoint = p.webhooks["ep1"]
    assert endpoint.signing_secret_ids(NOW) == ["whs_2", "whs_1"]
    assert endpoint.signing_secret_ids(NOW + timedelta(hours=24)) == ["whs_2"]
    assert isinstance(p.pending_events[-1], Partner.WebhookSecretRotated)
    assert p.pending_events[-1].EVENT_TYPE == "partner.webhook_secret_rotated"


def test_rotation_refuses_reused_ids_and_long_overlaps() -> None:
    """A secret id is never reused, and the overlap is 0 to 30 days."""
    p = partner()
    with pytest.raises(InvalidCommand):
        p.rotate_webhook_secret("ep1", secret_id="whs_1", at=NOW)
    with pytest.raises(InvalidCommand):
        p.rotate_webhook_secret("ep1", secret_id="whs_3", at=NOW, overlap=timedelta(days=31))


@pytest.mark.parametrize(
    "url",
    [
        "http://partner.example/hooks",
        "https://127.0.0.1/hooks",
        "https://10.0.0.8/hooks",
        "https://[::1]/hooks",
        "https://localhost/hooks",
        "https://169.254.169.254/latest",
    ],
)
def test_private_and_plain_http_targets_are_refused_in_production(url: str) -> None:
    """Without allow_private: https only, and no loopback, private or link-local literal hosts."""
    with pytest.raises(InvalidCommand):
        check_target(url, allow_private=False)
    check_target(url, allow_private=True)


def test_public_https_targets_are_accepted() -> None:
    """A public https URL passes (its name is resolved now and checked again before each attempt)."""
    check_target("https://hooks.partner.example/proveniq", allow_private=False, lookup=lambda _h, _p: ["8.8.4.4"])
    check_target("https://8.8.8.8/hooks", allow_private=False)


def test_dispatcher_resolves_and_refuses_private_targets() -> None:
    """Before sending, the dispatcher resolves the host and refuses loopback (and plain http)."""
    policy = TargetPolicy(allow_private=False)
    for url in ("https://localhost/hooks", "http://partner.example/hooks", "https://127.0.0.1:8443/x"):
        with pytest.raises(TargetRefused):
            asyncio.run(policy.check(url))
    asyncio.run(TargetPolicy(allow_private=True).check("http://127.0.0.1/hooks"))


@pytest.mark.parametrize(
    ("host", "canonical"),
    [
        ("LOCALHOST.", "localhost"),
        ("Hooks.Partner.Example.", "hooks.partner.example"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("0x08080808", "8.8.8.8"),
        ("::127.0.0.1", "::7f00:1"),
        ("[::FFFF:7F00:1]", "::ffff:7f00:1"),
    ],
)
def test_hosts_are_normalised_as_browsers_do(host: str, canonical: str) -> None:
    """WHATWG host parsing: case, one trailing dot, decimal/hex/octal/shortened IPv4, IPv6 text form."""
    assert canonical_host(host) == canonical


@pytest.mark.parametrize("host", ["1.2.3.4.5", "256.0.0.1", "1.2.3.0x100", "09.1.1.1", "h%6fst", "bücher.example", ""])
def test_malformed_numeric_and_non_ascii_hosts_are_refused(host: str) -> None:
    """A host ending in a number that is no IPv4 address, a percent sign or a non-ASCII name: refused."""
    with pytest.raises(TargetRefused):
        canonical_host(host)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:7f00:1", False),
        ("::7f00:1", False),
        ("2002:a00:1::", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("fe80::1", False),
    ],
)
def test_embedded_ipv4_addresses_are_judged_by_their_ipv4(address: str, public: bool) -> None:
    """Mapped, compatible, 6to4, NAT64 and Teredo forms carry an IPv4 address; that address decides."""
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_delivery_log_never_shows_a_refusal_detail() -> None:
    """Refusals recorded by older versions (which named the resolved address) are shown generically."""
    assert partner_error("refused: vm resolves to a non-public address (127.0.0.1)") == (
        f"refused: {TARGET_NOT_ALLOWED}"
    )
    assert partner_error("HTTP 500") == "HTTP 500"
    assert partner_error(None) is None
