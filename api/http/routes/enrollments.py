"""``/api/v1/enrollments`` (seed 001 §3.3 endpoint 2).

* ``GET /enrollments/{partner_member_id}`` and ``GET /enrollments?partner_member_id=...`` (the seed's own
  example) answer the same: the member's enrollment.
* ``GET /enrollments?since=...&limit=...&starting_after=...``: the enrollments changed since a time,
  cursor-paginated (Stripe-style ``{data, has_more}``), the API twin of the enrollment feed, under the same
  privacy rules (the partner's own members, erased members left out, ``result_type`` always null).
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from api.client.schemas import members as schemas
from api.http import views
from api.http.errors import parameter_error
from api.http.routes.eligibility import PartnerMemberId
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.engine.audit_log import MAX_POSITION
from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.use_cases import EnrollmentChangesPage
from ledger_core.shared.validation import normalize_query_timestamp

READ = {"scope": "enrollments:read"}
STATUS_DESCRIPTION = (
    "The member's enrollment stage and dates, subscription status and overall NPS answer; 200 with"
    " `enrolled: false` before enrollment. `result_type` is always null: partners never see an"
    " individual result. 404 MEMBER_NOT_FOUND for an unknown or erased member."
)


def _changes_page(page: EnrollmentChangesPage) -> schemas.EnrollmentChangesPage:
    return schemas.EnrollmentChangesPage(
        data=[
            schemas.EnrollmentChange(
                position=change.position,
                changed_at=change.changed_at,
                enrollment=views.enrollment_response(change.status),
            )
            for change in page.data
        ],
        has_more=page.has_more,
    )


class EnrollmentsController(Controller):
    path = "/enrollments"
    tags = ("enrollments",)

    @get("/{partner_member_id:str}", opt=READ, summary="Get enrollment status", description=STATUS_DESCRIPTION)
    async def status(
        self, partner_member_id: PartnerMemberId, runtime: NamedDependency[Runtime], partner_id: NamedDependency[str]
    ) -> schemas.EnrollmentResponse:
        status = await run_blocking(runtime.ledger.membership.enrollment, partner_id, partner_member_id)
        return views.enrollment_response(status)

    @get(
        "/",
        opt=READ,
        summary="Get one enrollment by query, or list the enrollments changed since a time",
        description=(
            "With `partner_member_id`: exactly `GET /enrollments/{partner_member_id}`. Without it: the"
            " enrollments changed at or after `since` (RFC 3339), oldest change first, each with the member's"
            " enrollment as it is now; pass the last `position` seen as `starting_after` for the next page."
            " Percent-encode a `+` offset as `%2B` (an unencoded `+` is read back as `+`)."
        ),
    )
    async def query(
        self,
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        partner_member_id: Annotated[
            str | None, QueryParameter(description="The partner's member id: answer for this member only.")
        ] = None,
        since: Annotated[str | None, QueryParameter(description="RFC 3339: changes recorded at or after.")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1 to 100.")] = 10,
        starting_after: Annotated[
            int | None, QueryParameter(ge=0, le=MAX_POSITION, description="Cursor: the last position seen.")
        ] = None,
    ) -> schemas.EnrollmentResponse | schemas.EnrollmentChangesPage:
        membership = runtime.ledger.membership
        if partner_member_id is not None:
            if since is not None or starting_after is not None:
                raise parameter_error(
                    InvalidCommand("partner_member_id is not combined with since or starting_after", field="since")
                )
            return views.enrollment_response(await run_blocking(membership.enrollment, partner_id, partner_member_id))
        try:
            moment = None if since is None else normalize_query_timestamp(since, "since")
        except InvalidCommand as error:
            raise parameter_error(error) from None
        page = await run_blocking(
            lambda: membership.enrollment_changes(partner_id, since=moment, limit=limit, starting_after=starting_after)
        )
        return _changes_page(page)
