"""``GET /api/v1/outcomes?partner_id&start_date&end_date`` (seed 001 §3.3 endpoint 3)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from api.client.schemas import members as schemas
from api.http import views
from api.http.errors import ApiError, parameter_error
from api.http.threads import run_blocking
from api.runtime import Runtime
from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.validation import parse_date


class OutcomesController(Controller):
    path = "/outcomes"
    tags = ("outcomes",)

    @get(
        "/",
        opt={"scope": "outcomes:read"},
        summary="Get aggregate outcomes",
        description=(
            "The outcome feed's metrics for the period (seed 001 §2.4), from counters kept per day: eligible"
            " members at the period's end, enrollments, tests, MZ/ZZ detected, NPS, action rates and the"
            " cost model's money figures. The period is whole calendar months (400 otherwise). A count is"
            " shown only when, in every month of the period, it is 0 or at least the suppression threshold"
            " (default 11); hidden counts and every figure computed from them are null and listed in"
            " `suppressed`. `partner_id`, when given, must be the caller (403 PARTNER_MISMATCH)."
        ),
    )
    async def outcomes(
        self,
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        start_date: Annotated[str, QueryParameter(description="First day of a month, YYYY-MM-DD.")],
        end_date: Annotated[str, QueryParameter(description="Last day of a month (inclusive), YYYY-MM-DD.")],
        requested_partner: Annotated[
            str | None, QueryParameter(name="partner_id", description="The caller's partner id (optional).")
        ] = None,
    ) -> schemas.OutcomesResponse:
        if requested_partner is not None and requested_partner != partner_id:
            raise ApiError("PARTNER_MISMATCH", "partner_id must be the authenticated partner", field="partner_id")
        try:  # errors name the seed's snake_case query parameters
            first, last = parse_date(start_date, "start_date"), parse_date(end_date, "end_date")
            report = await run_blocking(runtime.ledger.membership.outcomes, partner_id, first, last)
        except InvalidCommand as error:
            raise parameter_error(error) from None
        return views.report_response(report)
