"""Opening single sign-on for a server process: the shared session store, sessions, ``sso_token`` checks.

Everything a worker needs to sign people in, built in the app's lifespan (never at import time) and closed
with the runtime. The session and one-time tables live in the ledger's own database (``sso_*``), so every
worker of one deployment shares them (adapters/sqlite/sessions.py, adapters/postgres/sessions.py).
The SAML service provider (:mod:`adapters.saml`) is built here too, with the SP key of the data directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from adapters.files.saml_sp_key import sp_key_pair
from adapters.ports import ManagedSsoStore
from adapters.saml.service_provider import SamlServiceProvider
from adapters.storage import open_sso_store
from api.oidc_runtime import OidcRuntime, open_oidc
from api.security.sso_tokens import SsoTokenVerifier
from api.settings import Settings, SsoSection
from ledger_core.accounts.sessions import SessionPolicy, SessionService
from ledger_core.ledger import Ledger


@dataclass
class SsoRuntime:
    """Sign-in services of one server process: ``sessions`` (cookies), ``tokens`` (``sso_token``), ``saml``
    (the SAML service provider), ``store`` (sessions and one-time values shared by every worker)."""

    settings: SsoSection
    store: ManagedSsoStore
    sessions: SessionService
    tokens: SsoTokenVerifier
    saml: SamlServiceProvider
    clock: Callable[[], datetime]
    oidc: OidcRuntime
    """The OpenID Connect relying party, its cookie sealer, token vault and counters (api/oidc_runtime.py)."""

    @property
    def skew(self) -> timedelta:
        return timedelta(seconds=self.settings.clock_skew_seconds)


def session_policy(section: SsoSection) -> SessionPolicy:
    return SessionPolicy(
        access_ttl=timedelta(seconds=section.access_ttl_seconds),
        refresh_ttl=timedelta(seconds=section.refresh_ttl_seconds),
        absolute_ttl=timedelta(seconds=section.session_max_seconds),
    )


def open_sso(
    settings: Settings,
    ledger: Ledger,
    deployment_secret: bytes,
    closers: list[Callable[[], Any]],
    clock: Callable[[], datetime],
) -> SsoRuntime:
    """The sign-in services over the ledger's database (the store is closed by ``closers``)."""
    store = open_sso_store(settings.storage.config)
    closers.append(store.close)
    section = settings.sso
    sessions = SessionService(store, clock, session_policy(section), account_active=ledger.accounts.is_active)
    tokens = SsoTokenVerifier(
        deployment_secret=deployment_secret,
        partner_keys=ledger.partners.authenticate,
        one_time=store,
        audience=section.portal_audience,
        max_ttl=timedelta(seconds=section.sso_token_max_ttl_seconds),
        skew=timedelta(seconds=section.clock_skew_seconds),
        clock=clock,
    )
    key_file, cert_file = sp_key_pair(settings.storage.data_dir, section.sp_key, section.sp_certificate)
    saml = SamlServiceProvider(
        base_url=section.base_url,
        key_file=key_file,
        cert_file=cert_file,
        one_time=store,
        clock=clock,
        skew=timedelta(seconds=section.clock_skew_seconds),
        request_ttl=timedelta(seconds=section.request_ttl_seconds),
        max_age=timedelta(seconds=section.assertion_max_age_seconds),
        secret=deployment_secret,
    )
    return SsoRuntime(section, store, sessions, tokens, saml, clock, open_oidc(settings, store, closers))
