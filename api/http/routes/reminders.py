"""``POST /api/v1/reminders`` (seed 001 §3.3 endpoint 4)."""

from __future__ import annotations

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.client.schemas import members as schemas
from api.http.routes.claims import IdempotencyKey
from api.http.threads import run_blocking
from api.runtime import Runtime


class RemindersController(Controller):
    path = "/reminders"
    tags = ("reminders",)

    @post(
        "/",
        opt={"scope": "reminders:write"},
        summary="Trigger a reminder",
        description=(
            "Queues a reminder (202 with its id and estimated send time). The message is sealed under the"
            " member's key before it is recorded. 400 REMINDER_NOT_APPLICABLE for an enrollment reminder"
            " to an enrolled member; 404 MEMBER_NOT_ELIGIBLE for an unknown, erased or ineligible member."
            " With an Idempotency-Key, a retry queues nothing new."
        ),
        status_code=202,
    )
    async def queue(
        self,
        data: JSONBody[schemas.ReminderRequest],
        runtime: NamedDependency[Runtime],
        partner_id: NamedDependency[str],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[schemas.ReminderResponse]:
        result = await run_blocking(
            runtime.ledger.membership.queue_reminder,
            partner_id,
            data.partner_member_id,
            data.reminder_type,
            data.message,
            idempotency_key,
        )
        body = schemas.ReminderResponse(
            status=result.status,
            partner_member_id=result.partner_member_id,
            reminder_id=str(result.reminder_id),
            estimated_send_time=result.estimated_send_time,
        )
        return Response(body, status_code=202)
