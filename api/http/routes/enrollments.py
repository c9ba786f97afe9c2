"""``GET /api/v1/enrollments/{partner_member_id}`` (seed 001 §3.3 endpoint 2)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from api.client.schemas import members as schemas
from api.http import views
from api.http.routes.eligibility import PartnerMemberId
from api.http.threads import run_blocking
from api.runtime import Runtime


class EnrollmentsController(Controller):
    path = "/enrollments"
    tags = ("enrollments",)

    @get(
        "/{partner_member_id:str}",
        opt={"scope": "enrollments:read"},
        summary="Get enrollment status",
        description=(
            "The member's enrollment stage and dates, subscription status and overall NPS answer; 200 with"
            " `enrolled: false` before enrollment. `result_type` is always null: partners never see an"
            " individual result. 404 MEMBER_NOT_FOUND for an unknown or erased member."
        ),
    )
    async def status(
        self, partner_member_id: PartnerMemberId, runtime: NamedDependency[Runtime], partner_id: NamedDependency[str]
    ) -> schemas.EnrollmentResponse:
        status = await run_blocking(runtime.ledger.membership.enrollment, partner_id, partner_member_id)
        return views.enrollment_response(status)
