"""``ledger sso``: configure a partner's identity providers and deprovision accounts (docs/sso.md).

``configure-saml`` takes the partner's IdP metadata (seed 001 §1.2: entity id, SSO and SLO URLs, PEM
certificate files, attribute map); ``configure-oidc`` the OIDC settings (§1.3) with the client secret read
from an environment variable or a prompt, never from the command line (argv is visible to every user of
the machine). ``show`` prints the providers and what the partner's IT team enters on its side (SP entity
id, ACS and SLO URLs). ``deactivate`` records ``account.deactivated`` and revokes the account's sessions.
A client secret is never printed. ``register(app)`` adds the group.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.opening import open_ledger
from adapters.saml.endpoints import SpEndpoints
from adapters.storage import DEFAULT_DATA_DIR, StorageConfig, open_sso_store
from api.cli.options import DatabaseUrl, DataDir
from api.settings import SsoSection
from ledger_core.accounts.identity import IdentityProviderKind
from ledger_core.accounts.providers import IdentityProvider
from ledger_core.accounts.use_cases import AccountView
from ledger_core.engine.errors import InvalidCommand

DEFAULT_BASE_URL = SsoSection().base_url
sso_app = typer.Typer(no_args_is_help=True, help="Single sign-on: identity providers and accounts.")

BaseUrl = Annotated[
    str,
    typer.Option("--base-url", envvar="LEDGER_SSO_BASE_URL", help="Public origin of the SSO endpoints."),
]
UserKindOption = Annotated[str, typer.Option("--user-kind", help="staff (partner console) or member (portal).")]
DefaultRole = Annotated[
    str | None, typer.Option("--default-role", help="Staff only: admin, user or read-only (default read-only).")
]
Attributes = Annotated[
    list[str] | None,
    typer.Option("--attribute", help="NAME=ATTRIBUTE (repeat): email, first_name, last_name, partner_id, role."),
]
AllowHttp = Annotated[
    bool, typer.Option("--allow-http", envvar="LEDGER_SSO_ALLOW_HTTP_PROVIDERS", help="Accept http:// URLs (tests).")
]


def _echo(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidCommand(f"{option} must be NAME=VALUE", field=option)
        pairs[name.strip()] = value.strip()
    return pairs


def provider_json(provider: IdentityProvider, base_url: str) -> dict[str, Any]:
    """A provider as the CLI prints it (SAML: with the SP endpoints the IdP needs)."""
    view = provider.to_json()
    if provider.kind is IdentityProviderKind.SAML:
        view["sp"] = SpEndpoints.of(base_url, provider.partner_id, provider.provider_id).to_json()
    return view


@sso_app.command("configure-saml")
def configure_saml(
    partner_id: str,
    provider_id: str,
    entity_id: Annotated[str, typer.Option("--entity-id", help="The IdP's entity id (idp_entity_id).")],
    sso_url: Annotated[str, typer.Option("--sso-url", help="The IdP's SSO URL, HTTP-Redirect (idp_sso_url).")],
    certificate: Annotated[
        list[Path], typer.Option("--certificate", help="PEM file of the IdP's signing certificate (repeat: rollover).")
    ],
    user_kind: UserKindOption = "staff",
    slo_url: Annotated[str | None, typer.Option("--slo-url", help="The IdP's SLO URL (optional).")] = None,
    default_role: DefaultRole = None,
    attribute: Attributes = None,
    allow_http: AllowHttp = False,
    base_url: BaseUrl = DEFAULT_BASE_URL,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Add or replace a SAML identity provider of PARTNER_ID and print what its IdP needs from us."""
    settings: dict[str, Any] = {
        "entity_id": entity_id,
        "sso_url": sso_url,
        "slo_url": slo_url,
        "certificates": [path.read_text() for path in certificate],
        "attributes": _pairs(attribute, "--attribute"),
    }
    with open_ledger(StorageConfig(data_dir, database_url)) as ledger:
        result = ledger.accounts.configure_saml(
            partner_id,
            provider_id,
            user_kind=user_kind,
            settings=settings,
            default_role=default_role,
            allow_http=allow_http,
        )
    if result.provider is None:  # configure always returns the provider it configured
        raise InvalidCommand("no provider was configured", field="provider_id")
    _echo({**provider_json(result.provider, base_url), "positions": list(result.positions)})


