"""Embedding the member portal in a partner's page (issue 17 item 2; seed 001 §5.2 and §5.3).

``GET /embed/<partner>?sso_token=...`` (the iframe's ``src``) exchanges the partner backend's single-use
token for a session exactly as ``POST /sso/token`` does (``open_embedded_session``, docs/sso.md), then
answers 303 to ``/portal`` so the token leaves the frame's URL and history; the portal pages carry
``frame-ancestors`` of the partner's registered origins (:mod:`api.http.pages.framing`). The session cookies must be
``SameSite=None`` for a cross-site frame (``LEDGER_SSO_COOKIE_SAMESITE=none``); this exchange then also
marks them ``Partitioned`` (:func:`~api.http.pages.member_session.frame_cookies`).

``GET /widget.js`` is the script a partner page includes (:data:`WIDGET_FILE`); it asks
``GET /embed/<partner>/widget.json`` for its configuration, with CORS allowed to the partner's registered
origins only (any other page's script cannot read the answer), then mounts the portal's frame inside a
shadow root. The configuration names the partner and the frame's path, nothing about any member.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect, Template

from api.http.pages import STATIC_DIR
from api.http.pages.branding import partner_branding
from api.http.pages.framing import portal_headers
from api.http.pages.member_session import frame_cookies, render_page
from api.http.routes.sso_session import open_embedded_session
from api.http.sso_cookies import session_cookies
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.accounts.sessions import IssuedSession
from ledger_core.shared.validation import check_partner_slug

WIDGET_FILE = STATIC_DIR / "widget.js"
PartnerId = Annotated[str, PathParameter(description="The partner id.", max_length=64)]


class WidgetConfig(msgspec.Struct, rename="camel"):
    """What ``widget.js`` needs: whose portal, its display name, the frame's path (relative to the app)."""

    partner_id: str
    display_name: str
    frame_path: str


@cache
def _widget_source() -> bytes:
    return WIDGET_FILE.read_bytes()


class EmbedController(Controller):
    path = "/embed"
    include_in_schema = False

    @get("/{partner:str}", name="portal-embed")
    async def embed(
        self,
        partner: PartnerId,
        runtime: NamedDependency[Runtime],
        sso_token: Annotated[str | None, QueryParameter(max_length=4096)] = None,
    ) -> Response[Any] | Template:
        """With ``sso_token``: open the member's session, 303 to ``/portal``. Without: a page (401, framable by
        the partner's origins) saying to open the portal from the partner's site."""
        slug = check_partner_slug(partner)
        if sso_token is None:
            return await render_page(runtime, "portal/signed_out.html", slug, status_code=401)
        sso = runtime.sign_in()

        def exchange() -> tuple[IssuedSession, tuple[str, ...]]:
            _, issued = open_embedded_session(runtime, sso_token, slug)
            return issued, runtime.ledger.embedding.origins(slug).origins

        issued, origins = await run_blocking(exchange)
        cookies = frame_cookies(session_cookies(issued, sso.clock(), sso.settings.cookie_samesite))
        return Redirect(path="/portal", status_code=303, cookies=cookies, headers=dict(portal_headers(origins)))

    @get("/{partner:str}/widget.json", name="portal-widget-config", cache_control=None)
    async def widget_config(
        self, partner: PartnerId, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
    ) -> Response[WidgetConfig]:
        """The widget's configuration; ``Access-Control-Allow-Origin`` only for a registered origin."""
        slug = check_partner_slug(partner)

        def lookup() -> tuple[str, tuple[str, ...]]:
            return partner_branding(runtime.ledger, slug).display_name, runtime.ledger.embedding.origins(slug).origins

        display_name, origins = await run_blocking(lookup)
        headers = {"Vary": "Origin", "Cache-Control": "no-store"}
        origin = request.headers.get("Origin")
        if origin is not None and origin in origins:
            headers["Access-Control-Allow-Origin"] = origin
        return Response(WidgetConfig(slug, display_name, f"/embed/{slug}"), headers=headers)


@get("/widget.js", name="portal-widget", include_in_schema=False, cache_control=None)
async def widget_script() -> Response[bytes]:
    """``FairUnderwriting.init({partnerId, container, ssoToken, theme})`` (docs/portal.md "The widget")."""
    return Response(
        _widget_source(),
        media_type="text/javascript; charset=utf-8",
        headers={
            "Cache-Control": "public, max-age=300",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )
