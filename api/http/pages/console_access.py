"""Who may open the partner console and what they may do there (docs/portal.md "Partner console").

A Litestar guard, :func:`staff_guard`, runs before every console handler. It authenticates the browser
session (the access-token cookie of single sign-on, api/http/sso_cookies.py), admits only STAFF of the
partner named in the path, checks the handler's ``opt["staff_action"]`` against the session's role
(:func:`ledger_core.accounts.permissions.may`: read-only views, user also resends webhooks, admin also
rotates API credentials), and on a state-changing request checks the CSRF token (double-submit: the
form's ``csrf_token`` field, or the ``X-CSRF-Token`` header, must be the session's). The admitted
session is left in the request state for :func:`provide_console_staff`.

Refusals render pages, not JSON: no session sends the browser to the console's sign-in page (303);
another partner's staff, a member, a role below the action and a missing CSRF token get the 403 page; an
action the ledger refuses shows its reason with the API's status for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap, Guard

from api.http.errors import status_of
from api.http.sso_cookies import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER
from api.http.threads import run_blocking
from api.runtime import RuntimeHandle
from ledger_core.accounts.errors import CsrfRefused, SessionInvalid
from ledger_core.accounts.identity import StaffRole
from ledger_core.accounts.permissions import StaffAction, may, staff_role
from ledger_core.accounts.sessions import SessionPrincipal
from ledger_core.engine.errors import InvalidCommand, InvalidTransition

logger = logging.getLogger("api.http.pages.console")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STATE_KEY = "console_staff"
CSRF_FIELD = "csrf_token"
NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True, slots=True)
class ConsoleStaff:
    """The signed-in staff user of a console request: their session, role, and the CSRF token forms carry."""

    principal: SessionPrincipal
    role: StaffRole
    csrf_token: str | None
    """The session's CSRF token as the browser holds it (its cookie), or ``None`` when the cookie is not the
    session's (the page then offers no form that could succeed)."""

    def may(self, action: StaffAction | str) -> bool:
        """For templates: whether to show the control of ``action``."""
        return may(self.role, StaffAction(action))


def staff_action(handler: BaseRouteHandler) -> StaffAction:
    """The action a console handler performs (``opt["staff_action"]``; viewing when absent)."""
    return StaffAction(handler.opt.get("staff_action", StaffAction.VIEW))


def staff_guard(handle: RuntimeHandle) -> Guard:
    """The console's guard, reading the sessions of the runtime the app's lifespan opened into ``handle``."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if handler.opt.get("console_public"):
            return  # the sign-in page
        sessions = handle.current().sign_in().sessions
        principal = await run_blocking(sessions.authenticate, connection.cookies.get(ACCESS_COOKIE))
        role = staff_role(principal.user_kind, principal.role)
        if role is None or principal.partner_id != connection.path_params.get("partner"):
            raise PermissionDeniedException("This console is for the staff of its partner only.")
        action = staff_action(handler)
        if not may(role, action):
            raise PermissionDeniedException(f"Your role ({role.value}) may not do this ({action.value}).")
        if isinstance(connection, Request) and connection.method not in SAFE_METHODS:
            sent = connection.headers.get(CSRF_HEADER)
            if sent is None:
                form = await connection.form()
                field = form.get(CSRF_FIELD)
                sent = field if isinstance(field, str) else None
            if not principal.csrf_matches(sent):
                raise CsrfRefused()
        cookie = connection.cookies.get(CSRF_COOKIE)
        csrf = cookie if principal.csrf_matches(cookie) else None
        connection.state[STATE_KEY] = ConsoleStaff(principal, role, csrf)

    return guard


def provide_console_staff(request: Request[Any, Any, Any]) -> ConsoleStaff:
    """The staff user :func:`staff_guard` admitted (a programming error on a handler without the guard)."""
    staff = request.state.get(STATE_KEY)
    if not isinstance(staff, ConsoleStaff):
        raise RuntimeError("console handler without staff_guard")
    return staff


def sign_in_redirect(request: Request[Any, Any, Any], exc: SessionInvalid) -> Response[Any]:
    """No live session: to the console's sign-in page, coming back here afterwards (GET only)."""
    del exc
    partner = str(request.path_params.get("partner", ""))
    back = request.url.path if request.method in SAFE_METHODS else f"/console/{partner}/"
    return Redirect(f"/console/{quote(partner)}/sign-in?return_to={quote(back)}", status_code=303, headers=NO_STORE)


def refused_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """403: the refusal page (the reason says which rule refused; it names nobody), logged with the path's
    partner and the rule (no account, no personal attribute)."""
    if isinstance(exc, CsrfRefused):
        reason = "This form is out of date or was not sent by the console. Reload the page and try again."
    else:
        reason = str(exc.detail) if isinstance(exc, PermissionDeniedException) else "Access refused."
    logger.warning(
        "console access refused",
        extra={"partner": request.path_params.get("partner"), "refusal": type(exc).__name__, "reason": reason},
    )
    context = {"reason": reason, "theme_href": None, "partner_id": request.path_params.get("partner")}
    return Template("console/refused.html", context=context, status_code=403, headers=NO_STORE)


def not_done_page(request: Request[Any, Any, Any], exc: InvalidCommand | InvalidTransition) -> Response[Any]:
    """An action the ledger refused (e.g. rotating a key that is no longer active): the reason, on a page, with
    the status the API gives the same refusal (api/http/errors.py)."""
    context = {
        "heading": "This could not be done",
        "reason": exc.message,
        "theme_href": None,
        "partner_id": request.path_params.get("partner"),
    }
    return Template("console/refused.html", context=context, status_code=status_of(exc.code), headers=NO_STORE)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    SessionInvalid: sign_in_redirect,
    PermissionDeniedException: refused_page,
    CsrfRefused: refused_page,
    InvalidCommand: not_done_page,
    InvalidTransition: not_done_page,
}
"""The console router's own handlers: pages answer refusals with pages (the API keeps its JSON envelope)."""
