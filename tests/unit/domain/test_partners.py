"""Partners: registration, tiers, scopes, suspension, API keys and webhook endpoints."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.partners.access import MAX_ACTIVE_KEYS, WebhookSettings, active_key_ids, secret_sha256
from ledger_core.partners.partner import Partner
from ledger_core.partners.service import PartnerService
from ledger_core.shared.vocabulary import PartnerStatus, Tier

from .fakes import FakeApp, FixedClock, event_types, replay, state

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
HOOK: WebhookSettings = {
    "url": "https://partner.example/webhooks",
    "event_types": ["claim.verified"],
    "secret_id": "whsec_1",
}


def registered(**overrides: Any) -> Partner:
    args: dict[str, Any] = {
        "partner_id": "northwestern_mutual",
        "name": "Northwestern Mutual",
        "category": "insurance_carrier",
        "tier": "standard",
        "scopes": ["claims:write", "claims:read", "claims:write"],
    }
    return Partner.register(**{**args, **overrides})


def types(partner: Partner) -> list[str]:
    return event_types(partner.collect_events())


def test_register() -> None:
    """Registration derives the id from the slug, dedupes scopes and names the OAuth client."""
    partner = registered()
    [event] = partner.collect_events()
    assert isinstance(event, Partner.Registered)
    assert type(event).EVENT_TYPE == "partner.registered"
    assert partner.id == derive_id("partner", "northwestern_mutual")
    assert event.partner_id == "northwestern_mutual"
    assert event.scopes == ["claims:read", "claims:write"]
    assert event.client_id == "partner_northwestern_mutual"
    assert partner.status is PartnerStatus.ACTIVE
    assert state(replay([event])) == state(partner)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"partner_id": "Northwestern"}, "partner_id"),
        ({"name": ""}, "name"),
        ({"category": "bank"}, "category"),
        ({"tier": "gold"}, "tier"),
        ({"scopes": ["claims:delete"]}, "scopes"),
        ({"scopes": "claims:read"}, "scopes"),
    ],
)
def test_register_validation(override: dict[str, Any], field: str) -> None:
    """Invalid registration fields raise InvalidCommand naming the field."""
    with pytest.raises(InvalidCommand) as caught:
        registered(**override)
    assert caught.value.details["field"] == field


def test_operations_scope_is_never_a_partners() -> None:
    """Only an ``operations`` principal holds the operations scope, and it holds nothing else."""
    with pytest.raises(InvalidCommand) as caught:
        registered(scopes=["claims:read", "operations"])
    assert caught.value.details["value"] == ["operations"]
    partner = registered()
    with pytest.raises(InvalidCommand):
        partner.set_scopes(["operations"])
    operator = registered(partner_id="ops", category="operations", scopes=["operations"])
    assert operator.scopes == ("operations",)
    for scopes in (["operations", "claims:read"], [], ["audit:read"]):
        with pytest.raises(InvalidCommand) as caught:
            operator.set_scopes(scopes)
        assert caught.value.details["field"] == "scopes"
    with pytest.raises(InvalidCommand):
        registered(partner_id="ops2", category="operations", scopes=[])


def test_tier_scopes_suspension() -> None:
    """Changes record events with the previous value; asking for the current state records nothing."""
    partner = registered()
    partner.collect_events()
    partner.change_tier("enterprise")
    partner.change_tier("enterprise")
    partner.set_scopes(["audit:read"])
    partner.set_scopes(["audit:read", "audit:read"])
    partner.suspend("unpaid invoice")
    partner.suspend("again")
    partner.reinstate()
    partner.reinstate()
    events = partner.collect_events()
    assert event_types(events) == [
        "partner.tier_changed",
        "partner.scopes_changed",
        "partner.suspended",
        "partner.reinstated",
    ]
    assert isinstance(events[0], Partner.TierChanged)
    assert events[0].previous_tier == "standard"
    assert partner.tier is Tier.ENTERPRISE
    assert isinstance(events[1], Partner.ScopesChanged)
    assert events[1].previous_scopes == ["claims:read", "claims:write"]
    assert partner.scopes == ("audit:read",)
    with pytest.raises(InvalidCommand):
        partner.suspend("")


def test_issue_key_stores_only_the_hash() -> None:
    """An issued key is stored as id + SHA-256; the secret never appears in the event."""
    partner = registered()
    partner.issue_api_key(key_id="pk_1234", secret_sha256=secret_sha256("s3cret-value"), at=T0)
    event = partner.collect_events()[-1]
    assert isinstance(event, Partner.ApiKeyIssued)
    assert type(event).EVENT_TYPE == "partner.api_key_issued"
    assert "s3cret-value" not in json.dumps(vars(event), default=str)
    assert event.secret_sha256 == hashlib.sha256(b"s3cret-value").hexdigest()
    assert event.issued_at == "2026-01-15T12:00:00.000000Z"
    assert partner.authenticate("pk_1234", "s3cret-value", T0)
    assert not partner.authenticate("pk_1234", "wrong", T0)
    assert not partner.authenticate("pk_nope", "s3cret-value", T0)


def test_key_rules() -> None:
    """Key ids are never reused, active keys are capped, and a suspended partner gets no new keys."""
    partner = registered()
    for index in range(MAX_ACTIVE_KEYS):
        partner.issue_api_key(key_id=f"pk_{index:04}", secret_sha256="0" * 64, at=T0)
    with pytest.raises(InvalidCommand) as caught:
        partner.issue_api_key(key_id="pk_more", secret_sha256="0" * 64, at=T0)
    assert caught.value.details["active"] == MAX_ACTIVE_KEYS
    partner.revoke_api_key(key_id="pk_0000", at=T0, reason="leaked")
    with pytest.raises(InvalidCommand, match="already used"):
        partner.issue_api_key(key_id="pk_0000", secret_sha256="0" * 64, at=T0)
    for bad in ({"key_id": "x"}, {"secret_sha256": "nothex"}):
        command: dict[str, Any] = {"key_id": "pk_new1", "secret_sha256": "0" * 64, "at": T0, **bad}
        with pytest.raises(InvalidCommand):
            partner.issue_api_key(**command)
    partner.suspend("review")
    with pytest.raises(InvalidTransition) as suspended:
        partner.issue_api_key(key_id="pk_new1", secret_sha256="0" * 64, at=T0)
    assert suspended.value.details == {"entity": "partner", "current": "suspended", "attempted": "issue_api_key"}
    assert not partner.authenticate("pk_0001", "anything", T0)


def test_rotation_overlap() -> None:
    """After rotation both keys work until the overlap ends; then only the new one."""
    partner = registered()
    partner.issue_api_key(key_id="pk_old1", secret_sha256=secret_sha256("old"), at=T0)
    partner.rotate_api_key(
        old_key_id="pk_old1", key_id="pk_new1", secret_sha256=secret_sha256("new"), at=T0, overlap=timedelta(hours=2)
    )
    event = partner.collect_events()[-1]
    assert isinstance(event, Partner.ApiKeyRotated)
    assert type(event).EVENT_TYPE == "partner.api_key_rotated"
    assert event.replaced_key_expires_at == "2026-01-15T14:00:00.000000Z"
    soon, later = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    assert partner.authenticate("pk_old1", "old", soon)
    assert partner.authenticate("pk_new1", "new", soon)
    assert not partner.authenticate("pk_old1", "old", later)
    assert partner.authenticate("pk_new1", "new", later)
    assert active_key_ids(partner.api_keys, later) == ["pk_new1"]
    with pytest.raises(InvalidTransition) as caught:
        partner.rotate_api_key(old_key_id="pk_old1", key_id="pk_new2", secret_sha256="0" * 64, at=later)
    assert caught.value.details["current"] == "expired"
    with pytest.raises(InvalidCommand):
        partner.rotate_api_key(
            old_key_id="pk_new1", key_id="pk_new2", secret_sha256="0" * 64, at=later, overlap=timedelta(days=31)
        )
    with pytest.raises(NotFound):
        partner.rotate_api_key(old_key_id="pk_none", key_id="pk_new2", secret_sha256="0" * 64, at=later)


def test_revocation() -> None:
    """A revoked key stops working at once, cannot be rotated, and revoking again records nothing."""
    partner = registered()
    partner.issue_api_key(key_id="pk_1234", secret_sha256=secret_sha256("s"), at=T0)
    partner.collect_events()
    partner.revoke_api_key(key_id="pk_1234", at=T0, reason="leaked")
    partner.revoke_api_key(key_id="pk_1234", at=T0, reason="leaked")
    assert types(partner) == ["partner.api_key_revoked"]
    assert not partner.authenticate("pk_1234", "s", T0)
    with pytest.raises(InvalidTransition):
        partner.rotate_api_key(old_key_id="pk_1234", key_id="pk_5678", secret_sha256="0" * 64, at=T0)
    with pytest.raises(NotFound) as caught:
        partner.revoke_api_key(key_id="pk_none", at=T0, reason="x")
    assert caught.value.details == {"kind": "api_key", "id": "pk_none"}


def test_webhook_lifecycle() -> None:
    """Endpoints can be added, updated, disabled, enabled and removed; no-ops record nothing."""
    partner = registered()
    partner.collect_events()
    partner.add_webhook("ep1", **HOOK)
    partner.update_webhook("ep1", **HOOK)
    partner.update_webhook("ep1", **(HOOK | {"event_types": ["claim.verified", "audit.alert", "audit.alert"]}))
    assert partner.webhooks["ep1"].event_types == ("audit.alert", "claim.verified")
    assert [e.endpoint_id for e in partner.endpoints_for("audit.alert")] == ["ep1"]
    partner.disable_webhook("ep1", "410 Gone")
    partner.disable_webhook("ep1", "410 Gone")
    assert partner.endpoints_for("audit.alert") == []
    partner.enable_webhook("ep1")
    partner.enable_webhook("ep1")
    partner.remove_webhook("ep1")
    assert types(partner) == [
        "partner.webhook_added",
        "partner.webhook_updated",
        "partner.webhook_disabled",
        "partner.webhook_enabled",
        "partner.webhook_removed",
    ]
    assert partner.webhooks == {}
    with pytest.raises(NotFound):
        partner.remove_webhook("ep1")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"url": "http://partner.example/hook"}, "url"),
        ({"url": "https://user:pw@partner.example/hook"}, "url"),
        ({"url": "https://partner.example/hook#frag"}, "url"),
        ({"url": "ftp://partner.example/hook"}, "url"),
        ({"url": "https:///nohost"}, "url"),
        ({"url": "https://partner.example/a b"}, "url"),
        ({"url": "https://partner.example:99999/"}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["claim.deleted"]}, "event_types"),
        ({"secret_id": "has space"}, "secret_id"),
    ],
)
def test_webhook_validation(override: dict[str, Any], field: str) -> None:
    """Webhook settings must be https (no credentials or fragment), known event types and a secret id."""
    partner = registered()
    with pytest.raises(InvalidCommand) as caught:
        partner.add_webhook("ep1", **{**HOOK, **override})
    assert caught.value.details["field"] == field


def test_webhook_rules() -> None:
    """Loopback http is allowed; ids are unique; suspension blocks adding and enabling but not disabling."""
    partner = registered()
    partner.add_webhook("local", **(HOOK | {"url": "http://127.0.0.1:8080/hook"}))
    with pytest.raises(InvalidCommand):
        partner.add_webhook("local", **HOOK)
    with pytest.raises(InvalidCommand):
        partner.add_webhook("bad id!", **HOOK)
    partner.suspend("review")
    assert partner.endpoints_for("claim.verified") == []
    partner.disable_webhook("local", "suspended")
    with pytest.raises(InvalidTransition):
        partner.enable_webhook("local")
    with pytest.raises(InvalidTransition):
        partner.add_webhook("other", **HOOK)


def test_service_keys_and_webhooks() -> None:
    """The service issues a secret once, authenticates with it, rotates and revokes."""
    app, clock = FakeApp(), FixedClock(T0)
    secrets = iter([("pk_aaaa", "secret-a"), ("pk_bbbb", "secret-b")])
    service = PartnerService(app, clock, key_factory=lambda: next(secrets))  # type: ignore[arg-type]
    service.register(partner_id="acme", name="Acme", category="tpa", tier="sandbox", scopes=[])
    with pytest.raises(InvalidTransition):
        service.register(partner_id="acme", name="Acme", category="tpa", tier="sandbox", scopes=[])
    issued = service.issue_api_key("acme")
    assert (issued.key_id, issued.secret) == ("pk_aaaa", "secret-a")
    assert "secret-a" not in repr(issued)
    assert all("secret-a" not in json.dumps(payload) for payload in app.payloads())
    assert service.authenticate("acme", "pk_aaaa", "secret-a")
    rotated = service.rotate_api_key("acme", "pk_aaaa", timedelta(minutes=5))
    assert rotated.replaced_key_expires_at == "2026-01-15T12:05:00.000000Z"
    clock.advance(timedelta(minutes=5))
    assert not service.authenticate("acme", "pk_aaaa", "secret-a")
    assert service.authenticate("acme", "pk_bbbb", "secret-b")
    assert service.revoke_api_key("acme", "pk_bbbb", "done").positions
    assert not service.authenticate("acme", "pk_bbbb", "secret-b")
    assert not service.authenticate("nobody", "pk_bbbb", "secret-b")
    assert service.add_webhook("acme", "ep1", **HOOK).positions
    assert service.update_webhook("acme", "ep1", **HOOK).positions == ()
    assert service.get("acme").webhooks["ep1"].url == HOOK["url"]


def test_ip_allowlist_is_normalised_logged_and_replayed() -> None:
    """Networks are sorted, deduplicated and written in CIDR form; the same list again records nothing;
    an empty list clears it; replay gives the same state."""
    partner = registered()
    partner.collect_events()
    partner.set_ip_allowlist(["2001:db8::/48", "203.0.113.0/24", "192.0.2.7", "203.0.113.0/24"])
    assert partner.ip_allowlist == ("192.0.2.7/32", "203.0.113.0/24", "2001:db8::/48")
    partner.set_ip_allowlist(["203.0.113.0/24", "192.0.2.7/32", "2001:db8::/48"])
    partner.set_ip_allowlist([])
    events = partner.collect_events()
    assert event_types(events) == ["partner.ip_allowlist_set", "partner.ip_allowlist_set"]
    assert not partner.ip_allowlist
    rebuilt = registered()
    rebuilt.set_ip_allowlist(["10.0.0.0/8"])
    assert state(replay(rebuilt.collect_events())) == state(rebuilt)


@pytest.mark.parametrize("bad", [["10.0.0.5/8"], ["not-an-ip"], ["10.0.0.0/33"], "10.0.0.0/8", ["10.0.0.0/8"] * 65])
def test_ip_allowlist_refuses_malformed_networks(bad: Any) -> None:
    """Host bits set, garbage, an impossible prefix or a bare string: InvalidCommand naming ``cidrs``."""
    with pytest.raises(InvalidCommand) as refused:
        registered().set_ip_allowlist(bad)
    assert refused.value.details["field"] == "cidrs"


def test_ip_allowlist_decides_addresses() -> None:
    """No list: any address. A list: only addresses inside it (IPv4-mapped IPv6 counts as IPv4)."""
    partner = registered()
    assert partner.allows_address("198.51.100.1")
    partner.set_ip_allowlist(["203.0.113.0/24", "2001:db8::/48"])
    assert partner.allows_address("203.0.113.200")
    assert partner.allows_address("::ffff:203.0.113.9")
    assert partner.allows_address("2001:db8::1")
    assert not partner.allows_address("198.51.100.1")
    assert not partner.allows_address("2001:db9::1")
    assert not partner.allows_address("unknown")


def test_key_max_age_refuses_old_keys_and_warns_once() -> None:
    """A maximum key age: the warning window is the last 14 days (a quarter of short ages), recorded once per
    key; authentication fails from the deadline on; ages outside 1..3650 days are refused, None clears."""
    partner = registered()
    partner.issue_api_key(key_id="pk_0001", secret_sha256=secret_sha256("s"), at=T0)
    assert partner.key_schedule("pk_0001") is None
    for bad in (0, 3651, 1.5, True, "30"):
        with pytest.raises(InvalidCommand):
            partner.set_key_max_age(bad)  # type: ignore[arg-type]  # what a caller may send
    partner.set_key_max_age(90)
    partner.set_key_max_age(90)  # the same value records nothing
    assert event_types(partner.pending_events).count("partner.api_key_max_age_set") == 1
    schedule = partner.key_schedule("pk_0001")
    assert schedule is not None
    assert (schedule.expires_at, schedule.warn_from) == (T0 + timedelta(days=90), T0 + timedelta(days=76))
    assert not partner.warn_key_expiring("pk_0001", T0 + timedelta(days=75))
    assert partner.warn_key_expiring("pk_0001", T0 + timedelta(days=77))
    assert not partner.warn_key_expiring("pk_0001", T0 + timedelta(days=78))
    assert event_types(partner.pending_events).count("partner.api_key_expiring") == 1
    assert partner.authenticate("pk_0001", "s", T0 + timedelta(days=89, hours=23))
    assert not partner.authenticate("pk_0001", "s", T0 + timedelta(days=90))
    partner.set_key_max_age(8)
    short = partner.key_schedule("pk_0001")
    assert short is not None
    assert short.expires_at - short.warn_from == timedelta(days=2)
    partner.set_key_max_age(None)
    assert partner.authenticate("pk_0001", "s", T0 + timedelta(days=900))
    assert replay(partner.collect_events()).expiry_warned == {"pk_0001"}
