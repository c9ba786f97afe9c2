"""Browser sessions of single sign-on (docs/sso.md "Sessions"): who is signed in, refresh, logout, logout
everywhere, and the ``sso_token`` exchange a partner's embedded portal uses.

These routes are outside ``/api/v1`` (no signed partner requests): the browser authenticates with the
session cookies (:mod:`api.http.sso_cookies`). State-changing requests carry the CSRF token in
``X-CSRF-Token``; the ``sso_token`` exchange needs none (the single-use token is its own proof, and no
session exists yet).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from api.client.schemas import sso as schemas
from api.http.sso_cookies import ACCESS_COOKIE, CSRF_HEADER, REFRESH_COOKIE, cleared_cookies, session_cookies
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.accounts.errors import CsrfRefused, LoginFailure, LoginRefused
from ledger_core.accounts.identity import SignedIn
from ledger_core.accounts.sessions import IssuedSession, SessionPrincipal
from ledger_core.shared.validation import format_timestamp

NO_STORE = {"Cache-Control": "no-store"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def provide_browser_session(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> SessionPrincipal:
    """The session of the access-token cookie (401 ``SSO_SESSION_INVALID``); on a state-changing request the
    ``X-CSRF-Token`` header must be the session's (403 ``SSO_CSRF_REFUSED``)."""
    sessions = runtime.sign_in().sessions
    principal = await run_blocking(sessions.authenticate, request.cookies.get(ACCESS_COOKIE))
    if request.method not in SAFE_METHODS and not principal.csrf_matches(request.headers.get(CSRF_HEADER)):
        raise CsrfRefused()
    return principal


def open_embedded_session(
    runtime: Runtime, sso_token: str, partner_id: str | None = None
) -> tuple[SignedIn, IssuedSession]:
    """Verify a partner backend's ``sso_token`` and open the session of the user it vouches for (blocking).

    ``partner_id``: the partner the caller expects (``/embed/<partner>``); another partner's token is
    refused as ``token_invalid``."""
    sso = runtime.sign_in()
    identity = sso.tokens.verify(sso_token)
    if partner_id is not None and identity.partner_id != partner_id:
        raise LoginRefused(LoginFailure.TOKEN_INVALID, "the sso_token is another partner's")
    signed_in = runtime.ledger.accounts.sign_in_embedded(
        identity.partner_id, identity.user_kind, identity.partner_user_id, identity.role
    )
    return signed_in, sso.sessions.open(signed_in)


def session_view(principal: SessionPrincipal) -> schemas.SessionResponse:
    return schemas.SessionResponse(
        account_id=principal.account_id,
        partner_id=principal.partner_id,
        user_kind=principal.user_kind,
        role=principal.role,
        provider_id=principal.provider_id,
        expires_at=format_timestamp(principal.expires_at),
    )


def signed_in_response(
    runtime: Runtime, signed_in: SignedIn, issued: IssuedSession
) -> Response[schemas.SessionResponse]:
    """The JSON answer of a new session, with its cookies."""
    sso = runtime.sign_in()
    body = schemas.SessionResponse(
        account_id=signed_in.account_id,
        partner_id=signed_in.partner_id,
        user_kind=signed_in.user_kind.value,
        role=None if signed_in.role is None else signed_in.role.value,
        provider_id=signed_in.provider_id,
        expires_at=format_timestamp(issued.access_expires_at),
    )
    cookies = session_cookies(issued, sso.clock(), sso.settings.cookie_samesite)
    return Response(body, cookies=cookies, headers=NO_STORE)


class SsoSessionController(Controller):
    path = "/sso"
    tags = ("sso",)
    dependencies = {"browser_session": Provide(provide_browser_session)}  # noqa: RUF012 - Litestar's declaration

    @get("/session", summary="The signed-in browser session", cache_control=None)
    async def session(self, browser_session: NamedDependency[SessionPrincipal]) -> Response[schemas.SessionResponse]:
        return Response(session_view(browser_session), headers=NO_STORE)

    @post(
        "/session/refresh",
        summary="Rotate the session's tokens",
        status_code=200,
        response_description="Rotated: a new pair of session cookies (Set-Cookie), no body.",
    )
    async def refresh(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[None]:
        """Uses the refresh-token cookie up and sets a new pair; a reused refresh token revokes its family."""
        sso = runtime.sign_in()
        issued = await run_blocking(
            sso.sessions.refresh, request.cookies.get(REFRESH_COOKIE), request.headers.get(CSRF_HEADER)
        )
        cookies = session_cookies(issued, sso.clock(), sso.settings.cookie_samesite)
        return Response(None, cookies=cookies, headers=NO_STORE)

    @post("/logout", summary="Sign this session out", status_code=200)
    async def logout(
        self, runtime: NamedDependency[Runtime], browser_session: NamedDependency[SessionPrincipal]
    ) -> Response[schemas.LogoutResponse]:
        sso = runtime.sign_in()
        revoked = await run_blocking(sso.sessions.logout, browser_session)
        return Response(
            schemas.LogoutResponse(sessions_revoked=revoked),
            cookies=cleared_cookies(sso.settings.cookie_samesite),
            headers=NO_STORE,
        )

    @post("/logout/everywhere", summary="Sign every session of this account out", status_code=200)
    async def logout_everywhere(
        self, runtime: NamedDependency[Runtime], browser_session: NamedDependency[SessionPrincipal]
    ) -> Response[schemas.LogoutResponse]:
        sso = runtime.sign_in()
        revoked = await run_blocking(sso.sessions.logout_everywhere, browser_session.account_id)
        return Response(
            schemas.LogoutResponse(sessions_revoked=revoked),
            cookies=cleared_cookies(sso.settings.cookie_samesite),
            headers=NO_STORE,
        )

    @post(
        "/token",
        summary="Exchange a partner's sso_token for a session",
        status_code=200,
        response_description="The new session (its cookies are set); names the account, no personal attribute.",
    )
    async def exchange(
        self, data: JSONBody[schemas.TokenExchangeRequest], runtime: NamedDependency[Runtime]
    ) -> Response[schemas.SessionResponse]:
        """A partner backend's single-use ``sso_token`` (docs/sso.md) becomes a browser session."""
        signed_in, issued = await run_blocking(open_embedded_session, runtime, data.sso_token)
        return signed_in_response(runtime, signed_in, issued)
