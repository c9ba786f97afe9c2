"""Sign-in counters and sealed OIDC refresh tokens, on every backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from adapters.oidc.token_vault import RefreshTokenVault
from adapters.storage import StorageConfig, open_oidc_tokens, open_sso_health


def test_outcomes_are_counted_per_provider(tmp_path: Path, database_url: str) -> None:
    """Successes and failures add up per provider; the last failure's reason and both times are kept."""
    store = open_sso_health(StorageConfig(tmp_path, database_url))
    try:
        for at in range(99):
            store.record("acme", "okta", "oidc", True, None, 1000.0 + at)
        store.record("acme", "okta", "oidc", False, "nonce_mismatch", 2000.0)
        store.record("beta", "adfs", "saml", False, "expired", 3000.0)
        rows = {(r.partner_id, r.provider_id): r for r in store.rows()}
    finally:
        store.close()
    acme = rows[("acme", "okta")]
    assert (acme.successes, acme.failures, acme.last_success_at) == (99, 1, 1098.0)
    assert acme.last_failure_reason == "nonce_mismatch"
    assert acme.success_rate == 0.99
    beta = rows[("beta", "adfs")]
    assert beta.success_rate == 0.0
    assert beta.last_success_at is None


def test_refresh_tokens_are_sealed_and_bound_to_their_account(tmp_path: Path, database_url: str) -> None:
    """The stored bytes are not the token; a sealed row moved to another account does not open."""
    store = open_oidc_tokens(StorageConfig(tmp_path, database_url))
    try:
        vault = RefreshTokenVault(os.urandom(32), store)
        vault.save("acct-1", "okta", "acme", "rt-secret-value", 1.0)
        sealed = store.get("acct-1", "okta")
        assert sealed is not None
        assert b"rt-secret-value" not in sealed
        assert vault.load("acct-1", "okta") == "rt-secret-value"
        vault.save("acct-1", "okta", "acme", "rt-rotated", 2.0)
        assert vault.load("acct-1", "okta") == "rt-rotated"
        store.put("acct-2", "okta", "acme", sealed, 3.0)
        with pytest.raises(InvalidTag):
            vault.load("acct-2", "okta")
        assert vault.forget("acct-1") == 1
        assert vault.load("acct-1", "okta") is None
    finally:
        store.close()
