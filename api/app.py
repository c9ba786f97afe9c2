"""The composition root of the HTTP server: :func:`create_app` builds the Litestar app from settings.

Nothing connects at import time or in :func:`create_app`: the ledger, the embedded sealer thread, the
keys and the Redis connections are opened in the app's lifespan (:func:`api.runtime.open_runtime`,
in a worker thread) and closed when it ends. ``runtime_factory`` is the seam tests use to substitute
pieces (fakes, a stepping clock).

Layout: ``/oauth/token`` and ``/.well-known/jwks.json`` (OAuth), ``/api/v1/...`` behind the request
pipeline (:mod:`api.http.pipeline`: authentication, body and signature, rate limit and replay,
idempotency, scope guards) for claims, documents, audit, members and webhooks, ``/health``, ``/ready``,
``/metrics``, the OpenAPI 3.1 document at ``/schema/openapi.json`` with a docs UI at ``/schema`` (served
offline: :mod:`api.http.docs_ui`) and the error reference at ``/docs/errors``. One
exception handler (:mod:`api.http.errors`) answers every failure with the seed's envelope; the edge
(:mod:`api.http.observability`) adds the request id, version headers, metrics and access logs.

What the lifespan opens reaches the request pipeline and the handlers through a
:class:`~api.runtime.RuntimeHandle` made here: the pipeline's middleware are built with it and the
handlers' dependencies (``runtime``, ``partner_id``, ``upload``) are ``Provide``-d from it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from litestar import Litestar, Response, Router
from litestar.config.response_cache import ResponseCacheConfig
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import HeaderParameter
from litestar.types import ControllerRouterHandler

from api.http.docs_ui import OfflineSwaggerUI, static_router
from api.http.errors import make_exception_handler
from api.http.observability import Edge, Metrics, configure_logging
from api.http.openapi import DecimalSchemaPlugin, finish_openapi
from api.http.pages import static_router as pages_static_router
from api.http.pages import template_config
from api.http.pages.auditor import AuditorConsoleController
from api.http.pages.console import console_router
from api.http.pages.embed import EmbedController, widget_script
from api.http.pages.portal import PortalController
from api.http.pages.theme import ThemePagesController
from api.http.pipeline import PartnerPipeline, partner_pipeline
from api.http.pipeline.limits import ErrorRateLimitHeaders
from api.http.proxies import ClientAddressMiddleware, TrustedProxies
from api.http.routes.audit import AuditController
from api.http.routes.claims import ClaimsController
from api.http.routes.claims_review import OperationsClaimsController
from api.http.routes.common import dependencies
from api.http.routes.docs import DocsController
from api.http.routes.documents import DocumentsController
from api.http.routes.eligibility import EligibilityController
from api.http.routes.enrollments import EnrollmentsController
from api.http.routes.health import HealthController
from api.http.routes.members import MembersController
from api.http.routes.oauth import OAuthController, WellKnownController
from api.http.routes.operations_members import (
    OperationsEnrollmentsController,
    OperationsMembersController,
    OperationsOutcomesController,
)
from api.http.routes.operations_partner_keys import OperationsPartnerKeysController
from api.http.routes.operations_partner_theme import OperationsPartnerThemeController
from api.http.routes.operations_partners import OperationsPartnersController
from api.http.routes.operations_portal_origins import OperationsPortalOriginsController
from api.http.routes.operations_sso import OperationsSsoController
from api.http.routes.operations_sso_roster import OperationsSsoRosterController
from api.http.routes.outcomes import OutcomesController
from api.http.routes.proof_schema import ProofSchemaController
from api.http.routes.public_log import PublicLogController
from api.http.routes.reminders import RemindersController
from api.http.routes.sso_oidc import OidcLoginController
from api.http.routes.sso_saml import SamlController
from api.http.routes.sso_session import SsoSessionController
from api.http.routes.tiles import TilesController
from api.http.routes.webhooks import WebhooksController
from api.http.threads import install_worker_pool, run_blocking
from api.runtime import Runtime, RuntimeHandle, open_runtime
from api.settings import API_VERSION, Settings

RuntimeFactory = Callable[[Settings, Metrics], Runtime]

SIGNED_HEADERS = {
    "x_request_id": HeaderParameter(
        name="X-Request-ID", required=True, description="A fresh UUID per request (signed; replay protection)."
    ),
    "x_timestamp": HeaderParameter(
        name="X-Timestamp", required=True, description="RFC 3339 UTC time of the request (signed; 300 s skew)."
    ),
}


async def _envelope_html_not_found(response: Response[Any]) -> Response[Any]:
    """Litestar's ``/schema/{path}`` fallback answers an HTML 404 page: raise instead, so it gets the envelope."""
    if response.status_code == 404 and response.media_type == MediaType.HTML:
        raise NotFoundException()
    return response


def _openapi_config(settings: Settings) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Proveniq Ledger API",
        version="1.0.0",
        description=(
            "Tamper-evident claims ledger. Every /api/v1 call carries five headers: Authorization (Bearer"
            " access token from /oauth/token), X-API-Key, X-Request-ID, X-Timestamp and X-Signature (hex"
            " HMAC-SHA256 of the canonical request under the API secret; see docs/authentication.md)."
            f" Errors: {settings.http.docs_url}"
        ),
        path="/schema",
        render_plugins=[OfflineSwaggerUI(path="/swagger")],  # also at /schema; assets served here (docs_ui.py)
        components=Components(
            security_schemes={
                "bearerAuth": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT (RFC 9068 at+jwt)"),
                "apiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
                "requestSignature": SecurityScheme(
                    type="apiKey",
                    name="X-Signature",
                    security_scheme_in="header",
                    description="hex HMAC-SHA256(apiSecret, string_to_sign); see docs/authentication.md",
                ),
            }
        ),
        use_handler_docstrings=False,
    )


