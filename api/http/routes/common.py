"""Dependencies shared by the controllers, by name: the open runtime, the authenticated partner, the upload."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request
from litestar.di import NamedDependency, Provide

from api.http.pipeline.body import upload_of
from api.http.uploads import Upload
from api.runtime import Runtime, RuntimeHandle
from api.security.tokens import AccessToken
from ledger_core.engine.errors import NotFound


def provide_partner(request: Request[AccessToken, Any, Any], runtime: NamedDependency[Runtime]) -> str:
    """The partner the pipeline authenticated (every ``/api/v1`` handler runs behind it).

    It takes ``runtime`` (unused) so that Litestar resolves the two dependencies one after the other:
    independent dependencies are resolved concurrently in an anyio task group, which cost ~0.2 ms of
    CPU per request for two one-line functions (py-spy, docs/performance.md "HTTP").
    """
    del runtime
    return request.user.partner_id


def provide_upload(request: Request[Any, Any, Any], partner_id: NamedDependency[str]) -> Upload:
    """The document of an ``opt["upload"]`` handler's request, hashed as it streamed in (api/http/pipeline/body.py).

    It takes ``partner_id`` (unused) for the reason :func:`provide_partner` takes ``runtime``."""
    del partner_id
    return upload_of(request.scope)


def dependencies(runtime: RuntimeHandle) -> dict[str, Provide]:
    """The app-wide dependencies, reading the runtime the app's lifespan opened into ``runtime``."""
    return {
        "runtime": Provide(runtime.current, sync_to_thread=False),
        "partner_id": Provide(provide_partner, sync_to_thread=False),
        "upload": Provide(provide_upload, sync_to_thread=False),
    }


def parse_uuid(text: str, kind: str) -> UUID:
    """A UUID path segment; anything else is reported as a missing ``kind`` (404), like an unknown id."""
    try:
        return UUID(text)
    except ValueError:
        raise NotFound(kind, text[:80]) from None
