"""The SAML 2.0 service provider's browser endpoints, one set per partner IdP (docs/sso.md "SAML").

``GET .../metadata`` (our signed SP metadata), ``GET .../login?next=/path`` (302 to the IdP with a signed
AuthnRequest), ``POST .../acs`` (the IdP's response, HTTP-POST binding: verified, the account signed in,
303 to ``next`` with the session cookies), ``POST .../logout`` (this session ends; the answer names the
IdP URL that ends the IdP's session too, when it has single logout), ``GET .../slo`` (the IdP's
LogoutRequest or LogoutResponse, HTTP-Redirect binding). A refused sign-in answers the failure page with
its reason code (:mod:`api.http.sso_pages`). All under ``/sso/saml/{partner}/{provider}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import MediaType, RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body, PathParameter, QueryParameter
from litestar.response import Redirect

from adapters.saml.service_provider import VerifiedLogin
from api.client.schemas import sso as schemas
from api.http.routes.sso_session import NO_STORE, provide_browser_session
from api.http.sso_cookies import (
    SAML_COOKIE,
    SAML_REQUEST_COOKIE,
    cleared_cookies,
    saml_cookie,
    saml_request_cookie,
    session_cookies,
)
from api.http.sso_outcomes import count_sign_in
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.accounts.errors import LoginFailure, LoginRefused
from ledger_core.accounts.identity import IdentityProviderKind
from ledger_core.accounts.providers import IdentityProvider
from ledger_core.accounts.sessions import IssuedSession, SessionPrincipal
from ledger_core.engine.errors import InvalidCommand, NotFound

Partner = Annotated[str, PathParameter(description="The partner id.")]
Provider = Annotated[str, PathParameter(description="The partner's SAML provider id.")]
BASE = "/{partner:str}/{provider:str}"
METADATA_MEDIA_TYPE = "application/samlmetadata+xml"
"""SAML metadata section 4.1.1 (IANA registration of SAML metadata)."""
SIGNED_OUT = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head>
<body><main><h1>You are signed out</h1><p>You can close this window.</p></main></body></html>
"""


def saml_provider(runtime: Runtime, partner: str, provider_id: str) -> IdentityProvider:
    """The SAML provider named by the path; the failure page (``provider_unknown``) for anything else."""
    try:
        provider = runtime.ledger.accounts.provider(partner, provider_id)
    except (NotFound, InvalidCommand):
        raise LoginRefused(LoginFailure.PROVIDER_UNKNOWN, "no such identity provider") from None
    if provider.kind is not IdentityProviderKind.SAML:
        raise LoginRefused(LoginFailure.PROVIDER_KIND_MISMATCH, "this provider is not a SAML provider")
    return provider