def _lifespan(
    settings: Settings, metrics: Metrics, runtime_factory: RuntimeFactory, handle: RuntimeHandle
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the worker pool, then the runtime, opened into ``handle`` (closed in reverse)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = install_worker_pool(settings.http.worker_threads)
        try:
            runtime = await run_blocking(runtime_factory, settings, metrics)
            handle.set(runtime)
            try:
                yield
            finally:
                handle.set(None)
                await run_blocking(runtime.close)
        finally:
            pool.shutdown(wait=True)

    return lifespan


def _api_v1(pipeline: PartnerPipeline) -> Router:
    """``/api/v1``: every partner and operations route, behind the request pipeline (:mod:`api.http.pipeline`)."""
    return Router(
        path=f"/api/{API_VERSION}",
        route_handlers=[
            ClaimsController,
            OperationsClaimsController,  # review and explain (docs/verification.md)
            DocumentsController,
            AuditController,
            # seed 001 §3.3 and the operations side of members (docs/eligibility.md)
            EligibilityController,
            EnrollmentsController,
            OutcomesController,
            RemindersController,
            MembersController,
            OperationsEnrollmentsController,
            OperationsMembersController,
            OperationsOutcomesController,
            WebhooksController,  # endpoints, delivery logs, resend, replay (docs/webhooks.md)
            OperationsPartnersController,  # IP allowlists (docs/authentication.md)
            OperationsPortalOriginsController,  # where a partner embeds the member portal (docs/portal.md)
            OperationsPartnerKeysController,  # API key rotation schedule (docs/authentication.md)
            OperationsPartnerThemeController,  # white-label themes (docs/portal.md)
            OperationsSsoController,  # identity providers and accounts (docs/sso.md)
            OperationsSsoRosterController,  # deprovisioning sync by roster upload (docs/sso.md)
        ],
        parameters=SIGNED_HEADERS,
        security=[{"bearerAuth": [], "apiKey": [], "requestSignature": []}],
        middleware=pipeline.middleware,
        guards=pipeline.guards,
        before_request=pipeline.before_request,
    )


def _pages(handle: RuntimeHandle) -> list[ControllerRouterHandler]:
    """The pages of issue 17 and their assets (docs/portal.md)."""
    return [
        pages_static_router(),  # /static/pages: the pages' own assets (api/http/pages)
        console_router(handle),  # /console: the partner console for staff (api/http/pages/console.py)
        ThemePagesController,  # /portal/{partner}/theme.css, theme files, theme preview (docs/portal.md)
        AuditorConsoleController,  # /auditor: the public auditor console (docs/portal.md)
        PublicLogController,  # /auditor/log: checkpoints, consistency, vkeys without credentials
        PortalController,  # the member portal (docs/portal.md)
        EmbedController,  # /embed/<partner>: the portal in a partner's frame (docs/portal.md)
        widget_script,  # /widget.js (docs/portal.md "The widget")
    ]


def create_app(settings: Settings | None = None, *, runtime_factory: RuntimeFactory = open_runtime) -> Litestar:
    """The Litestar app for ``settings`` (default: the embedded deployment in ``./.ledger-data``)."""
    settings = settings or Settings()
    configure_logging(settings)
    metrics = Metrics()
    handle = RuntimeHandle()
    edge = Edge(settings, metrics)
    pipeline = partner_pipeline(handle.security, settings)
    proxies = TrustedProxies.of(settings.http.trusted_proxies)
    error_limits = ErrorRateLimitHeaders(lambda: handle.security().limits, proxies)
    app = Litestar(
        route_handlers=[
            _api_v1(pipeline),
            OAuthController,
            WellKnownController,
            HealthController,
            DocsController,  # /docs: the error reference every error links to
            ProofSchemaController,  # /schema/proof-document.schema.json
            TilesController,  # /checkpoint, /tile/...: the tree as C2SP tlog-tiles (docs/proofs.md)
            static_router(),  # /docs/static: the docs UI's vendored assets (api/http/docs_ui.py)
            SsoSessionController,  # browser sessions, sso_token exchange (docs/sso.md)
            OidcLoginController,  # OpenID Connect sign-in and callback (docs/sso.md)
            SamlController,  # the SAML 2.0 service provider (docs/sso.md)
            *_pages(handle),  # the server-rendered pages (api/http/pages, docs/portal.md)
        ],
        dependencies=dependencies(handle),
        exception_handlers={Exception: edge.exception_handler(make_exception_handler(settings.http.docs_url))},
        middleware=[ClientAddressMiddleware(proxies), edge.middleware()],
        before_send=[edge.before_send, error_limits],
        after_request=_envelope_html_not_found,
        lifespan=[_lifespan(settings, metrics, runtime_factory, handle)],
        openapi_config=_openapi_config(settings),
        plugins=[DecimalSchemaPlugin()],
        request_max_body_size=settings.http.max_body_bytes,
        response_cache_config=ResponseCacheConfig(),
        template_config=template_config(),
        logging_config=None,
        debug=False,
    )
    finish_openapi(app, settings)
    return app
