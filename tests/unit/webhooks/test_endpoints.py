"""Endpoint secrets rotation on the Partner aggregate, and the deployment's target rules for URLs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapters.webhook_management import check_target
from adapters.webhook_targets import TargetPolicy, TargetRefused
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
