"""OpenID Connect sign-in in the browser (docs/sso.md "OpenID Connect"): start, and the provider's callback.

``GET /sso/oidc/{partner}/{provider}/login`` discovers the partner's provider, seals the login's ``state``,
``nonce`` and PKCE verifier into an HttpOnly ``__Host-`` cookie (SameSite=Lax, so it comes back with the
provider's top-level redirect) and redirects the browser to the provider. ``GET .../callback`` is the
redirect URI the partner registers: it opens that cookie, completes the code flow
(:class:`~adapters.oidc.relying_party.RelyingParty`), hands the verified identity to the accounts context
(:meth:`~ledger_core.accounts.use_cases.Accounts.sign_in`: just-in-time provisioning, attribute updates, a
deactivated account refused), keeps the provider's refresh token sealed, opens the session (cookies of
:mod:`api.http.sso_cookies`) and redirects to the page the login started from. ``POST .../logout``
(CSRF-checked) ends the session and answers the provider's end-session URL (RP-initiated logout), when it
has one, for the page to send the browser to: signed out here and at the partner (seed 001 section 7.1).

A refused sign-in is a page (:func:`api.http.sso_pages.login_failure_page`) with the reason code and the
request id, counted in ``ledger_sso_logins_total`` and in ``ledger sso status``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect

from adapters.oidc.relying_party import OidcClient, OidcIdentity
from api.client.schemas import sso as schemas
from api.http.context import request_id_of
from api.http.errors import status_of
from api.http.routes.sso_session import provide_browser_session
from api.http.sso_cookies import cleared_cookies, session_cookies
from api.http.sso_outcomes import count_sign_in
from api.http.sso_pages import login_failure_page
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.accounts.errors import LoginFailure, LoginRefused
from ledger_core.accounts.identity import IdentityAssertion, IdentityProviderKind, SignedIn
from ledger_core.accounts.providers import OidcSettings
from ledger_core.accounts.sessions import IssuedSession, SessionPrincipal
from ledger_core.engine.errors import InvalidCommand, NotFound

PENDING_COOKIE = "__Host-ledger_oidc_login"
NO_STORE = {"Cache-Control": "no-store"}
Partner = Annotated[str, PathParameter(description="The partner whose provider signs the user in.")]
Provider = Annotated[str, PathParameter(description="The partner's OIDC provider id, e.g. okta.")]
ReturnTo = Annotated[
    str | None, QueryParameter(description="A path of this site to land on after sign-in (default /).")
]
logger = logging.getLogger("api.sso")


def safe_return_path(value: str | None) -> str:
    """``value`` if it is a local absolute path (no scheme, no host, no ``//``: no open redirect), else ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _pending_cookie(value: str, max_age: int) -> Cookie:
    return Cookie(
        key=PENDING_COOKIE, value=value, max_age=max_age, path="/", secure=True, httponly=True, samesite="lax"
    )


def _claim(claims: dict[str, Any], name: str | None) -> str | None:
    value = claims.get(name) if name else None
    return str(value) if isinstance(value, str | int) and str(value).strip() else None


def assertion_of(identity: OidcIdentity, provider_id: str, settings: OidcSettings, now: datetime) -> IdentityAssertion:
    """The protocol-neutral assertion of a validated OIDC login, through the provider's claim map."""
    claims = dict(identity.claims)
    names = settings.claims
    return IdentityAssertion(
        partner_id=identity.partner_id,
        provider_id=provider_id,
        issuer=identity.issuer,
        subject=identity.subject,
        partner_user_id=_claim(claims, names.get("partner_id")) or "",
        email=_claim(claims, names.get("email")),
        first_name=_claim(claims, names.get("first_name")),
        last_name=_claim(claims, names.get("last_name")),
        role=_claim(claims, names.get("role")),
        authenticated_at=now,
    )


class OidcLoginController(Controller):
    path = "/sso/oidc"
    tags = ("sso",)

    @get(
        "/{partner:str}/{provider:str}/login",
        summary="Start an OpenID Connect sign-in",
        cache_control=None,
        status_code=302,
        response_description="Redirect (Location) to the provider's authorization endpoint (PKCE, state, nonce); "
        "sets the pending-login cookie.",
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        partner: Partner,
        provider: Provider,
        runtime: NamedDependency[Runtime],
        return_to: ReturnTo = None,
    ) -> Response[Any]:
        oidc = runtime.sign_in().oidc
        try:
            client = await run_blocking(oidc.client, runtime.ledger.accounts, partner, provider)
            url, pending = await oidc.relying_party.begin(client, safe_return_path(return_to))
        except (LoginRefused, NotFound, InvalidCommand) as error:
            return await refusal(runtime, request, partner, provider, error)
        cookie = _pending_cookie(oidc.pending.seal(pending), oidc.relying_party.login_ttl_s)
        return Redirect(url, status_code=302, cookies=[cookie], headers=NO_STORE)

    @get(
        "/{partner:str}/{provider:str}/callback",
        summary="The provider's redirect back (the redirect URI)",
        status_code=303,
        response_description="Signed in: the session cookies are set and Location is the page the login started from.",
    )
    async def callback(
        self, request: Request[Any, Any, Any], partner: Partner, provider: Provider, runtime: NamedDependency[Runtime]
    ) -> Response[Any]:
        sso = runtime.sign_in()
        oidc = sso.oidc
        try:
            client = await run_blocking(oidc.client, runtime.ledger.accounts, partner, provider)
            pending = oidc.pending.open(client.partner_id, request.cookies.get(PENDING_COOKIE))
            identity = await oidc.relying_party.complete(client, pending, dict(request.query_params))
            signed_in, issued = await run_blocking(self._enter, runtime, client, provider, identity)
        except (LoginRefused, NotFound, InvalidCommand) as error:
            return await refusal(runtime, request, partner, provider, error)
        await count_sign_in(runtime, partner, provider, "oidc", None)
        cookies = [*session_cookies(issued, sso.clock(), sso.settings.cookie_samesite), _pending_cookie("", 0)]
        logger.info(
            "sso sign-in",
            extra={"partner": partner, "provider": provider, "account": signed_in.account_id, "protocol": "oidc"},
        )
        return Redirect(pending.return_to, status_code=303, cookies=cookies, headers=NO_STORE)

    @post(
        "/{partner:str}/{provider:str}/logout",
        summary="Sign out here and, when the provider supports it, at the provider (RP-initiated logout)",
        status_code=200,
        response_description="Signed out here (cookies cleared); idp_logout_url is where to send the browser next.",
        dependencies={"browser_session": Provide(provide_browser_session)},
    )
    async def logout(
        self,
        partner: Partner,
        provider: Provider,
        runtime: NamedDependency[Runtime],
        browser_session: NamedDependency[SessionPrincipal],
    ) -> Response[schemas.LogoutResponse]:
        """Ends this session (CSRF-checked) and answers the provider's end-session URL to send the browser to."""
        sso = runtime.sign_in()
        revoked = await run_blocking(sso.sessions.logout, browser_session)
        try:
            client = await run_blocking(sso.oidc.client, runtime.ledger.accounts, partner, provider)
            idp_logout = await sso.oidc.relying_party.logout_url(client, sso.settings.base_url + "/")
        except (NotFound, InvalidCommand):
            idp_logout = None
        answer = schemas.LogoutResponse(sessions_revoked=revoked, idp_logout_url=idp_logout)
        return Response(answer, cookies=cleared_cookies(sso.settings.cookie_samesite), headers=NO_STORE)

    @staticmethod
    def _enter(
        runtime: Runtime, client: OidcClient, provider_id: str, identity: OidcIdentity
    ) -> tuple[SignedIn, IssuedSession]:
        sso = runtime.sign_in()
        accounts = runtime.ledger.accounts
        settings = accounts.provider(client.partner_id, provider_id).oidc
        now = sso.clock()
        signed_in = accounts.sign_in(assertion_of(identity, provider_id, settings, now), IdentityProviderKind.OIDC)
        if identity.refresh_token:
            sso.oidc.tokens.save(
                signed_in.account_id, provider_id, client.partner_id, identity.refresh_token, now.timestamp()
            )
        return signed_in, sso.sessions.open(signed_in)


async def refusal(
    runtime: Runtime,
    request: Request[Any, Any, Any],
    partner: str,
    provider: str,
    error: Exception,
) -> Response[bytes]:
    """The failure page for ``error``, counted by reason (metric and ``sso_login_stats``)."""
    reason = error.reason.value if isinstance(error, LoginRefused) else LoginFailure.PROVIDER_UNKNOWN.value
    status = 503 if reason == LoginFailure.IDP_UNAVAILABLE.value else status_of(LoginRefused.code)
    await count_sign_in(runtime, partner, provider, "oidc", reason)
    logger.warning(
        "sso sign-in refused",
        extra={
            "partner": partner,
            "provider": provider,
            "protocol": "oidc",
            "reason": reason,
            "check": getattr(error, "check", None),
            "evidence": getattr(error, "evidence", None),
            "at": datetime.now(UTC).isoformat(),
        },
    )
    body = login_failure_page(reason, request_id_of(request.scope))
    return Response(
        body,
        status_code=status,
        media_type=MediaType.HTML,  # Litestar adds "; charset=utf-8" to text types
        cookies=[_pending_cookie("", 0)],
        headers={**NO_STORE, "Retry-After": "30"} if status == 503 else NO_STORE,
    )
