"""Opening the OpenID Connect relying party for a server process, and what sign-in outcomes are recorded.

Built in the app's lifespan with the single sign-on services (:mod:`api.sso_runtime`): the
:class:`~adapters.oidc.relying_party.RelyingParty` (one per process, caching discovery and JWKS), the sealer
of the pending-login cookie and the refresh-token vault (keys HKDF-derived from the master key), the
``sso_login_stats`` counters and the ``sso_oidc_tokens`` table (closed with the runtime). The ``state`` of
each login is spent once in the shared one-time store (``sso_one_time``), so a replayed callback is refused
by whichever worker receives it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.files.master_key import load_master_key
from adapters.oidc.pending import PendingLoginSealer, derive_key
from adapters.oidc.relying_party import OidcClient, RelyingParty
from adapters.oidc.token_vault import RefreshTokenVault
from adapters.ports import OidcTokenStore, SsoHealthStore
from adapters.storage import open_oidc_tokens, open_sso_health
from api.settings import Settings
from ledger_core.accounts.ports import OneTimeStore
from ledger_core.accounts.use_cases import Accounts

STATE_KIND = "oidc_state"


@dataclass(frozen=True, slots=True)
class OneTimeStates:
    """The relying party's ``ReplayCache`` over the shared one-time store: each ``state`` is accepted once."""

    store: OneTimeStore

    def remember(self, partner_id: str, request_id: str, ttl_s: int) -> bool:
        expires = datetime.now(UTC) + timedelta(seconds=ttl_s)
        return self.store.put(STATE_KIND, f"{partner_id}:{request_id}", expires)


@dataclass
class OidcRuntime:
    """The relying party and its keys and tables, for the routes of :mod:`api.http.routes.sso_oidc`."""

    relying_party: RelyingParty
    pending: PendingLoginSealer
    tokens: RefreshTokenVault
    token_store: OidcTokenStore
    health: SsoHealthStore

    def client(self, accounts: Accounts, partner_id: str, provider_id: str) -> OidcClient:
        """The OIDC client of a configured provider (:class:`NotFound` if it is missing or SAML)."""
        provider = accounts.provider(partner_id, provider_id)
        settings = provider.oidc  # NotFound oidc_provider for a SAML provider
        secret = accounts.client_secret(partner_id, provider_id) or ""
        return OidcClient(
            partner_id=provider.partner_id,
            issuer=settings.issuer,
            client_id=settings.client_id,
            client_secret=secret,
            redirect_uri=settings.redirect_uri,
            scopes=tuple(settings.scopes),
        )

    def record(self, partner_id: str, provider_id: str, protocol: str, reason: str | None) -> None:
        """Count one sign-in outcome (``reason`` None: success) for ``ledger sso status``."""
        self.health.record(partner_id, provider_id, protocol, reason is None, reason, time.time())


def open_oidc(settings: Settings, one_time: OneTimeStore, closers: list[Callable[[], Any]]) -> OidcRuntime:
    """The relying party over the deployment's master key and database (tables closed by ``closers``)."""
    config = settings.storage.config
    master_key = load_master_key(config.data_dir)
    health = open_sso_health(config)
    closers.append(health.close)
    token_store = open_oidc_tokens(config)
    closers.append(token_store.close)
    section = settings.sso
    relying_party = RelyingParty(
        OneTimeStates(one_time),
        timeout_s=section.oidc_timeout_seconds,
        login_ttl_s=section.request_ttl_seconds,
        leeway_s=section.clock_skew_seconds,
    )
    return OidcRuntime(
        relying_party=relying_party,
        pending=PendingLoginSealer(derive_key(master_key)),
        tokens=RefreshTokenVault(master_key, token_store),
        token_store=token_store,
        health=health,
    )