class SamlController(Controller):
    path = "/sso/saml"
    tags = ("sso",)

    @get(
        BASE + "/metadata",
        summary="Our signed SP metadata for this IdP",
        cache_control=None,
        media_type=METADATA_MEDIA_TYPE,
        response_description="The SP's EntityDescriptor (SAML metadata section 2.3.2), signed with the SP key.",
    )
    async def metadata(self, partner: Partner, provider: Provider, runtime: NamedDependency[Runtime]) -> Response[str]:
        sso = runtime.sign_in()
        document = await run_blocking(lambda: sso.saml.metadata(saml_provider(runtime, partner, provider)))
        return Response(document, media_type=METADATA_MEDIA_TYPE, headers={"Cache-Control": "max-age=300"})

    @get(
        BASE + "/login",
        summary="Start a sign-in at the IdP (SP-initiated)",
        cache_control=None,
        status_code=302,
        response_description="Redirect (Location) to the IdP's SSO URL with a signed AuthnRequest.",
    )
    async def login(
        self,
        partner: Partner,
        provider: Provider,
        runtime: NamedDependency[Runtime],
        next_path: Annotated[str | None, QueryParameter(name="next", required=False)] = None,
    ) -> Redirect:
        """302 to the IdP's SSO URL with a signed AuthnRequest (HTTP-Redirect binding)."""
        sso = runtime.sign_in()
        start = await run_blocking(lambda: sso.saml.begin_login(saml_provider(runtime, partner, provider), next_path))
        cookie = saml_request_cookie(start.browser_binding, sso.settings.request_ttl_seconds)
        return Redirect(start.location, status_code=302, headers=NO_STORE, cookies=[cookie])

    @post(
        BASE + "/acs",
        summary="Assertion consumer service (HTTP-POST binding)",
        status_code=303,
        response_description="Signed in: the session cookies are set and Location is the RelayState page.",
    )
    async def acs(
        self,
        partner: Partner,
        provider: Provider,
        request: Request[Any, Any, Any],
        data: Annotated[schemas.AcsForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
        runtime: NamedDependency[Runtime],
    ) -> Redirect:
        """Verify the IdP's response, sign the account in (JIT), set the session cookies, 303 to RelayState."""
        sso = runtime.sign_in()

        def sign_in() -> tuple[VerifiedLogin, IssuedSession]:
            found = saml_provider(runtime, partner, provider)
            binding = request.cookies.get(SAML_REQUEST_COOKIE)
            verified = sso.saml.consume(found, data.SAMLResponse, data.RelayState, binding)
            signed_in = runtime.ledger.accounts.sign_in(verified.assertion, IdentityProviderKind.SAML)
            return verified, sso.sessions.open(signed_in, verified.assertion.session_ref)

        try:
            verified, issued = await run_blocking(sign_in)
        except LoginRefused as refused:  # counted, then the app's handler renders the failure page
            await count_sign_in(runtime, partner, provider, "saml", refused.reason.value)
            raise
        await count_sign_in(runtime, partner, provider, "saml", None)
        now, samesite = sso.clock(), sso.settings.cookie_samesite
        cookies = [*session_cookies(issued, now, samesite), saml_cookie(verified.logout_handle, issued, now, samesite)]
        return Redirect(verified.relay_state, status_code=303, cookies=cookies, headers=NO_STORE)

    @post(
        BASE + "/logout",
        summary="Sign out here and, when the IdP supports it, at the IdP (SP-initiated single logout)",
        status_code=200,
        response_description="Signed out here (cookies cleared); idp_logout_url is where to send the browser next.",
        dependencies={"browser_session": Provide(provide_browser_session)},
    )
    async def logout(
        self,
        partner: Partner,
        provider: Provider,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[Runtime],
        browser_session: NamedDependency[SessionPrincipal],
    ) -> Response[schemas.LogoutResponse]:
        sso = runtime.sign_in()

        def logout() -> schemas.LogoutResponse:
            found = saml_provider(runtime, partner, provider)
            revoked = sso.sessions.logout(browser_session)
            return schemas.LogoutResponse(
                sessions_revoked=revoked, idp_logout_url=sso.saml.begin_logout(found, request.cookies.get(SAML_COOKIE))
            )

        answer = await run_blocking(logout)
        return Response(answer, cookies=cleared_cookies(sso.settings.cookie_samesite), headers=NO_STORE)

    @get(
        BASE + "/slo",
        summary="Single logout service (HTTP-Redirect binding)",
        cache_control=None,
        media_type=MediaType.HTML,
        response_description="The IdP's LogoutResponse to our request: the signed-out page.",
        responses={
            302: ResponseSpec(
                data_container=None,
                description="The IdP's LogoutRequest: this user's sessions end; Location is the IdP's SLO URL "
                "with our signed LogoutResponse.",
            )
        },
    )
    async def slo(
        self, partner: Partner, provider: Provider, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
    ) -> Response[bytes]:
        """An IdP's signed LogoutRequest ends that user's sessions here (302 back with a LogoutResponse); the
        IdP's LogoutResponse to our request shows the signed-out page."""
        sso = runtime.sign_in()
        query = request.scope["query_string"].decode("latin-1")

        def handle() -> str | None:
            found = saml_provider(runtime, partner, provider)
            outcome = sso.saml.handle_slo(found, query)
            if outcome.session_ref is not None:
                sso.sessions.logout_by_ref(found.partner_id, found.provider_id, outcome.session_ref)
            return outcome.redirect_url

        redirect = await run_blocking(handle)
        headers = {**NO_STORE, **({"Location": redirect} if redirect else {})}
        return Response(
            b"" if redirect else SIGNED_OUT,
            status_code=302 if redirect else 200,
            media_type="text/html; charset=utf-8",
            headers=headers,
        )
