"""The OIDC routes' pure helpers: where a browser may land after sign-in, and the claim map."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.oidc.relying_party import OidcIdentity
from api.http.routes.sso_oidc import assertion_of, safe_return_path
from ledger_core.accounts.providers import OidcSettings


@pytest.mark.parametrize(
    ("asked", "landing"),
    [
        ("/portal/home?tab=1", "/portal/home?tab=1"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_only_local_paths_are_landing_pages(asked: str | None, landing: str) -> None:
    """``return_to`` never sends the browser to another site (no open redirect)."""
    assert safe_return_path(asked) == landing


@given(st.text(max_size=40))
def test_a_landing_page_is_always_on_this_site(asked: str) -> None:
    """Whatever is asked, the answer is a path starting with one slash."""
    landing = safe_return_path(asked)
    assert landing.startswith("/")
    assert not landing.startswith("//")


def test_claims_reach_the_assertion_through_the_map() -> None:
    """The provider's claim map picks the partner user id, names and role; absent claims stay None."""
    settings = OidcSettings.parse(
        {
            "issuer": "https://idp.example",
            "client_id": "ledger",
            "redirect_uri": "https://ledger.example/sso/oidc/acme/okta/callback",
            "claims": {"partner_id": "employee_id"},
        }
    )
    identity = OidcIdentity(
        partner_id="acme",
        issuer="https://idp.example",
        subject="okta|1",
        claims={"sub": "okta|1", "employee_id": "EMP9", "email": "a@b.example", "given_name": "A", "role": "admin"},
        refresh_token=None,
        access_expires_at=None,
    )
    assertion = assertion_of(identity, "okta", settings, datetime(2026, 12, 6, tzinfo=UTC))
    assert (assertion.partner_user_id, assertion.email, assertion.first_name) == ("EMP9", "a@b.example", "A")
    assert assertion.last_name is None
    assert assertion.role == "admin"
    assert assertion.subject == "okta|1"
