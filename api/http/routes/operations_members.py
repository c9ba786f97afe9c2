"""The operations side of members (scope ``operations`` only, never a partner's): the enrollment lifecycle,
subscriptions, erasure, and rebuilding the outcome counters.

Paths name the target partner and member (``/operations/enrollments/{partner}/{member}/...``); nothing is
inferred from the caller. Every change is a log event (``enrollment.*``, ``subscription.*``,
``member.personal_data_erased``) that the webhook projector turns into the partner's events. Answers
carry the stage or status and the log positions written (empty: the command repeated a recorded step
and recorded nothing), never a result.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from api.client.schemas import members as schemas
from api.http import views
from api.http.pipeline.content import amount_as_sent
from api.http.threads import run_blocking
from api.runtime import Runtime

OPS = {"scope": "operations"}
Partner = Annotated[str, PathParameter(description="The partner whose member this is.")]
Member = Annotated[str, PathParameter(description="The partner's member id.")]
MEMBER_PATH = "/{partner:str}/{member:str}"


class OperationsEnrollmentsController(Controller):
    path = "/operations/enrollments"
    tags = ("operations",)

    @post(MEMBER_PATH, opt=OPS, summary="Record an enrollment", status_code=200)
    async def enroll(
        self, partner: Partner, member: Member, data: JSONBody[schemas.EnrollRequest], runtime: NamedDependency[Runtime]
    ) -> schemas.OperationResponse:
        """The member consented; 422 NOT_ELIGIBLE when under 18 on the date or in a restricted state."""
        result = await run_blocking(runtime.ledger.membership.enroll, partner, member, data.enrollment_date)
        return views.operation_response(partner, result)

    @post(MEMBER_PATH + "/kit", opt=OPS, summary="Record the kit order", status_code=200)
    async def kit(
        self, partner: Partner, member: Member, data: JSONBody[schemas.KitRequest], runtime: NamedDependency[Runtime]
    ) -> schemas.OperationResponse:
        result = await run_blocking(runtime.ledger.membership.order_kit, partner, member, data.kit_order_date)
        return views.operation_response(partner, result)

    @post(MEMBER_PATH + "/sample", opt=OPS, summary="Record the sample's arrival at the lab", status_code=200)
    async def sample(
        self, partner: Partner, member: Member, data: JSONBody[schemas.SampleRequest], runtime: NamedDependency[Runtime]
    ) -> schemas.OperationResponse:
        result = await run_blocking(
            runtime.ledger.membership.receive_sample,
            partner,
            member,
            data.sample_received_date,
            data.estimated_result_date,
        )
        return views.operation_response(partner, result)

    @post(
        MEMBER_PATH + "/result",
        opt=OPS,
        summary="Record the result's delivery",
        description="`result_type` is sealed under the member's key at once and never answered.",
        status_code=200,
    )
    async def result(
        self, partner: Partner, member: Member, data: JSONBody[schemas.ResultRequest], runtime: NamedDependency[Runtime]
    ) -> schemas.OperationResponse:
        result = await run_blocking(
            runtime.ledger.membership.deliver_result, partner, member, data.result_delivery_date, data.result_type
        )
        return views.operation_response(partner, result)

    @post(MEMBER_PATH + "/counseling", opt=OPS, summary="Schedule genetic counseling", status_code=200)
    async def counseling(
        self,
        partner: Partner,
        member: Member,
        data: JSONBody[schemas.CounselingRequest],
        runtime: NamedDependency[Runtime],
    ) -> schemas.OperationResponse:
        result = await run_blocking(runtime.ledger.membership.schedule_counseling, partner, member, data.counseling_at)
        return views.operation_response(partner, result)

    @post(MEMBER_PATH + "/nps", opt=OPS, summary="Record an NPS answer", status_code=200)
    async def nps(
        self, partner: Partner, member: Member, data: JSONBody[schemas.NpsRequest], runtime: NamedDependency[Runtime]
    ) -> schemas.OperationResponse:
        result = await run_blocking(runtime.ledger.membership.record_nps, partner, member, data.score, data.kind)
        return views.operation_response(partner, result)

    @post(
        MEMBER_PATH + "/actions",
        opt=OPS,
        summary="Record a member-reported health action",
        description="The action is sealed under the member's key; partners only see action rates.",
        status_code=200,
    )
    async def action(
        self, partner: Partner, member: Member, data: JSONBody[schemas.ActionRequest], runtime: NamedDependency[Runtime]
    ) -> schemas.OperationResponse:
        result = await run_blocking(runtime.ledger.membership.report_action, partner, member, data.action)
        return views.operation_response(partner, result)


class OperationsMembersController(Controller):
    path = "/operations/members"
    tags = ("operations",)

    @post(MEMBER_PATH + "/subscription", opt=OPS, summary="Start (or restart) a subscription", status_code=200)
    async def subscribe(
        self,
        partner: Partner,
        member: Member,
        request: Request[Any, Any, Any],
        data: JSONBody[schemas.SubscriptionStartRequest],
        runtime: NamedDependency[Runtime],
    ) -> schemas.OperationResponse:
        amount = amount_as_sent(request.scope, "amount", data.amount)
        result = await run_blocking(
            lambda: runtime.ledger.membership.start_subscription(
                partner,
                member,
                start_date=data.start_date,
                amount=amount,
                currency=data.currency,
                frequency=data.frequency,
            )
        )
        return views.operation_response(partner, result)

    @post(MEMBER_PATH + "/subscription/cancel", opt=OPS, summary="Cancel a subscription", status_code=200)
    async def cancel(
        self,
        partner: Partner,
        member: Member,
        data: JSONBody[schemas.SubscriptionCancelRequest],
        runtime: NamedDependency[Runtime],
    ) -> schemas.OperationResponse:
        result = await run_blocking(
            lambda: runtime.ledger.membership.cancel_subscription(
                partner, member, cancellation_date=data.cancellation_date, reason=data.reason
            )
        )
        return views.operation_response(partner, result)

    @post(
        MEMBER_PATH + "/erase",
        opt=OPS,
        summary="Erase a member (crypto-shredding)",
        description=(
            "Withdraws the member from the outcome figures, destroys their data key (names, email, date of"
            " birth, results, actions and reminder messages become unreadable everywhere) and records"
            " `member.personal_data_erased`. Every log entry and proof stays valid. Erasing again records"
            " nothing."
        ),
        status_code=200,
    )
    async def erase(
        self, partner: Partner, member: Member, runtime: NamedDependency[Runtime]
    ) -> schemas.ErasureResponse:
        result = await run_blocking(runtime.ledger.membership.erase, partner, member)
        return schemas.ErasureResponse(
            partner_id=partner,
            partner_member_id=member,
            member_id=str(result.member_id),
            keys_destroyed=result.keys_destroyed,
            positions=list(result.positions),
        )


class OperationsOutcomesController(Controller):
    path = "/operations/outcomes"
    tags = ("operations",)

    @post(
        "/rebuild",
        opt=OPS,
        summary="Rebuild the outcome counters from the log",
        description="Recomputes every member's contribution from the full log and replaces the stored counters.",
        status_code=200,
    )
    async def rebuild(self, runtime: NamedDependency[Runtime]) -> schemas.RebuildResponse:
        rows = await run_blocking(runtime.ledger.membership.rebuild_outcomes)
        return schemas.RebuildResponse(counter_rows=rows)
