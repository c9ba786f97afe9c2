"""Identity providers, just-in-time accounts and the one sign-in use case, on a real embedded ledger."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.certificates import self_signed

from adapters.opening import open_ledger
from ledger_core.accounts.errors import LoginFailure, LoginRefused
from ledger_core.accounts.identity import IdentityAssertion, IdentityProviderKind, StaffRole, UserKind
from ledger_core.accounts.providers import provider_secret_subject
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.ledger import Ledger
from ledger_core.members.errors import PersonalDataErased

_, CERT = self_signed("idp.acme.example")
SAML = {
    "entity_id": "https://acme.okta.example",
    "sso_url": "https://acme.okta.example/app/sso/saml",
    "slo_url": "https://acme.okta.example/app/slo/saml",
    "certificates": [CERT],
}
OIDC = {
    "issuer": "https://acme.auth0.example/",
    "client_id": "ledger-client",
    "redirect_uri": "https://ledger.example/sso/oidc/acme/auth0/callback",
}


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_ledger(tmp_path / "data") as opened:
        yield opened


def log_text(ledger: Ledger) -> str:
    return "\n".join(json.dumps(e.payload) + e.type for e in ledger.entries())


def assertion(user: str = "emp-1", **overrides: Any) -> IdentityAssertion:
    values: dict[str, Any] = {
        "partner_id": "acme",
        "provider_id": "okta",
        "issuer": SAML["entity_id"],
        "subject": f"{user}@acme.example",
        "partner_user_id": user,
        "email": f"{user}@acme.example",
        "first_name": "Zebulon",
        "last_name": "Quixoteworth",
        "role": "user",
        "authenticated_at": datetime.now(UTC),
    }
    values.update(overrides)
    return IdentityAssertion(**values)


def test_saml_provider_configuration_is_validated_and_idempotent(ledger: Ledger) -> None:
    """Settings are checked (https URLs, PEM certificates); identical settings record nothing."""
    first = ledger.accounts.configure_saml("acme", "okta", user_kind="staff", settings=SAML, default_role="user")
    assert first.positions
    assert first.provider is not None
    assert first.provider.default_role is StaffRole.USER
    assert (
        ledger.accounts.configure_saml("acme", "okta", user_kind="staff", settings=SAML, default_role="user").positions
        == ()
    )
    assert [p.provider_id for p in ledger.accounts.providers("acme")] == ["okta"]
    assert ledger.accounts.provider("acme", "okta").saml.attributes["partner_id"] == "partnerId"
    for bad in ({"sso_url": "http://acme.example/sso"}, {"certificates": ["not a certificate"]}, {"entity_id": ""}):
        with pytest.raises(InvalidCommand):
            ledger.accounts.configure_saml("acme", "okta", user_kind="staff", settings={**SAML, **bad})
    with pytest.raises(InvalidCommand):
        ledger.accounts.configure_saml("acme", "m", user_kind="member", settings=SAML, default_role="admin")
    with pytest.raises(InvalidCommand):
        ledger.accounts.configure_saml("acme", "sso_token", user_kind="staff", settings=SAML)
    assert ledger.accounts.remove_provider("acme", "okta").positions
    with pytest.raises(NotFound):
        ledger.accounts.provider("acme", "okta")


def test_oidc_client_secret_is_sealed_and_shredded_on_removal(ledger: Ledger) -> None:
    """The client secret never reaches the log in plaintext; removing the provider destroys its key."""
    secret = "s3cr3t-client-value-0123456789"
    ledger.accounts.configure_oidc("acme", "auth0", user_kind="member", settings=OIDC, client_secret=secret)
    assert secret not in log_text(ledger)
    assert ledger.accounts.client_secret("acme", "auth0") == secret
    ledger.accounts.configure_oidc("acme", "auth0", user_kind="member", settings=OIDC, client_secret=None)
    assert ledger.accounts.client_secret("acme", "auth0") == secret  # None keeps the configured secret
    assert ledger.accounts.provider("acme", "auth0").to_json()["clientSecretSet"] is True
    ledger.accounts.remove_provider("acme", "auth0")
    with pytest.raises(PersonalDataErased):
        ledger.vault.seal(provider_secret_subject("acme", "auth0"), "client_secret", secret)


def test_first_sign_in_provisions_later_ones_update_only_changes(ledger: Ledger) -> None:
    """JIT provisioning, then nothing for the same attributes, then only the changed fields and role."""
    ledger.accounts.configure_saml("acme", "okta", user_kind="staff", settings=SAML)
    first = ledger.accounts.sign_in(assertion(), IdentityProviderKind.SAML)
    assert first.provisioned
    assert first.role is StaffRole.USER
    assert first.positions
    assert set(first.changed) == {"email", "first_name", "last_name"}
    again = ledger.accounts.sign_in(assertion(), IdentityProviderKind.SAML)
    assert (again.provisioned, again.positions, again.account_id) == (False, (), first.account_id)
    moved = ledger.accounts.sign_in(assertion(last_name="Vandermeer", role="admin"), IdentityProviderKind.SAML)
    assert moved.changed == ("last_name", "role")
    assert moved.role is StaffRole.ADMIN
    types = [e.type for e in ledger.entries()]
    assert types.count("account.provisioned") == 1
    assert types.count("account.attributes_updated") == 1
    text = log_text(ledger)
    for personal in ("emp-1@acme.example", "Zebulon", "Quixoteworth", "Vandermeer"):
        assert personal not in text
    provisioned = next(e for e in ledger.entries() if e.type == "account.provisioned")
    assert provisioned.payload["partner_user_id"] == "emp-1"
    assert provisioned.payload["provider_id"] == "okta"


def test_deactivated_account_cannot_sign_in_until_reactivated(ledger: Ledger) -> None:
    """Deactivation is an event; the next sign-in is refused with account_deactivated."""
    ledger.accounts.configure_saml("acme", "okta", user_kind="staff", settings=SAML)
    ledger.accounts.sign_in(assertion(), IdentityProviderKind.SAML)
    view, positions = ledger.accounts.deactivate("acme", "staff", "emp-1", "left the company", "sync")
    assert not view.active
    assert positions
    assert ledger.accounts.deactivate("acme", "staff", "emp-1", "again", "sync")[1] == ()
    assert not ledger.accounts.is_active(view.account_id)
    with pytest.raises(LoginRefused) as refused:
        ledger.accounts.sign_in(assertion(), IdentityProviderKind.SAML)
    assert refused.value.reason is LoginFailure.ACCOUNT_DEACTIVATED
    ledger.accounts.reactivate("acme", "staff", "emp-1", "operations")
    assert ledger.accounts.sign_in(assertion(), IdentityProviderKind.SAML).account_id == view.account_id
    with pytest.raises(NotFound):
        ledger.accounts.deactivate("acme", "staff", "nobody", "left", "sync")


def test_accounts_of_a_partner_for_deprovisioning(ledger: Ledger) -> None:
    """accounts_of lists the partner's accounts (and only theirs) with their state."""
    ledger.accounts.configure_saml("acme", "okta", user_kind="staff", settings=SAML)
    ledger.accounts.configure_saml("other", "okta", user_kind="staff", settings=SAML)
    for user in ("emp-1", "emp-2", "emp-3"):
        ledger.accounts.sign_in(assertion(user), IdentityProviderKind.SAML)
    ledger.accounts.sign_in(assertion("emp-9", partner_id="other"), IdentityProviderKind.SAML)
    ledger.accounts.deactivate("acme", "staff", "emp-2", "left", "sync")
    listed = ledger.accounts.accounts_of("acme")
    assert [(a.partner_user_id, a.active) for a in listed] == [("emp-1", True), ("emp-2", False), ("emp-3", True)]
    assert ledger.accounts.accounts_of("nobody") == []


