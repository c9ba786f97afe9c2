"""OIDC refresh tokens at rest: sealed with AES-256-GCM under a key derived from the master key.

Seed 001 section 1.3: "Store access token + refresh token securely (encrypted in database)". Only the
refresh token is kept (the access token lives minutes and is used once, for userinfo). The AAD binds a
sealed token to its account and provider, so a row copied onto another account does not open. The key is
HKDF-derived from the master key with its own ``info`` (:func:`adapters.oidc.pending.derive_key`): a
database dump without the master key holds no usable token.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.oidc.pending import derive_key
from adapters.ports import OidcTokenStore

_NONCE = 12
INFO = b"proveniq-ledger oidc refresh tokens v1"


class RefreshTokenVault:
    """Seals, stores, opens and forgets the refresh tokens providers issue for accounts."""

    def __init__(self, master_key: bytes, store: OidcTokenStore) -> None:
        self._aead = AESGCM(derive_key(master_key, INFO))
        self._store = store

    @staticmethod
    def _aad(account_id: str, provider_id: str) -> bytes:
        return f"{account_id}\x1f{provider_id}".encode()

    def save(self, account_id: str, provider_id: str, partner_id: str, token: str, at: float) -> None:
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, token.encode(), self._aad(account_id, provider_id))
        self._store.put(account_id, provider_id, partner_id, sealed, at)

    def load(self, account_id: str, provider_id: str) -> str | None:
        sealed = self._store.get(account_id, provider_id)
        if sealed is None:
            return None
        return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], self._aad(account_id, provider_id)).decode()

    def forget(self, account_id: str) -> int:
        return self._store.forget(account_id)