@sso_app.command("configure-oidc")
def configure_oidc(
    partner_id: str,
    provider_id: str,
    issuer: Annotated[str, typer.Option("--issuer", help="The provider's issuer URL (discovery).")],
    client_id: Annotated[str, typer.Option("--client-id")],
    redirect_uri: Annotated[str, typer.Option("--redirect-uri", help="Our callback URL registered at the provider.")],
    client_secret_env: Annotated[
        str | None,
        typer.Option("--client-secret-env", help="Read the client secret from this environment variable."),
    ] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Repeat; default openid profile email.")] = None,
    claim: Annotated[list[str] | None, typer.Option("--claim", help="NAME=CLAIM (repeat), like --attribute.")] = None,
    user_kind: UserKindOption = "staff",
    default_role: DefaultRole = None,
    allow_http: AllowHttp = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Add or replace an OIDC provider; the client secret is sealed at rest (prompted when no env var is named)."""
    if client_secret_env is not None:
        secret = os.environ.get(client_secret_env)
        if not secret:
            raise InvalidCommand(f"the environment variable {client_secret_env} is empty", field="client_secret")
    else:
        secret = typer.prompt(
            "client secret (empty: keep the current one)", default="", hide_input=True, show_default=False
        )
    settings: dict[str, Any] = {
        "issuer": issuer,
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scopes": scope or None,
        "claims": _pairs(claim, "--claim"),
    }
    with open_ledger(StorageConfig(data_dir, database_url)) as ledger:
        result = ledger.accounts.configure_oidc(
            partner_id,
            provider_id,
            user_kind=user_kind,
            settings=settings,
            client_secret=secret or None,
            default_role=default_role,
            allow_http=allow_http,
        )
    if result.provider is None:
        raise InvalidCommand("no provider was configured", field="provider_id")
    _echo({**result.provider.to_json(), "positions": list(result.positions)})


@sso_app.command("show")
def show(
    partner_id: str,
    base_url: BaseUrl = DEFAULT_BASE_URL,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """A partner's identity providers (no client secret), with our SP endpoints for SAML ones."""
    with open_ledger(StorageConfig(data_dir, database_url)) as ledger:
        providers = ledger.accounts.providers(partner_id)
    _echo({"partnerId": partner_id, "providers": [provider_json(p, base_url) for p in providers]})


@sso_app.command("remove")
def remove(
    partner_id: str, provider_id: str, data_dir: DataDir = DEFAULT_DATA_DIR, database_url: DatabaseUrl = None
) -> None:
    """Remove an identity provider (its sealed client secret is shredded)."""
    with open_ledger(StorageConfig(data_dir, database_url)) as ledger:
        result = ledger.accounts.remove_provider(partner_id, provider_id)
    _echo({"partnerId": partner_id, "removed": provider_id, "positions": list(result.positions)})


def _account_json(account: AccountView, positions: tuple[int, ...], **extra: Any) -> dict[str, Any]:
    return {**account.to_json(), "positions": list(positions), **extra}


@sso_app.command("deactivate")
def deactivate(
    partner_id: str,
    user_kind: str,
    partner_user_id: str,
    reason: Annotated[str, typer.Option(help="Recorded in the log.")] = "deprovisioned by the partner",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Deactivate an account (USER_KIND staff or member) and revoke its sessions."""
    config = StorageConfig(data_dir, database_url)
    with open_ledger(config) as ledger:
        account, positions = ledger.accounts.deactivate(partner_id, user_kind, partner_user_id, reason, "cli")
    store = open_sso_store(config)
    try:
        revoked = store.revoke_account(account.account_id, datetime.now(UTC))
    finally:
        store.close()
    _echo(_account_json(account, positions, sessionsRevoked=revoked))


@sso_app.command("reactivate")
def reactivate(
    partner_id: str,
    user_kind: str,
    partner_user_id: str,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    database_url: DatabaseUrl = None,
) -> None:
    """Reactivate a deactivated account."""
    with open_ledger(StorageConfig(data_dir, database_url)) as ledger:
        account, positions = ledger.accounts.reactivate(partner_id, user_kind, partner_user_id, "cli")
    _echo(_account_json(account, positions))


def register(app: typer.Typer) -> None:
    """Add ``sso`` to the ``ledger`` application."""
    app.add_typer(sso_app, name="sso")
