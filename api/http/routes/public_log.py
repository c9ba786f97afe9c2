"""``/auditor/log``: the public face of the log for the auditor console (no account, public by design).

What any outsider may check a log with, and nothing more: the latest signed checkpoint and the checkpoint
of a tree size (C2SP tlog-checkpoint notes), RFC 9162 consistency proofs between two checkpoints, and the
verifier keys. These describe the whole log and are the same for every partner (the authenticated
``/api/v1/audit`` routes answer the same bytes); no entry, no partner and no personal datum is reachable
here. The auditor console (:mod:`api.http.pages.auditor`) fetches them; any transparency tool may too.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import PathParameter, QueryParameter

from api.client.schemas import common as schemas
from api.http.errors import ApiError
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.engine.audit_log import MAX_POSITION

TEXT = MediaType.TEXT
PUBLIC = "Public: no credentials. The same bytes as the authenticated `/api/v1/audit` route."


class PublicLogController(Controller):
    path = "/auditor/log"
    tags = ("auditor",)

    @get(
        "/checkpoint",
        summary="The latest signed checkpoint, public (C2SP signed note)",
        description=PUBLIC,
        media_type=TEXT,
    )
    async def checkpoint(self, runtime: NamedDependency[Runtime]) -> Response[str]:
        record = await run_blocking(runtime.audit.checkpoint, None)
        return Response(record.note, media_type=TEXT, headers={"Cache-Control": "no-cache"})

    @get(
        "/checkpoints/{size:int}",
        summary="The signed checkpoint of a tree size, public",
        description=PUBLIC,
        media_type=TEXT,
    )
    async def checkpoint_at(
        self,
        runtime: NamedDependency[Runtime],
        size: Annotated[int, PathParameter(ge=1, le=MAX_POSITION, description="Tree size.")],
    ) -> Response[str]:
        record = await run_blocking(runtime.audit.checkpoint, size)
        return Response(record.note, media_type=TEXT)

    @get("/consistency", summary="RFC 9162 consistency proof between two checkpoints, public", description=PUBLIC)
    async def consistency(
        self,
        runtime: NamedDependency[Runtime],
        from_size: Annotated[
            int, QueryParameter(name="from", ge=0, le=MAX_POSITION, description="The older tree size.")
        ],
        to_size: Annotated[int, QueryParameter(name="to", ge=1, le=MAX_POSITION, description="The newer tree size.")],
    ) -> schemas.ConsistencyResponse:
        consistency = await run_blocking(runtime.audit.consistency, from_size, to_size)
        return schemas.ConsistencyResponse(
            from_size=from_size,
            to_size=to_size,
            consistency_path=[node.hex() for node in consistency.proof.path],
            from_checkpoint=None if consistency.old is None else consistency.old.note,
            to_checkpoint=consistency.new.note,
        )

    @get(
        "/public-key",
        summary="The checkpoint verifier keys (C2SP vkeys), public: the current one first",
        description=f"{PUBLIC} Pin a key obtained out of band: one fetched from the log itself proves nothing.",
        media_type=TEXT,
    )
    async def public_key(self, runtime: NamedDependency[Runtime]) -> Response[str]:
        if runtime.vkey is None:
            raise ApiError("NOT_FOUND", "this server has no checkpoint verifier key configured")
        return Response("".join(f"{vkey}\n" for vkey in (runtime.vkey, *runtime.previous_vkeys)), media_type=TEXT)