@pytest.mark.parametrize(
    ("overrides", "kind", "reason"),
    [
        ({"provider_id": "nope"}, IdentityProviderKind.SAML, LoginFailure.PROVIDER_UNKNOWN),
        ({}, IdentityProviderKind.OIDC, LoginFailure.PROVIDER_KIND_MISMATCH),
        ({"role": "superuser"}, IdentityProviderKind.SAML, LoginFailure.ROLE_INVALID),
        ({"partner_user_id": " "}, IdentityProviderKind.SAML, LoginFailure.MISSING_ATTRIBUTE),
        ({"partner_id": "other"}, IdentityProviderKind.SAML, LoginFailure.PROVIDER_UNKNOWN),
    ],
)
def test_sign_in_refusals(
    ledger: Ledger, overrides: dict[str, Any], kind: IdentityProviderKind, reason: LoginFailure
) -> None:
    """Each refusal names its reason and records nothing."""
    ledger.accounts.configure_saml("acme", "okta", user_kind="staff", settings=SAML)
    size = ledger.size()
    with pytest.raises(LoginRefused) as refused:
        ledger.accounts.sign_in(assertion(**overrides), kind)
    assert refused.value.reason is reason
    assert ledger.size() == size


def test_member_provider_and_embedded_sign_in_share_the_account(ledger: Ledger) -> None:
    """A member signs in without a role; the partner's sso_token reaches the same account."""
    ledger.accounts.configure_saml("acme", "portal", user_kind="member", settings=SAML)
    via_saml = ledger.accounts.sign_in(
        assertion("M-100", provider_id="portal", role="admin"), IdentityProviderKind.SAML
    )
    assert via_saml.user_kind is UserKind.MEMBER
    assert via_saml.role is None
    via_token = ledger.accounts.sign_in_embedded("acme", UserKind.MEMBER, "M-100", None)
    assert via_token.account_id == via_saml.account_id
    assert not via_token.provisioned
    assert via_token.positions == ()
    staff = ledger.accounts.sign_in_embedded("acme", UserKind.STAFF, "emp-9", None)
    assert staff.provisioned
    assert staff.role is StaffRole.READ_ONLY
    with pytest.raises(LoginRefused):
        ledger.accounts.sign_in_embedded("acme", UserKind.MEMBER, "M-100", "admin")
