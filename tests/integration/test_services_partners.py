"""Partner service contract on real storage (SQLite and PostgreSQL): registration, API keys (issue, rotate
with overlap, revoke, authenticate), suspension, and webhook endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.clock import SteppingClock

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.ledger import Ledger
from ledger_core.partners.access import secret_sha256
from ledger_core.shared.vocabulary import PartnerStatus, Tier

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PARTNER = "acme_mutual"
HOOK = {"url": "https://hooks.acme.example/ledger", "event_types": ["claim.verified"], "secret_id": "whsec_1"}


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> StorageConfig:
    return StorageConfig(tmp_path, database_url)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(NOW)


@pytest.fixture
def ledger(config: StorageConfig, clock: SteppingClock) -> Iterator[Ledger]:
    with open_ledger(config, clock=clock) as opened:
        opened.partners.register(
            partner_id=PARTNER,
            name="Acme Mutual",
            category="insurance_carrier",
            tier="standard",
            scopes=["claims:read"],
        )
        yield opened


def test_register_and_refusals(ledger: Ledger, config: StorageConfig, clock: SteppingClock) -> None:
    """Registration is recorded once; a second registration, a bad slug or an unknown partner are refused."""
    partner = ledger.partners.get(PARTNER)
    assert (partner.id, partner.client_id, partner.tier) == (
        derive_id("partner", PARTNER),
        "partner_acme_mutual",
        Tier.STANDARD,
    )
    with pytest.raises(InvalidTransition):
        ledger.partners.register(partner_id=PARTNER, name="Again", category="tpa", tier="standard", scopes=[])
    with pytest.raises(InvalidCommand) as slug:
        ledger.partners.register(partner_id="Acme Mutual", name="x", category="tpa", tier="standard", scopes=[])
    assert slug.value.details["field"] == "partner_id"
    with pytest.raises(InvalidCommand) as scope:
        ledger.partners.set_scopes(PARTNER, ["claims:delete"])
    assert scope.value.details["field"] == "scopes"
    with pytest.raises(NotFound):
        ledger.partners.get("nobody_here")
    with pytest.raises(NotFound):
        ledger.partners.issue_api_key("nobody_here")
    assert ledger.partners.change_tier(PARTNER, "standard").positions == ()
    assert ledger.partners.change_tier(PARTNER, "enterprise").positions == (1,)
    assert ledger.partners.set_scopes(PARTNER, ["claims:write", "claims:read", "claims:read"]).positions == (2,)
    with open_ledger(config, clock=clock) as reopened:
        partner = reopened.partners.get(PARTNER)
        assert (partner.tier, partner.scopes, partner.version) == (Tier.ENTERPRISE, ("claims:read", "claims:write"), 3)
        reopened.verify()


def test_api_keys_issue_rotate_revoke_authenticate(ledger: Ledger, config: StorageConfig, clock: SteppingClock) -> None:
    """A key authenticates; rotation keeps the old key for the overlap; revocation and suspension stop it."""
    first = ledger.partners.issue_api_key(PARTNER)
    assert ledger.partners.authenticate(PARTNER, first.key_id, first.secret)
    assert not ledger.partners.authenticate(PARTNER, first.key_id, first.secret + "x")
    assert not ledger.partners.authenticate(PARTNER, "pk_unknown", first.secret)
    assert not ledger.partners.authenticate("nobody_here", first.key_id, first.secret)
    [issued] = ledger.history(derive_id("partner", PARTNER))[1:]
    assert issued.payload["secret_sha256"] == secret_sha256(first.secret)
    assert first.secret not in issued.payload.values()

    second = ledger.partners.rotate_api_key(PARTNER, first.key_id, overlap=timedelta(hours=1))
    assert second.replaced_key_expires_at is not None
    assert ledger.partners.authenticate(PARTNER, first.key_id, first.secret)  # within the overlap
    assert ledger.partners.authenticate(PARTNER, second.key_id, second.secret)
    clock.now += timedelta(hours=2)
    assert not ledger.partners.authenticate(PARTNER, first.key_id, first.secret)  # expired
    assert ledger.partners.authenticate(PARTNER, second.key_id, second.secret)
    with pytest.raises(InvalidTransition):
        ledger.partners.rotate_api_key(PARTNER, first.key_id)
    with pytest.raises(InvalidCommand):
        ledger.partners.rotate_api_key(PARTNER, second.key_id, overlap=timedelta(days=31))

    ledger.partners.suspend(PARTNER, "compliance review")
    assert not ledger.partners.authenticate(PARTNER, second.key_id, second.secret)
    with pytest.raises(InvalidTransition):
        ledger.partners.issue_api_key(PARTNER)
    assert ledger.partners.suspend(PARTNER, "again").positions == ()
    ledger.partners.reinstate(PARTNER)
    assert ledger.partners.authenticate(PARTNER, second.key_id, second.secret)

    revoked = ledger.partners.revoke_api_key(PARTNER, second.key_id, "leaked")
    assert len(revoked.positions) == 1
    assert not ledger.partners.authenticate(PARTNER, second.key_id, second.secret)
    assert ledger.partners.revoke_api_key(PARTNER, second.key_id, "leaked").positions == ()
    with pytest.raises(NotFound):
        ledger.partners.revoke_api_key(PARTNER, "pk_unknown", "x")
    third = ledger.partners.issue_api_key(PARTNER)

    with open_ledger(config, clock=clock) as reopened:
        partner = reopened.partners.get(PARTNER)
        assert partner.status is PartnerStatus.ACTIVE
        assert {key: k.status(clock.now) for key, k in partner.api_keys.items()} == {
            first.key_id: "expired",
            second.key_id: "revoked",
            third.key_id: "active",
        }
        assert reopened.partners.authenticate(PARTNER, third.key_id, third.secret)
        assert not reopened.partners.authenticate(PARTNER, second.key_id, second.secret)
        for envelope in reopened.entries():  # secrets are never stored, only their SHA-256
            text = str(envelope.payload)
            assert all(secret not in text for secret in (first.secret, second.secret, third.secret))
        reopened.verify()


def test_webhooks(ledger: Ledger, config: StorageConfig, clock: SteppingClock) -> None:
    """Add, refuse bad or duplicate endpoints, update (identical: no-op), disable/enable, remove."""
    assert len(ledger.partners.add_webhook(PARTNER, "main", **HOOK).positions) == 1  # type: ignore[arg-type]
    with pytest.raises(InvalidCommand) as duplicate:
        ledger.partners.add_webhook(PARTNER, "main", **HOOK)  # type: ignore[arg-type]
    assert duplicate.value.details["field"] == "endpoint_id"
    with pytest.raises(InvalidCommand) as plain_http:
        ledger.partners.add_webhook(PARTNER, "other", **{**HOOK, "url": "http://hooks.acme.example/x"})  # type: ignore[arg-type]
    assert plain_http.value.details["field"] == "url"
    with pytest.raises(InvalidCommand):
        ledger.partners.add_webhook(PARTNER, "other", **{**HOOK, "event_types": ["claim.eaten"]})  # type: ignore[arg-type]
    assert ledger.partners.update_webhook(PARTNER, "main", **HOOK).positions == ()  # type: ignore[arg-type]
    both = ["result.delivered", "claim.verified"]
    assert len(ledger.partners.update_webhook(PARTNER, "main", **{**HOOK, "event_types": both}).positions) == 1  # type: ignore[arg-type]
    partner = ledger.partners.get(PARTNER)
    assert [e.endpoint_id for e in partner.endpoints_for("result.delivered")] == ["main"]
    ledger.partners.disable_webhook(PARTNER, "main", "410 Gone")
    assert ledger.partners.get(PARTNER).endpoints_for("claim.verified") == []
    assert ledger.partners.disable_webhook(PARTNER, "main", "410 Gone").positions == ()
    ledger.partners.enable_webhook(PARTNER, "main")
    ledger.partners.add_webhook(PARTNER, "spare", **HOOK)  # type: ignore[arg-type]
    ledger.partners.remove_webhook(PARTNER, "spare")
    with pytest.raises(NotFound):
        ledger.partners.remove_webhook(PARTNER, "spare")
    with pytest.raises(NotFound):
        ledger.partners.disable_webhook(PARTNER, "missing", "x")
    ledger.partners.suspend(PARTNER, "review")
    assert ledger.partners.get(PARTNER).endpoints_for("claim.verified") == []
    with open_ledger(config, clock=clock) as reopened:
        partner = reopened.partners.get(PARTNER)
        assert list(partner.webhooks) == ["main"]
        main = partner.webhooks["main"]
        assert (main.enabled, main.event_types, main.url) == (True, ("claim.verified", "result.delivered"), HOOK["url"])
        reopened.partners.reinstate(PARTNER)
        assert [e.endpoint_id for e in reopened.partners.get(PARTNER).endpoints_for("claim.verified")] == ["main"]
        reopened.verify()


def test_client_secret_hash_is_recorded_not_the_secret(database_url: str, tmp_path: Path) -> None:
    """Setting the OAuth client secret records only its hash, which survives a reopen."""
    with open_ledger(StorageConfig(tmp_path, database_url)) as ledger:
        ledger.partners.register(partner_id="oauth_co", name="OAuth Co", category="tpa", tier="standard", scopes=[])
        result = ledger.partners.set_client_secret("oauth_co", "scrypt$16384$8$1$c2FsdA$aGFzaA")
        assert len(result.positions) == 1
        assert ledger.partners.get("oauth_co").client_secret_hash == "scrypt$16384$8$1$c2FsdA$aGFzaA"
        with pytest.raises(InvalidCommand):
            ledger.partners.set_client_secret("oauth_co", "")
    with open_ledger(StorageConfig(tmp_path, database_url)) as reopened:
        assert reopened.partners.get("oauth_co").client_secret_hash == "scrypt$16384$8$1$c2FsdA$aGFzaA"
