"""The partner's roster by operations API (scope ``operations``): deprovisioning sync (docs/sso.md).

``POST /api/v1/operations/sso/{partner}/roster`` takes the CSV of the users who remain active
(``Content-Type: text/csv``; ``?user_kind=staff|member`` when its id column is the generic
``partner_user_id``; ``?file=users_<partner>_<YYYYMMDD>.csv`` names it like the SFTP file) and deactivates
every other active account of that partner and kind, revoking their sessions. The answer lists the
deactivated account ids and counts the rest; no personal attribute is read or answered.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from adapters.roster import parse_roster
from api.http.threads import run_blocking
from api.runtime import Runtime
from api.sso_roster import apply_roster

OPS = {"scope": "operations"}
Partner = Annotated[str, PathParameter(description="The partner whose roster this is.")]
UserKind = Annotated[str | None, QueryParameter(description="staff or member (generic partner_user_id column).")]
FileName = Annotated[str | None, QueryParameter(description="The roster's file name, users_<partner>_<date>.csv.")]


class OperationsSsoRosterController(Controller):
    path = "/operations/sso"
    tags = ("sso",)

    @post("/{partner:str}/roster", opt=OPS, summary="Apply a partner's user roster (deprovisioning)", status_code=200)
    async def roster(
        self,
        request: Request[Any, Any, Any],
        partner: Partner,
        runtime: NamedDependency[Runtime],
        user_kind: UserKind = None,
        file: FileName = None,
    ) -> dict[str, Any]:
        roster = parse_roster(partner, await request.body(), user_kind=user_kind, name=file)
        sso = runtime.sign_in()

        def run() -> dict[str, Any]:
            source = file or "uploaded by operations"
            return apply_roster(
                runtime.ledger, sso.store, sso.oidc.token_store, roster, source=source, actor="operations"
            )

        return await run_blocking(run)
