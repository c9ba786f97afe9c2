"""Who is signed in on a portal page, and how a portal page is rendered (issue 17 item 1).

The member comes from the session cookie (:mod:`api.http.sso_cookies`), never from a form or a URL: the
session names an account, the account names the partner and the partner's member id. Forms echo the
session's CSRF token in a hidden ``csrf_token`` field (the double-submit of docs/sso.md "Sessions": the
server reads it from the ``__Host-`` cookie when rendering, a cross-site form cannot). Every page carries
the framing headers of its partner (:mod:`api.http.pages.framing`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Template

from api.http.pages.branding import Branding, partner_branding
from api.http.pages.framing import portal_headers
from api.http.sso_cookies import ACCESS_COOKIE, CSRF_COOKIE
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.accounts.errors import CsrfRefused, SessionInvalid
from ledger_core.accounts.identity import UserKind
from ledger_core.accounts.sessions import SessionPrincipal
from ledger_core.members.portal import PortalMember


@dataclass
class PartitionedCookie(Cookie):
    """A cookie with the ``Partitioned`` attribute (CHIPS, draft-cutler-httpbis-partitioned-cookies): kept
    per top-level site, so a browser that blocks third-party cookies still keeps the portal's session inside
    the partner's frame (and only there). Python's ``http.cookies`` cannot write the attribute before 3.14."""

    def to_header(self, **kwargs: Any) -> str:
        return super().to_header(**kwargs) + "; Partitioned"


def frame_cookies(cookies: list[Cookie]) -> list[Cookie]:
    """``cookies`` partitioned when they are ``SameSite=None`` (meant for a cross-site frame), else unchanged."""
    return [PartitionedCookie(**asdict(c)) if c.samesite == "none" else c for c in cookies]


@dataclass(frozen=True, slots=True)
class MemberSession:
    """A signed-in member on a portal page, with the CSRF token their forms echo."""

    member: PortalMember
    principal: SessionPrincipal
    csrf_token: str


class NotAMember(Exception):
    """The session is a partner staff user's: the portal is for members (staff use the partner console)."""


async def member_session(request: Request[Any, Any, Any], runtime: Runtime) -> MemberSession | None:
    """The signed-in member, or ``None`` without a live session; :class:`NotAMember` for a staff session."""
    token = request.cookies.get(ACCESS_COOKIE)
    if not token:
        return None
    try:
        principal = await run_blocking(runtime.sign_in().sessions.authenticate, token)
    except SessionInvalid:
        return None
    if principal.user_kind != UserKind.MEMBER.value:
        raise NotAMember(principal.partner_id)
    account = await run_blocking(runtime.ledger.accounts.view, principal.account_id)
    member = PortalMember(account.partner_id, account.partner_user_id)
    return MemberSession(member, principal, request.cookies.get(CSRF_COOKIE, ""))


def check_form_csrf(session: MemberSession, form: dict[str, Any]) -> None:
    """The form's ``csrf_token`` must be the session's (:class:`CsrfRefused` otherwise)."""
    submitted = form.get("csrf_token")
    if not isinstance(submitted, str) or not session.principal.csrf_matches(submitted):
        raise CsrfRefused()


async def render_page(
    runtime: Runtime,
    template: str,
    partner_id: str | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """``template`` with the partner's branding and framing headers (no partner: only 'self' may frame it).

    ``parent_origins`` (JSON, for ``portal.js``) lists the only origins the page posts messages to."""
    branding: Branding | None = None
    origins: tuple[str, ...] = ()
    if partner_id is not None:

        def lookup() -> tuple[Branding, tuple[str, ...]]:
            return partner_branding(runtime.ledger, partner_id), runtime.ledger.embedding.origins(partner_id).origins

        branding, origins = await run_blocking(lookup)
    return Template(
        template_name=template,
        context={
            "branding": branding,
            "theme_href": None if branding is None else branding.theme_href,
            "parent_origins": json.dumps(list(origins)),
            **context,
        },
        status_code=status_code,
        headers=dict(portal_headers(origins)),
    )
