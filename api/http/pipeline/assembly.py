"""The pipeline in Litestar's terms: the middleware, guards and ``before_request`` hook of ``/api/v1``.

The composition root (:func:`api.app.create_app`) builds it before anything is open, so every piece
receives a provider of the runtime's :class:`~.services.Security` (called per request, once the
app's lifespan has opened the runtime) rather than looking it up in ``app.state``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from litestar.middleware import DefineMiddleware
from litestar.types import Guard, Middleware

from adapters.idempotency import IdempotencyStore
from api.http.pipeline.admission import Admission
from api.http.pipeline.authentication import PartnerAuthentication, PartnerAuthenticator
from api.http.pipeline.body import LargeBodies, SignedBody
from api.http.pipeline.guards import require_scope
from api.http.pipeline.idempotency import Idempotency, IdempotencyMiddleware
from api.http.pipeline.limits import RateLimitMiddleware, RateLimits
from api.http.pipeline.services import Security
from api.settings import Settings


@dataclass(frozen=True)
class PartnerPipeline:
    """The ``middleware``, ``guards`` and ``before_request`` arguments of the ``/api/v1`` :class:`~litestar.Router`."""

    middleware: list[Middleware]
    guards: list[Guard]
    before_request: Admission


def partner_pipeline(security: Callable[[], Security], settings: Settings) -> PartnerPipeline:
    """Authentication, body and signature, rate limit and replay, idempotency (outermost first); then the
    scope guard and the admission hook, which Litestar runs inside the route, after every middleware."""

    def authenticator() -> PartnerAuthenticator:
        return security().authenticator

    def limits() -> RateLimits:
        return security().limits

    def store() -> IdempotencyStore:
        return security().idempotency

    idempotency = Idempotency(store)
    middleware: list[Middleware] = [
        DefineMiddleware(PartnerAuthentication, authenticator=authenticator, limits=limits),
        SignedBody(
            authenticator,
            limits,
            max_body_bytes=settings.http.max_body_bytes,
            max_upload_bytes=settings.http.max_upload_bytes,
            large_bodies=LargeBodies(settings.http.large_body_bytes, settings.http.max_large_bodies),
        ),
        RateLimitMiddleware(limits, idempotency),
        IdempotencyMiddleware(idempotency),
    ]
    return PartnerPipeline(middleware, [require_scope], Admission(idempotency))
