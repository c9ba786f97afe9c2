"""``GET /api/v1/eligibility/{partner_member_id}`` (seed 001 §3.3 endpoint 1)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from api.client.schemas import members as schemas
from api.http import views
from api.http.threads import run_blocking
from api.runtime import Runtime

PartnerMemberId = Annotated[str, PathParameter(description="The partner's member id (from the eligibility feed).")]


class EligibilityController(Controller):
    path = "/eligibility"
    tags = ("eligibility",)

    @get(
        "/{partner_member_id:str}",
        opt={"scope": "eligibility:read"},
        summary="Check eligibility",
        description=(
            "200 with `eligible` and a fixed `reason`; when eligible and not yet enrolled, `enrollment_url`"
            " carries a signed token that expires (settings `enrollment_token_ttl_seconds`). 404"
            " MEMBER_NOT_FOUND (details: `partner_member_id`, `eligible: false`, `reason`) when the member"
            " is not in the caller's eligibility data or was erased."
        ),
    )
    async def check(
        self, partner_member_id: PartnerMemberId, runtime: NamedDependency[Runtime], partner_id: NamedDependency[str]
    ) -> schemas.EligibilityResponse:
        answer = await run_blocking(runtime.ledger.membership.eligibility, partner_id, partner_member_id)
        return views.eligibility_response(answer)
