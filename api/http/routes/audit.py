"""``/api/v1/audit``: the caller's log entries, their proofs, signed checkpoints, consistency, the vkey.

Log entries and entry proofs are the caller's own only (another partner's position is 404
``ENTRY_NOT_FOUND``, as if it did not exist). Checkpoints, consistency proofs and the verifier key
describe the whole log and are the same for everyone.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import PathParameter, QueryParameter

from api.client.schemas import common as schemas
from api.http import views
from api.http.errors import ApiError, parameter_error
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.engine.audit_log import MAX_POSITION, LogQuery
from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.validation import normalize_query_timestamp

TEXT = MediaType.TEXT
"""``text/plain``: Litestar adds ``; charset=utf-8`` once (RFC 6838 section 4.3: no repeated parameter)."""
PLUS = "Percent-encode a + offset as %2B (an unencoded + is read back as +, since a space is never valid there)."
READ = {"scope": "audit:read"}


def _time(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return normalize_query_timestamp(value, name)
    except InvalidCommand as error:
        raise parameter_error(error) from None


class AuditController(Controller):
    path = "/audit"
    tags = ("audit",)

    @get(
        "/logs",
        opt=READ,
        summary="Query audit logs",
        description=(
            "The caller's log entries in log order, Stripe-style pagination: pass the last `position` seen"
            " as `starting_after`; `has_more` says whether another page follows."
        ),
    )
    async def logs(
        self,
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")] = 10,
        starting_after: Annotated[
            int | None, QueryParameter(ge=0, le=MAX_POSITION, description="Cursor: the last position seen.")
        ] = None,
        event_type: Annotated[
            str | None, QueryParameter(name="type", description="Event type, e.g. claim.submitted.")
        ] = None,
        aggregate: Annotated[
            str | None, QueryParameter(description="Only this aggregate id (a claim id, ...).")
        ] = None,
        since: Annotated[str | None, QueryParameter(description=f"RFC 3339: recordedAt at or after. {PLUS}")] = None,
        until: Annotated[str | None, QueryParameter(description=f"RFC 3339: recordedAt at or before. {PLUS}")] = None,
    ) -> schemas.LogPage:
        query = LogQuery(limit, starting_after, event_type, aggregate, _time(since, "since"), _time(until, "until"))
        page = await run_blocking(runtime.audit.page, partner_id, query)
        return schemas.LogPage(data=[views.log_entry(row) for row in page.rows], has_more=page.has_more)

    @get("/proofs/{position:int}", opt=READ, summary="Get the audit proof of one of the caller's entries")
    async def proof(
        self,
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        position: Annotated[
            int, PathParameter(ge=0, le=MAX_POSITION, description="The entry's position (leaf index).")
        ],
        tree_size: Annotated[
            int | None,
            QueryParameter(name="treeSize", ge=1, le=MAX_POSITION, description="Checkpoint size (default: latest)."),
        ] = None,
    ) -> schemas.AuditProof:
        proven = await run_blocking(runtime.audit.prove_partner_entry, partner_id, position, tree_size)
        return views.audit_proof(proven)

    @get("/checkpoint", opt=READ, summary="The latest signed checkpoint (C2SP signed note)", media_type=TEXT)
    async def checkpoint(self, runtime: NamedDependency[Runtime]) -> Response[str]:
        record = await run_blocking(runtime.audit.checkpoint, None)
        return Response(record.note, media_type=TEXT)

    @get("/checkpoints/{size:int}", opt=READ, summary="The signed checkpoint of a tree size", media_type=TEXT)
    async def checkpoint_at(
        self,
        runtime: NamedDependency[Runtime],
        size: Annotated[int, PathParameter(ge=1, le=MAX_POSITION, description="Tree size.")],
    ) -> Response[str]:
        record = await run_blocking(runtime.audit.checkpoint, size)
        return Response(record.note, media_type=TEXT)

    @get("/consistency", opt=READ, summary="RFC 9162 consistency proof between two checkpoints")
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
        opt=READ,
        summary="The checkpoint verifier keys (C2SP vkeys): the current one first, then the ones it replaced",
        description=(
            "One vkey per line. The first line is the key signing new checkpoints; after `ledger keys rotate`"
            " the previous keys follow, newest first: each still verifies the checkpoints signed before it was"
            " replaced."
        ),
        media_type=TEXT,
    )
    async def public_key(self, runtime: NamedDependency[Runtime]) -> Response[str]:
        if runtime.vkey is None:
            raise ApiError("NOT_FOUND", "this server has no checkpoint verifier key configured")
        return Response("".join(f"{vkey}\n" for vkey in (runtime.vkey, *runtime.previous_vkeys)), media_type=TEXT)
