"""The partner console (issue 17 item 4; docs/portal.md "Partner console"): pages for a partner's STAFF
signed in through single sign-on, at ``/console/{partner}/``.

Pages: the outcome dashboard (charts with the API's small-cell suppression), webhook endpoints and their
delivery logs with resend, feed status, claims with their decision and inclusion proof, API credentials
with rotation. Every page and action is guarded by :func:`api.http.pages.console_access.staff_guard`
(staff of this partner only; read-only views, user also resends, admin also rotates; CSRF on every form)
and calls the same use case as the API or the CLI (:mod:`api.http.pages.console_views`). No page shows
an individual member or result: aggregates and the partner's own operational records only.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect, Template

from api.http.pages.branding import partner_branding
from api.http.pages.console_access import (
    CSRF_FIELD,
    EXCEPTION_HANDLERS,
    NO_STORE,
    ConsoleStaff,
    provide_console_staff,
    staff_guard,
)
from api.http.pages.console_views import Period, claims_page, dashboard, feed_rows, resend, webhook_panels
from api.http.routes.operations_partner_keys import key_policy_view
from api.http.routes.sso_oidc import safe_return_path
from api.http.sso_cookies import cleared_cookies
from api.http.threads import run_blocking
from api.runtime import Runtime, RuntimeHandle
from api.security.credentials import CredentialService
from ledger_core.accounts.identity import IdentityProviderKind, UserKind
from ledger_core.accounts.permissions import StaffAction
from ledger_core.engine.errors import InvalidCommand
from ledger_core.partners.access import DEFAULT_OVERLAP

PUBLIC = {"console_public": True}
RESEND = {"staff_action": StaffAction.RESEND_WEBHOOK}
ROTATE = {"staff_action": StaffAction.ROTATE_CREDENTIALS}
PartnerId = Annotated[str, PathParameter(description="The partner whose console this is.", max_length=64)]
MonthInput = Annotated[str | None, QueryParameter(required=False, max_length=7)]
NAV = (
    ("dashboard", "Outcomes", ""),
    ("webhooks", "Webhooks", "webhooks"),
    ("feeds", "Feeds", "feeds"),
    ("claims", "Claims", "claims"),
    ("credentials", "API credentials", "credentials"),
)


async def _page(
    runtime: Runtime, staff: ConsoleStaff, template: str, *, status_code: int = 200, **context: Any
) -> Template:
    """``console/<template>.html`` with what every console page needs (branding, theme, staff, navigation)."""
    partner_id = staff.principal.partner_id
    branding = await run_blocking(partner_branding, runtime.ledger, partner_id)
    return Template(
        f"console/{template}.html",
        context={
            "branding": branding,
            "theme_href": branding.theme_href,
            "staff": staff,
            "partner_id": partner_id,
            "base": f"/console/{quote(partner_id)}/",
            "nav": NAV,
            "active": template,
            "csrf_field": CSRF_FIELD,
            **context,
        },
        status_code=status_code,
        headers=NO_STORE,
    )


class ConsoleController(Controller):
    """The guarded pages (the router adds :func:`staff_guard`)."""

    path = "/{partner:str}"
    dependencies = {"staff": Provide(provide_console_staff, sync_to_thread=False)}  # noqa: RUF012 - Litestar's declaration

    @get("/", name="console-dashboard")
    async def dashboard(
        self,
        partner: PartnerId,
        runtime: NamedDependency[Runtime],
        staff: NamedDependency[ConsoleStaff],
        start: MonthInput = None,
        end: MonthInput = None,
    ) -> Template:
        """The outcome dashboard for whole months ``start``..``end`` (``YYYY-MM``; default the last twelve)."""
        try:
            period = Period.parse(start, end, runtime.clock().date())
            board = await run_blocking(dashboard, runtime, partner, period)
        except InvalidCommand as error:
            today = Period.parse(None, None, runtime.clock().date())
            return await _page(runtime, staff, "dashboard", status_code=400, period=today, board=None, error=error)
        return await _page(runtime, staff, "dashboard", period=period, board=board, error=None)

    @get("/webhooks", name="console-webhooks")
    async def webhooks(
        self,
        partner: PartnerId,
        runtime: NamedDependency[Runtime],
        staff: NamedDependency[ConsoleStaff],
        resent: Annotated[int | None, QueryParameter(required=False, ge=0)] = None,
    ) -> Template:
        panels = await run_blocking(webhook_panels, runtime, partner)
        return await _page(runtime, staff, "webhooks", panels=panels, resent=resent)

    @post(
        "/webhooks/{endpoint_id:str}/deliveries/{delivery_id:int}/resend",
        name="console-resend",
        opt=RESEND,
        status_code=303,
    )
    async def resend(
        self,
        partner: PartnerId,
        endpoint_id: Annotated[str, PathParameter(max_length=64)],
        delivery_id: Annotated[int, PathParameter(ge=0)],
        runtime: NamedDependency[Runtime],
    ) -> Redirect:
        """The delivery's message is queued again (same webhook-id); back to the delivery log."""
        row = await run_blocking(resend, runtime, partner, endpoint_id, delivery_id)
        target = f"/console/{quote(partner)}/webhooks?resent={row.delivery_id}#endpoint-{quote(endpoint_id)}"
        return Redirect(target, status_code=303, headers=NO_STORE)

    @get("/feeds", name="console-feeds")
    async def feeds(
        self, partner: PartnerId, runtime: NamedDependency[Runtime], staff: NamedDependency[ConsoleStaff]
    ) -> Template:
        rows = await run_blocking(feed_rows, runtime, partner)
        return await _page(runtime, staff, "feeds", rows=rows)

    @get("/claims", name="console-claims")
    async def claims(
        self,
        partner: PartnerId,
        runtime: NamedDependency[Runtime],
        staff: NamedDependency[ConsoleStaff],
        after: Annotated[int | None, QueryParameter(required=False, ge=0)] = None,
    ) -> Template:
        page = await run_blocking(claims_page, runtime, partner, after)
        return await _page(runtime, staff, "claims", page=page, after=after)

    @get("/credentials", name="console-credentials")
    async def credentials(
        self, partner: PartnerId, runtime: NamedDependency[Runtime], staff: NamedDependency[ConsoleStaff]
    ) -> Template:
        loaded = await run_blocking(runtime.ledger.partners.get, partner)
        policy = key_policy_view(loaded, runtime)
        return await _page(runtime, staff, "credentials", policy=policy, rotated=None)

    @post("/credentials/rotate", name="console-rotate", opt=ROTATE, status_code=200)
    async def rotate(
        self, partner: PartnerId, runtime: NamedDependency[Runtime], staff: NamedDependency[ConsoleStaff]
    ) -> Template:
        """A new API key (the CLI's ``ledger partners rotate-key``); its secret is on this response only."""
        service = CredentialService(runtime.ledger, runtime.security.deployment_secret)
        rotated = await run_blocking(lambda: service.rotate(partner, overlap=DEFAULT_OVERLAP))
        loaded = await run_blocking(runtime.ledger.partners.get, partner)
        policy = key_policy_view(loaded, runtime)
        return await _page(runtime, staff, "credentials", policy=policy, rotated=rotated)

    @post("/sign-out", name="console-sign-out", status_code=303)
    async def sign_out(
        self, partner: PartnerId, runtime: NamedDependency[Runtime], staff: NamedDependency[ConsoleStaff]
    ) -> Redirect:
        """Ends this session (as ``POST /sso/logout``) and clears its cookies; back to the sign-in page."""
        sso = runtime.sign_in()
        await run_blocking(sso.sessions.logout, staff.principal)
        cookies = cleared_cookies(sso.settings.cookie_samesite)
        return Redirect(f"/console/{quote(partner)}/sign-in", status_code=303, cookies=cookies, headers=NO_STORE)


