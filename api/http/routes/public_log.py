"""``/auditor/log``: the public face of the log for the auditor console (no account, public by design).

What any outsider may check a log with, and nothing more: the latest signed checkpoint and the checkpoint
of a tree size (C2SP tlog-checkpoint notes), RFC 9162 consistency proofs between two checkpoints, and the
verifier keys. These describe the whole log and are the same for every partner (the authenticated
``/api/v1/audit`` routes answer the same bytes); no entry, no partner and no personal datum is reachable
here. The auditor console (:mod:`api.http.pages.auditor`) fetches them; any transparency tool may too.

Having no credentials, every request is counted against the client address's ``anonymous`` rate limit
(the policy authentication failures are charged to), with its rate-limit headers, or a 429.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import PathParameter, QueryParameter

from api.client.schemas import common as schemas
from api.http.context import client_address
from api.http.errors import ApiError
from api.http.threads import run_blocking
from api.runtime import Runtime
from api.settings import ANONYMOUS_TIER
from ledger_core.engine.audit_log import MAX_POSITION

TEXT = MediaType.TEXT
PUBLIC = (
    "Public: no credentials (the client address's anonymous rate limit applies)."
    " The same bytes as the authenticated `/api/v1/audit` route."
)
AnyRequest = Request[Any, Any, Any]


async def _admit(runtime: Runtime, request: AnyRequest) -> dict[str, str]:
    """Count the request against its client address's anonymous policy: the headers, or a 429."""
    return await run_blocking(runtime.security.limits.limit, f"ip:{client_address(request.scope)}", ANONYMOUS_TIER)


class PublicLogController(Controller):
    path = "/auditor/log"
    tags = ("auditor",)

    @get(
        "/checkpoint",
        summary="The latest signed checkpoint, public (C2SP signed note)",
        description=PUBLIC,
        media_type=TEXT,
    )
    async def checkpoint(self, runtime: NamedDependency[Runtime], request: AnyRequest) -> Response[str]:
        headers = await _admit(runtime, request)
        record = await run_blocking(runtime.audit.checkpoint, None)
        return Response(record.note, media_type=TEXT, headers={**headers, "Cache-Control": "no-cache"})

    @get(
        "/checkpoints/{size:int}",
        summary="The signed checkpoint of a tree size, public",
        description=PUBLIC,
        media_type=TEXT,
    )
    async def checkpoint_at(
        self,
        runtime: NamedDependency[Runtime],
        request: AnyRequest,
        size: Annotated[int, PathParameter(ge=1, le=MAX_POSITION, description="Tree size.")],
    ) -> Response[str]:
        headers = await _admit(runtime, request)
        record = await run_blocking(runtime.audit.checkpoint, size)
        return Response(record.note, media_type=TEXT, headers=headers)

    @get("/consistency", summary="RFC 9162 consistency proof between two checkpoints, public", description=PUBLIC)
    async def consistency(
        self,
        runtime: NamedDependency[Runtime],
        request: AnyRequest,
        from_size: Annotated[
            int, QueryParameter(name="from", ge=0, le=MAX_POSITION, description="The older tree size.")
        ],
        to_size: Annotated[int, QueryParameter(name="to", ge=1, le=MAX_POSITION, description="The newer tree size.")],
    ) -> Response[schemas.ConsistencyResponse]:
        headers = await _admit(runtime, request)
        consistency = await run_blocking(runtime.audit.consistency, from_size, to_size)
        answer = schemas.ConsistencyResponse(
            from_size=from_size,
            to_size=to_size,
            consistency_path=[node.hex() for node in consistency.proof.path],
            from_checkpoint=None if consistency.old is None else consistency.old.note,
            to_checkpoint=consistency.new.note,
        )
        return Response(answer, headers=headers)

    @get(
        "/public-key",
        summary="The checkpoint verifier keys (C2SP vkeys), public: the current one first",
        description=f"{PUBLIC} Pin a key obtained out of band: one fetched from the log itself proves nothing.",
        media_type=TEXT,
    )
    async def public_key(self, runtime: NamedDependency[Runtime], request: AnyRequest) -> Response[str]:
        headers = await _admit(runtime, request)
        if runtime.vkey is None:
            raise ApiError("NOT_FOUND", "this server has no checkpoint verifier key configured")
        keys = "".join(f"{vkey}\n" for vkey in (runtime.vkey, *runtime.previous_vkeys))
        return Response(keys, media_type=TEXT, headers=headers)
