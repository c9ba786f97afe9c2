"""The member portal (issue 17 item 1; seed 001 §5): a signed-in policyholder's own pages.

``GET /portal`` shows eligibility, the testing journey (enrolled, kit, sample, result) and the monitoring
subscription; ``POST /portal/enroll`` (consent), ``POST /portal/subscription`` (start or cancel) run the
operations path's use cases through :class:`~ledger_core.members.portal.MemberPortal`, so the log is the
same; ``GET /portal/result`` is the member's own result, the one page that shows it. ``POST /portal/session/refresh``
keeps an open page signed in (partitioned cookies inside a partner's frame). Forms post with the
session's CSRF token and answer 303 back to the portal; a refused action re-renders the portal with an
accessible message (``role="alert"``) and the error's HTTP status (:func:`api.http.errors.status_of`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from api.http.errors import status_of
from api.http.pages.member_session import (
    MemberSession,
    NotAMember,
    check_form_csrf,
    frame_cookies,
    member_session,
    render_page,
)
from api.http.sso_cookies import CSRF_HEADER, REFRESH_COOKIE, session_cookies
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.engine.errors import LedgerError
from ledger_core.members.enrollments import Stage
from ledger_core.members.errors import MemberNotFound
from ledger_core.shared.vocabulary import ResultType

logger = logging.getLogger(__name__)

STAGE_LABELS = {
    Stage.ENROLLED: "Enrolled: consent given",
    Stage.KIT_ORDERED: "Test kit ordered",
    Stage.SAMPLE_RECEIVED: "Sample received by the laboratory",
    Stage.RESULT_DELIVERED: "Result ready",
}
RESULT_LABELS = {
    ResultType.MM: "MM: two typical copies of the gene (no alpha-1 antitrypsin deficiency variant found)",
    ResultType.MZ: "MZ: one Z variant (a carrier)",
    ResultType.MS: "MS: one S variant (a carrier)",
    ResultType.SZ: "SZ: one S and one Z variant",
    ResultType.ZZ: "ZZ: two Z variants",
}
ERROR_MESSAGES = {
    "SSO_CSRF_REFUSED": "This form has expired. Please reload the page and try again.",
    "MEMBER_NOT_ELIGIBLE": "You are not eligible for testing at the moment.",
    "NOT_ELIGIBLE": "You are not eligible for testing at the moment.",
    "INVALID_STATE_TRANSITION": "That change is not possible at this stage.",
    "VALIDATION_ERROR": "That request was not valid. Nothing was changed.",
    "CONSENT_REQUIRED": "Please tick the consent box to enroll.",
}
NOTICES = {
    "enrolled": "You are enrolled. We will order your test kit.",
    "subscribed": "Your monitoring subscription has started.",
    "cancelled": "Your monitoring subscription is cancelled.",
}
_FALLBACK = "Something went wrong. Nothing was changed; please try again later."


def _refresh_after(runtime: Runtime) -> int:
    """Seconds after which ``portal.js`` rotates the session: at four fifths of the access token's life."""
    return max(runtime.sign_in().settings.access_ttl_seconds * 4 // 5, 10)


def _signed_out(runtime: Runtime) -> Any:
    return render_page(runtime, "portal/signed_out.html", None, status_code=401)


async def _session_or_page(request: Request[Any, Any, Any], runtime: Runtime) -> MemberSession | Template:
    try:
        session = await member_session(request, runtime)
    except NotAMember as staff:
        return await render_page(runtime, "portal/staff.html", str(staff), status_code=403)
    return session if session is not None else await _signed_out(runtime)


async def _overview(
    runtime: Runtime,
    session: MemberSession,
    *,
    error: str | None = None,
    status_code: int = 200,
    notice: str | None = None,
) -> Template:
    portal = runtime.ledger.portal
    try:
        overview = await run_blocking(portal.overview, session.member)
    except MemberNotFound:
        return await render_page(runtime, "portal/no_record.html", session.member.partner_id, status_code=404)
    return await render_page(
        runtime,
        "portal/overview.html",
        session.member.partner_id,
        status_code=status_code,
        overview=overview,
        stage_labels=STAGE_LABELS,
        csrf_token=session.csrf_token,
        refresh_after_s=_refresh_after(runtime),
        error=error,
        notice=notice,
    )


class PortalController(Controller):
    path = "/portal"
    include_in_schema = False

    @get("/", name="portal-home")
    async def home(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[Runtime],
        done: Annotated[str | None, QueryParameter(max_length=32)] = None,
    ) -> Template:
        session = await _session_or_page(request, runtime)
        if isinstance(session, Template):
            return session
        return await _overview(runtime, session, notice=NOTICES.get(done or ""))

    @get("/result", name="portal-result")
    async def result(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Template:
        """The member's own result: the only page that opens it (framable only by their partner's origins)."""
        session = await _session_or_page(request, runtime)
        if isinstance(session, Template):
            return session
        try:
            own = await run_blocking(runtime.ledger.portal.own_result, session.member)
        except MemberNotFound:
            return await render_page(runtime, "portal/no_record.html", session.member.partner_id, status_code=404)
        label = None if own.result_type is None else RESULT_LABELS[own.result_type]
        return await render_page(
            runtime,
            "portal/result.html",
            session.member.partner_id,
            result_label=label,
            delivered_on=own.delivered_on,
            refresh_after_s=_refresh_after(runtime),
        )

    @post("/enroll", name="portal-enroll", status_code=303)
    async def enroll(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
        """The member's consent: ``consent=yes`` is required; then the operations path's enrollment, dated today."""
        form = dict(await request.form())
        return await _act(request, runtime, form, "enrolled", lambda s: _enroll(runtime, s, form))

    @post("/subscription", name="portal-subscription", status_code=303)
    async def subscription(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[Any]:
        """``action=start`` subscribes to monitoring on the plan shown; ``action=cancel`` cancels it."""
        form = dict(await request.form())
        cancel = form.get("action") == "cancel"
        portal = runtime.ledger.portal
        command = portal.cancel_subscription if cancel else portal.subscribe
        return await _act(request, runtime, form, "cancelled" if cancel else "subscribed", lambda s: command(s.member))

    @post("/session/refresh", name="portal-session-refresh", status_code=204)
    async def refresh(self, request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> Response[None]:
        """Rotate the session (``POST /sso/session/refresh``'s rules: the refresh cookie, ``X-CSRF-Token``),
        answering with cookies the partner's frame keeps (:func:`frame_cookies`). ``portal.js`` calls it
        before the access token expires, so an open portal page stays signed in."""
        sso = runtime.sign_in()
        issued = await run_blocking(
            sso.sessions.refresh, request.cookies.get(REFRESH_COOKIE), request.headers.get(CSRF_HEADER)
        )
        cookies = frame_cookies(session_cookies(issued, sso.clock(), sso.settings.cookie_samesite))
        return Response(None, status_code=204, cookies=cookies, headers={"Cache-Control": "no-store"})


def _enroll(runtime: Runtime, session: MemberSession, form: dict[str, Any]) -> object:
    return runtime.ledger.portal.enroll(session.member, consented=form.get("consent") == "yes")


async def _act(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    form: dict[str, Any],
    done: str,
    command: Callable[[MemberSession], object],
) -> Response[Any]:
    """Check the form's CSRF token, run ``command``; 303 to the portal, or the portal with the error."""
    session = await _session_or_page(request, runtime)
    if isinstance(session, Template):
        return session
    try:
        check_form_csrf(session, form)
        await run_blocking(command, session)
    except LedgerError as refused:
        logger.info("portal action refused: %s", refused.code, extra={"code": refused.code})
        message = ERROR_MESSAGES.get(refused.code, _FALLBACK)
        return await _overview(runtime, session, error=message, status_code=status_of(refused.code))
    return Redirect(path=f"/portal?done={done}", status_code=303)
