"""Deprovisioning sync over a real ledger: who the roster omits is deactivated, once; nobody is reactivated."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.opening import open_ledger
from ledger_core.accounts.deprovisioning import Deprovisioning
from ledger_core.accounts.directory import SsoPartners
from ledger_core.accounts.errors import LoginRefused
from ledger_core.accounts.identity import IdentityAssertion, IdentityProviderKind
from ledger_core.ledger import Ledger

OIDC = {
    "issuer": "https://acme.okta.example",
    "client_id": "ledger-client",
    "redirect_uri": "https://ledger.example/sso/oidc/acme/okta/callback",
}


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_ledger(tmp_path / "data") as opened:
        opened.accounts.configure_oidc("acme", "okta", user_kind="staff", settings=OIDC, client_secret="s" * 20)
        yield opened


def signed_in(ledger: Ledger, user: str, partner: str = "acme") -> str:
    assertion = IdentityAssertion(
        partner_id=partner,
        provider_id="okta",
        issuer=OIDC["issuer"],
        subject=f"okta|{user}",
        partner_user_id=user,
        email=None,
        first_name=None,
        last_name=None,
        role="user",
        authenticated_at=datetime.now(UTC),
    )
    return ledger.accounts.sign_in(assertion, IdentityProviderKind.OIDC).account_id


def test_the_roster_keeps_who_it_lists_and_deactivates_the_rest(ledger: Ledger) -> None:
    """Two listed users stay, one omitted is deactivated (an event), a second pass records nothing."""
    ids = {user: signed_in(ledger, user) for user in ("EMP1", "EMP2", "EMP3")}
    sync = Deprovisioning(ledger.accounts)
    first = sync.sync("acme", "staff", frozenset({"EMP1", "EMP2", "EMP9"}), reason="roster 1", actor="test")
    assert first.deactivated == (ids["EMP3"],)
    assert sorted(first.kept) == sorted([ids["EMP1"], ids["EMP2"]])
    assert first.positions
    assert [e.type for e in ledger.history(UUID(ids["EMP3"]))][-1] == "account.deactivated"
    again = sync.sync("acme", "staff", frozenset({"EMP1", "EMP2", "EMP3"}), reason="roster 2", actor="test")
    assert again.deactivated == ()
    assert again.already_inactive == (ids["EMP3"],)
    assert not again.positions


def test_members_are_not_touched_by_a_staff_roster(ledger: Ledger) -> None:
    """A staff roster concerns staff accounts only."""
    signed_in(ledger, "EMP1")
    report = Deprovisioning(ledger.accounts).sync("acme", "member", frozenset({"M1"}), reason="r", actor="t")
    assert (report.kept, report.deactivated) == ((), ())


def test_sso_partners_are_found_in_the_log(ledger: Ledger) -> None:
    """Partners that configured SSO are listed, and new ones are picked up on the next call."""
    partners = SsoPartners(ledger.app.log_reader)
    assert partners.partners() == ["acme"]
    ledger.accounts.configure_oidc("beta", "okta", user_kind="staff", settings=OIDC, client_secret="s" * 20)
    assert partners.partners() == ["acme", "beta"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(listed=st.sets(st.sampled_from([f"U{i}" for i in range(6)])))
def test_after_a_sync_the_active_accounts_are_exactly_the_listed_ones(ledger: Ledger, listed: set[str]) -> None:
    """Whatever the roster, afterwards an account is active only if listed (and if it was active before)."""
    for user in [f"U{i}" for i in range(6)]:
        with contextlib.suppress(LoginRefused):  # deactivated by an earlier example: refused, as intended
            signed_in(ledger, user)
    Deprovisioning(ledger.accounts).sync("acme", "staff", frozenset(listed), reason="r", actor="t")
    active = {a.partner_user_id for a in ledger.accounts.accounts_of("acme") if a.active}
    assert active <= listed