class ConsoleSignInController(Controller):
    """The console's sign-in page: its partner's staff identity providers (no session needed)."""

    path = "/{partner:str}/sign-in"

    @get("/", name="console-sign-in", opt=PUBLIC)
    async def sign_in(
        self,
        partner: PartnerId,
        runtime: NamedDependency[Runtime],
        return_to: Annotated[str | None, QueryParameter(required=False, max_length=500)] = None,
    ) -> Template:
        back = safe_return_path(return_to or f"/console/{partner}/")
        branding = await run_blocking(partner_branding, runtime.ledger, partner)
        providers = await run_blocking(runtime.ledger.accounts.providers, partner)
        links = [
            (
                provider.provider_id,
                f"/sso/oidc/{quote(partner)}/{quote(provider.provider_id)}/login?return_to={quote(back)}"
                if provider.kind is IdentityProviderKind.OIDC
                else f"/sso/saml/{quote(partner)}/{quote(provider.provider_id)}/login?next={quote(back)}",
            )
            for provider in providers
            if provider.user_kind is UserKind.STAFF
        ]
        context = {"branding": branding, "theme_href": branding.theme_href, "links": links}
        return Template("console/sign_in.html", context=context, headers=NO_STORE)


def console_router(handle: RuntimeHandle) -> Router:
    """``/console``: the pages behind :func:`staff_guard` (the sign-in page excepted), outside the OpenAPI
    document, answering refusals with pages."""
    return Router(
        path="/console",
        route_handlers=[ConsoleController, ConsoleSignInController],
        guards=[staff_guard(handle)],
        exception_handlers=EXCEPTION_HANDLERS,
        include_in_schema=False,
    )


__all__ = ["console_router"]
