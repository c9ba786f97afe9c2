"""The SSO settings travel through the environment, and the ACS's landing path never leaves the site."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.saml.service_provider import safe_relay
from api.settings import Settings, SsoSection


def test_sso_section_round_trips_through_the_environment() -> None:
    """Every SsoSection field has a LEDGER_SSO_* variable and comes back equal."""
    sso = SsoSection(
        base_url="https://sso.example",
        access_ttl_seconds=120,
        cookie_samesite="none",
        sp_key=Path("/keys/sp.key"),
        sp_certificate=Path("/keys/sp.crt"),
        allow_http_providers=True,
    )
    env = Settings(sso=sso).to_env()
    assert env["LEDGER_SSO_BASE_URL"] == "https://sso.example"
    assert env["LEDGER_SSO_SP_KEY"] == "/keys/sp.key"
    assert Settings.from_env(env).sso == sso


@pytest.mark.parametrize(
    ("relay", "landing"),
    [
        ("/portal/home?tab=1", "/portal/home?tab=1"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("portal", "/"),
    ],
)
def test_relay_state_is_a_same_site_path(relay: str | None, landing: str) -> None:
    """Only a path on this site is followed after sign-in (no open redirect)."""
    assert safe_relay(relay) == landing
