"""``POST /api/v1/members``: one eligibility record (the feed's schema, seed 001 §2.2) upserted."""

from __future__ import annotations

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.client.schemas import members as schemas
from api.http.routes.claims import IdempotencyKey
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.members.member_record import EligibilityRecord


class MembersController(Controller):
    path = "/members"
    tags = ("eligibility",)

    @post(
        "/",
        opt={"scope": "eligibility:write"},
        summary="Upsert one eligibility record",
        description=(
            "Registers (201) or updates (200) one member from an eligibility-feed row. Names, email and date"
            " of birth are sealed under the member's own key before anything is recorded; the answer never"
            " echoes them, only the names of changed fields. 422 NOT_ELIGIBLE (rule `age_18_plus`) for a"
            " member under 18; 400 VALIDATION_ERROR names a bad field without repeating its value."
        ),
        status_code=201,
    )
    async def upsert(
        self,
        data: JSONBody[schemas.MemberRecord],
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[schemas.MemberResponse]:
        record = EligibilityRecord(
            partner_member_id=data.partner_member_id,
            email=data.email,
            first_name=data.first_name,
            last_name=data.last_name,
            date_of_birth=data.date_of_birth,
            state=data.state,
            policy_type=data.policy_type,
            gender=data.gender,
            policy_start_date=data.policy_start_date,
            email_opt_in=data.email_opt_in,
        )
        result = await run_blocking(runtime.ledger.membership.upsert, partner_id, record)
        body = schemas.MemberResponse(
            partner_member_id=result.partner_member_id, created=result.created, changed=list(result.changed)
        )
        return Response(body, status_code=201 if result.created else 200)
