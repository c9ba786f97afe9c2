"""Dependencies shared by the controllers: the open runtime and the authenticated partner."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from api.http.auth import AUTH
from api.runtime import Runtime
from api.security.verifier import AuthenticatedRequest
from ledger_core.engine.errors import NotFound


def provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime


def provide_partner(request: Request[Any, Any, Any], runtime: Runtime) -> str:
    """The partner the gate authenticated (every ``/api/v1`` handler runs behind it).

    It takes ``runtime`` (unused) so that Litestar resolves the two dependencies one after the other:
    independent dependencies are resolved concurrently in an anyio task group, which cost ~0.2 ms of
    CPU per request for two one-line functions (py-spy, docs/performance.md "HTTP").
    """
    del runtime
    auth: AuthenticatedRequest = request.scope["state"][AUTH]
    return auth.partner_id


DEPENDENCIES = {
    "runtime": Provide(provide_runtime, sync_to_thread=False),
    "partner_id": Provide(provide_partner, sync_to_thread=False),
}


def parse_uuid(text: str, kind: str) -> UUID:
    """A UUID path segment; anything else is reported as a missing ``kind`` (404), like an unknown id."""
    try:
        return UUID(text)
    except ValueError:
        raise NotFound(kind, text[:80]) from None
