"""Authorization, step 4 of the pipeline: Litestar guards, run once every middleware has let the request in.

A handler names the scope it needs in its options (``opt={"scope": "claims:write"}``); :func:`require_scope`
refuses a token without it with 403 ``AUTH_INSUFFICIENT_SCOPE`` (``details.required`` names the scope).
The refusal passes back through the rate-limit middleware, so it carries the rate-limit headers.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from api.http.errors import ApiError
from api.security.tokens import AccessToken

SCOPE_OPTION = "scope"


async def require_scope(connection: ASGIConnection[Any, AccessToken, Any, Any], handler: BaseRouteHandler) -> None:
    """The handler's ``opt["scope"]`` must be one of the access token's scopes (no option: any token).

    A coroutine function although it awaits nothing: Litestar runs a plain function guard in a worker
    thread (``sync_to_thread``), a hop that would cost more than the check."""
    needed = handler.opt.get(SCOPE_OPTION)
    if needed is not None and not connection.user.has_scope(needed):
        raise ApiError("AUTH_INSUFFICIENT_SCOPE", "the access token lacks a required scope", required=needed)
