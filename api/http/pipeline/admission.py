"""Admission, the last step before a handler: the router's ``before_request`` hook.

It runs after the guards and before the handler's parameters (and body) are parsed, and it:

0. checks a JSON body's media type and shape (:func:`.content.check_content`: 400, 415) before anything
   is claimed or decoded;
1. claims the ``Idempotency-Key`` (:meth:`.idempotency.Idempotency.begin`: 400, 409 or 422 here, or the
   stored response to replay);
2. records the partner for the access log (only admitted requests name their partner there);
3. reports a malformed upload (:func:`.body.deferred_error`), releasing the key it just claimed;
4. answers the replay, if any; otherwise the handler runs.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from api.http.context import set_partner
from api.http.pipeline.body import deferred_error
from api.http.pipeline.content import check_content
from api.http.pipeline.idempotency import Idempotency
from api.security.tokens import AccessToken


class Admission:
    """The ``before_request`` hook of ``/api/v1`` (module docstring)."""

    def __init__(self, idempotency: Idempotency) -> None:
        self._idempotency = idempotency

    async def __call__(self, request: Request[AccessToken, Any, Any]) -> Response[bytes] | None:
        check_content(request.scope)
        replay = await self._idempotency.begin(request)
        set_partner(request.scope, request.user.partner_id)
        error = deferred_error(request.scope)
        if error is not None:
            await self._idempotency.abandon(request.scope)
            raise error
        return replay
