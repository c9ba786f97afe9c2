"""The operations side of single sign-on (scope ``operations`` only): a partner's identity providers and
its users' accounts (docs/sso.md).

``PUT /operations/sso/{partner}/saml/{provider}`` and ``.../oidc/{provider}`` add or replace a provider
(a ``sso.provider_configured`` event; identical settings record nothing), ``GET /operations/sso/{partner}``
lists them with what the partner's IT team enters on its side (SAML: entity id, ACS and SLO URLs),
``DELETE /operations/sso/{partner}/{provider}`` removes one (its sealed client secret is shredded).
``POST /operations/sso/{partner}/accounts/{kind}/{user}/deactivate`` (and ``/reactivate``) deprovisions a user:
``account.deactivated`` is recorded and every live session of the account is revoked. A client secret is
never answered; personal attributes never are either.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from adapters.saml.endpoints import SpEndpoints
from api.client.schemas import sso as schemas
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.accounts.identity import IdentityProviderKind
from ledger_core.accounts.providers import IdentityProvider
from ledger_core.accounts.use_cases import AccountView

OPS = {"scope": "operations"}
Partner = Annotated[str, PathParameter(description="The partner whose identity providers these are.")]
Provider = Annotated[str, PathParameter(description="The provider id, e.g. okta.")]
Kind = Annotated[str, PathParameter(description="staff or member.")]
User = Annotated[str, PathParameter(description="The partner's user id (the partnerId attribute).")]


def provider_view(runtime: Runtime, provider: IdentityProvider) -> schemas.ProviderResponse:
    """A provider as the operations API answers it (SAML: with the SP endpoints the IdP needs)."""
    view = provider.to_json()
    sp = None
    if provider.kind is IdentityProviderKind.SAML:
        sp = SpEndpoints.of(runtime.settings.sso.base_url, provider.partner_id, provider.provider_id).to_json()
    return schemas.ProviderResponse(
        partner_id=view["partnerId"],
        provider_id=view["providerId"],
        kind=view["kind"],
        user_kind=view["userKind"],
        default_role=view["defaultRole"],
        settings=view["settings"],
        client_secret_set=view["clientSecretSet"],
        sp=sp,
    )


def account_view(
    account: AccountView, positions: tuple[int, ...], sessions_revoked: int = 0
) -> schemas.AccountResponse:
    return schemas.AccountResponse(
        account_id=account.account_id,
        partner_id=account.partner_id,
        user_kind=account.user_kind.value,
        partner_user_id=account.partner_user_id,
        role=None if account.role is None else account.role.value,
        active=account.active,
        provider_id=account.provider_id,
        positions=list(positions),
        sessions_revoked=sessions_revoked,
    )


class OperationsSsoController(Controller):
    path = "/operations/sso"
    tags = ("operations", "sso")

    @put("/{partner:str}/saml/{provider:str}", opt=OPS, summary="Configure a SAML identity provider")
    async def configure_saml(
        self,
        partner: Partner,
        provider: Provider,
        data: JSONBody[schemas.SamlProviderRequest],
        runtime: NamedDependency[Runtime],
    ) -> schemas.ProvidersResponse:
        settings = msgspec.structs.asdict(data)
        user_kind, default_role = settings.pop("user_kind"), settings.pop("default_role")
        result = await run_blocking(
            lambda: runtime.ledger.accounts.configure_saml(
                partner,
                provider,
                user_kind=user_kind,
                default_role=default_role,
                settings={k: v for k, v in settings.items() if v is not None},
                allow_http=runtime.settings.sso.allow_http_providers,
            )
        )
        return await self._listing(runtime, result.partner_id, result.positions)

    @put("/{partner:str}/oidc/{provider:str}", opt=OPS, summary="Configure an OIDC identity provider")
    async def configure_oidc(
        self,
        partner: Partner,
        provider: Provider,
        data: JSONBody[schemas.OidcProviderRequest],
        runtime: NamedDependency[Runtime],
    ) -> schemas.ProvidersResponse:
        settings = msgspec.structs.asdict(data)
        user_kind, default_role = settings.pop("user_kind"), settings.pop("default_role")
        secret = settings.pop("client_secret")
        result = await run_blocking(
            lambda: runtime.ledger.accounts.configure_oidc(
                partner,
                provider,
                user_kind=user_kind,
                default_role=default_role,
                settings={k: v for k, v in settings.items() if v is not None},
                client_secret=secret,
                allow_http=runtime.settings.sso.allow_http_providers,
            )
        )
        return await self._listing(runtime, result.partner_id, result.positions)

    @get("/{partner:str}", opt=OPS, summary="A partner's identity providers", cache_control=None)
    async def show(self, partner: Partner, runtime: NamedDependency[Runtime]) -> schemas.ProvidersResponse:
        return await self._listing(runtime, partner, ())

    @delete("/{partner:str}/{provider:str}", opt=OPS, summary="Remove an identity provider", status_code=200)
    async def remove(
        self, partner: Partner, provider: Provider, runtime: NamedDependency[Runtime]
    ) -> schemas.ProvidersResponse:
        result = await run_blocking(runtime.ledger.accounts.remove_provider, partner, provider)
        return await self._listing(runtime, result.partner_id, result.positions)

    @post(
        "/{partner:str}/accounts/{kind:str}/{user:str}/deactivate",
        opt=OPS,
        summary="Deactivate a user account (deprovisioned by the partner)",
        status_code=200,
    )
    async def deactivate(
        self,
        partner: Partner,
        kind: Kind,
        user: User,
        data: JSONBody[schemas.DeactivateRequest],
        runtime: NamedDependency[Runtime],
    ) -> schemas.AccountResponse:
        def run() -> schemas.AccountResponse:
            account, positions = runtime.ledger.accounts.deactivate(partner, kind, user, data.reason, "operations")
            revoked = runtime.sign_in().sessions.logout_everywhere(account.account_id)
            return account_view(account, positions, revoked)

        return await run_blocking(run)

    @post(
        "/{partner:str}/accounts/{kind:str}/{user:str}/reactivate",
        opt=OPS,
        summary="Reactivate a user account",
        status_code=200,
    )
    async def reactivate(
        self, partner: Partner, kind: Kind, user: User, runtime: NamedDependency[Runtime]
    ) -> schemas.AccountResponse:
        account, positions = await run_blocking(runtime.ledger.accounts.reactivate, partner, kind, user, "operations")
        return account_view(account, positions)

    @staticmethod
    async def _listing(runtime: Runtime, partner: str, positions: tuple[int, ...]) -> schemas.ProvidersResponse:
        providers = await run_blocking(runtime.ledger.accounts.providers, partner)
        return schemas.ProvidersResponse(
            partner_id=partner,
            providers=[provider_view(runtime, provider) for provider in providers],
            positions=list(positions),
        )
