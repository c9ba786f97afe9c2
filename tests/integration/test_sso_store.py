"""The sign-in state store on both backends: sessions rotate, reuse revokes, one-time values are used once,
and two store instances (two workers) over one database agree."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.databases import execute

from adapters.ports import ManagedSsoStore
from adapters.storage import StorageConfig, open_sso_store
from ledger_core.accounts.errors import CsrfRefused, RefreshTokenReused, SessionInvalid
from ledger_core.accounts.identity import SignedIn, StaffRole, UserKind
from ledger_core.accounts.sessions import SessionPolicy, SessionService, token_digest

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def signed_in(account: str = "acct-1") -> SignedIn:
    return SignedIn(account, "acme", UserKind.STAFF, "u-1", StaffRole.USER, "okta", True, (), ())


@pytest.fixture
def stores(database_url: str, tmp_path: Path) -> Iterator[tuple[ManagedSsoStore, ManagedSsoStore]]:
    """Two independent store instances (two workers) over one database."""
    config = StorageConfig(tmp_path, database_url)
    first, second = open_sso_store(config), open_sso_store(config)
    yield first, second
    first.close()
    second.close()


def test_rotation_and_reuse_detection_across_workers(stores: tuple[ManagedSsoStore, ManagedSsoStore]) -> None:
    """A refresh on one worker uses the token up for the other; presenting it again revokes the family."""
    clock = Clock()
    one, two = (SessionService(store, clock, SessionPolicy()) for store in stores)
    issued = one.open(signed_in(), session_ref="ref-1")
    assert issued.csrf_token is not None
    principal = two.authenticate(issued.access_token)
    assert (principal.account_id, principal.role, principal.provider_id) == ("acct-1", "user", "okta")
    assert principal.csrf_matches(issued.csrf_token)
    assert not principal.csrf_matches("forged")
    with pytest.raises(CsrfRefused):
        two.refresh(issued.refresh_token, "forged")
    rotated = two.refresh(issued.refresh_token, issued.csrf_token)
    assert rotated.csrf_token is None
    assert rotated.refresh_token != issued.refresh_token
    assert one.authenticate(rotated.access_token).family_id == principal.family_id
    with pytest.raises(RefreshTokenReused):
        one.refresh(issued.refresh_token, issued.csrf_token)
    for token in (rotated.access_token, issued.access_token):
        with pytest.raises(SessionInvalid):
            two.authenticate(token)
    with pytest.raises(SessionInvalid):
        two.refresh(rotated.refresh_token, issued.csrf_token)


def test_expiry_logout_and_logout_everywhere(stores: tuple[ManagedSsoStore, ManagedSsoStore]) -> None:
    """Access tokens expire; logout revokes one family, logout everywhere every family of the account."""
    clock = Clock()
    sessions = SessionService(stores[0], clock, SessionPolicy(access_ttl=timedelta(minutes=5)))
    first, second, other = sessions.open(signed_in()), sessions.open(signed_in()), sessions.open(signed_in("acct-2"))
    clock.now = T0 + timedelta(minutes=6)
    with pytest.raises(SessionInvalid, match="not valid"):
        sessions.authenticate(first.access_token)
    renewed = sessions.refresh(first.refresh_token, first.csrf_token)
    assert sessions.logout(sessions.authenticate(renewed.access_token)) == 1
    with pytest.raises(SessionInvalid):
        sessions.authenticate(renewed.access_token)
    assert sessions.logout_everywhere("acct-1") == 1  # the second family; the first is already revoked
    with pytest.raises(SessionInvalid):
        sessions.refresh(second.refresh_token, second.csrf_token)
    assert sessions.refresh(other.refresh_token, other.csrf_token).family_id == other.family_id


def test_idp_initiated_logout_by_reference(stores: tuple[ManagedSsoStore, ManagedSsoStore]) -> None:
    """An IdP logout names the session reference; only those families are revoked."""
    sessions = SessionService(stores[0], Clock())
    named, unnamed = sessions.open(signed_in(), session_ref="ref-x"), sessions.open(signed_in(), session_ref="ref-y")
    assert sessions.logout_by_ref("acme", "okta", "ref-x") == 1
    with pytest.raises(SessionInvalid):
        sessions.authenticate(named.access_token)
    assert sessions.authenticate(unnamed.access_token).account_id == "acct-1"


def test_tokens_are_stored_by_digest_only(stores: tuple[ManagedSsoStore, ManagedSsoStore], database_url: str) -> None:
    """No token or CSRF value is in the database, only their SHA-256."""
    issued = SessionService(stores[0], Clock()).open(signed_in())
    rows = execute(database_url, "SELECT digest FROM sso_session_tokens")
    digests = {row[0] for row in rows}
    assert token_digest(issued.access_token) in digests
    assert issued.access_token not in digests
    csrf = execute(database_url, "SELECT csrf_digest FROM sso_sessions")[0][0]
    assert issued.csrf_token is not None
    assert csrf == token_digest(issued.csrf_token)


def test_one_time_values(stores: tuple[ManagedSsoStore, ManagedSsoStore]) -> None:
    """put refuses a remembered value, use succeeds once, expired values neither exist nor can be used."""
    one, two = stores
    now = datetime.now(UTC)
    assert one.put("saml_request", "id-1", now + timedelta(minutes=10))
    assert not two.put("saml_request", "id-1", now + timedelta(minutes=10))
    assert two.exists("saml_request", "id-1", now)
    assert not two.exists("saml_assertion", "id-1", now)
    assert two.use("saml_request", "id-1", now)
    assert not one.use("saml_request", "id-1", now)
    assert one.exists("saml_request", "id-1", now)  # used values stay remembered until they expire
    assert one.put("saml_request", "id-2", now - timedelta(seconds=1))
    assert not one.exists("saml_request", "id-2", now)
    assert not one.use("saml_request", "id-2", now)
    assert one.put("saml_request", "id-2", now + timedelta(minutes=1))  # an expired value may be put again
    assert one.purge(now + timedelta(days=1)) == 0
    assert not one.exists("saml_request", "id-1", now)


def test_one_refresh_wins_a_race(stores: tuple[ManagedSsoStore, ManagedSsoStore]) -> None:
    """Eight threads on two workers present one refresh token at once: exactly one gets a new pair."""
    clock = Clock()
    services = [SessionService(store, clock) for store in stores]
    issued = services[0].open(signed_in())
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            services[index % 2].refresh(issued.refresh_token, issued.csrf_token)
            outcomes.append("rotated")
        except RefreshTokenReused:
            outcomes.append("reused")
        except SessionInvalid:
            outcomes.append("revoked")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("rotated") == 1
    assert len(outcomes) == 8
