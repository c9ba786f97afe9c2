"""SDK methods for eligibility, enrollments, outcomes, reminders and members (seed 001 §3.3), and for the
operations side of members (an operations principal's client). Mixed into
:class:`api.client.ledger_client.LedgerClient`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from .core import ClientCore
from .schemas import members as schemas


def _segment(value: str) -> str:
    return quote(value, safe="")


class MembersClientMixin(ClientCore):
    """Partner calls (eligibility, enrollments, outcomes, reminders, members) and operations calls."""

    # -- partner side --------------------------------------------------------------------------------
    def check_eligibility(self, partner_member_id: str) -> schemas.EligibilityResponse:
        path = f"/api/v1/eligibility/{_segment(partner_member_id)}"
        return self._json("GET", path, schemas.EligibilityResponse)

    def get_enrollment(self, partner_member_id: str) -> schemas.EnrollmentResponse:
        path = f"/api/v1/enrollments/{_segment(partner_member_id)}"
        return self._json("GET", path, schemas.EnrollmentResponse)

    def enrollment_changes(
        self, *, since: str | None = None, limit: int = 10, starting_after: int | None = None
    ) -> schemas.EnrollmentChangesPage:
        """``GET /api/v1/enrollments?since=...``: enrollments changed since a time (``since`` is percent-encoded,
        ``+`` as ``%2B``), one page; pass the last ``position`` as ``starting_after`` for the next."""
        params = {"since": since, "limit": limit, "starting_after": starting_after}
        return self._decode(self.send("GET", "/api/v1/enrollments", params=params), schemas.EnrollmentChangesPage)

    def iter_enrollment_changes(
        self, *, since: str | None = None, page_size: int = 100
    ) -> Iterator[schemas.EnrollmentChange]:
        """Every enrollment change since ``since``, page after page."""
        cursor: int | None = None
        while True:
            page = self.enrollment_changes(since=since, limit=page_size, starting_after=cursor)
            yield from page.data
            if not page.has_more or not page.data:
                return
            cursor = page.data[-1].position

    def get_outcomes(
        self, start_date: str, end_date: str, *, partner_id: str | None = None
    ) -> schemas.OutcomesResponse:
        params = {"partner_id": partner_id, "start_date": start_date, "end_date": end_date}
        return self._decode(self.send("GET", "/api/v1/outcomes", params=params), schemas.OutcomesResponse)

    def send_reminder(
        self,
        partner_member_id: str,
        message: str,
        *,
        reminder_type: str = "enrollment",
        idempotency_key: str | None = None,
    ) -> schemas.ReminderResponse:
        """``POST /api/v1/reminders`` (202)."""
        body = {"partner_member_id": partner_member_id, "reminder_type": reminder_type, "message": message}
        return self._json(
            "POST", "/api/v1/reminders", schemas.ReminderResponse, body=body, idempotency_key=idempotency_key
        )

    def upsert_member(
        self, record: schemas.MemberRecord | Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> schemas.MemberResponse:
        """``POST /api/v1/members``: 201 registered, 200 updated (or unchanged)."""
        return self._json(
            "POST", "/api/v1/members", schemas.MemberResponse, body=record, idempotency_key=idempotency_key
        )

    # -- operations side -----------------------------------------------------------------------------
    def _operation(
        self, area: str, partner_id: str, partner_member_id: str, step: str, body: Mapping[str, Any]
    ) -> schemas.OperationResponse:
        path = f"/api/v1/operations/{area}/{_segment(partner_id)}/{_segment(partner_member_id)}{step}"
        return self._json("POST", path, schemas.OperationResponse, body=dict(body))

    def record_enrollment(
        self, partner_id: str, partner_member_id: str, enrollment_date: str
    ) -> schemas.OperationResponse:
        return self._operation("enrollments", partner_id, partner_member_id, "", {"enrollment_date": enrollment_date})

    def record_kit_order(
        self, partner_id: str, partner_member_id: str, kit_order_date: str
    ) -> schemas.OperationResponse:
        return self._operation("enrollments", partner_id, partner_member_id, "/kit", {"kit_order_date": kit_order_date})

    def record_sample(
        self, partner_id: str, partner_member_id: str, sample_received_date: str, estimated_result_date: str
    ) -> schemas.OperationResponse:
        body = {"sample_received_date": sample_received_date, "estimated_result_date": estimated_result_date}
        return self._operation("enrollments", partner_id, partner_member_id, "/sample", body)

    def record_result(
        self, partner_id: str, partner_member_id: str, result_delivery_date: str, result_type: str
    ) -> schemas.OperationResponse:
        body = {"result_delivery_date": result_delivery_date, "result_type": result_type}
        return self._operation("enrollments", partner_id, partner_member_id, "/result", body)

    def schedule_counseling(
        self, partner_id: str, partner_member_id: str, counseling_at: str
    ) -> schemas.OperationResponse:
        body = {"counseling_at": counseling_at}
        return self._operation("enrollments", partner_id, partner_member_id, "/counseling", body)

    def record_nps(
        self, partner_id: str, partner_member_id: str, score: int, kind: str = "overall"
    ) -> schemas.OperationResponse:
        body = {"score": score, "kind": kind}
        return self._operation("enrollments", partner_id, partner_member_id, "/nps", body)

    def record_action(self, partner_id: str, partner_member_id: str, action: str) -> schemas.OperationResponse:
        return self._operation("enrollments", partner_id, partner_member_id, "/actions", {"action": action})

    def start_subscription(
        self,
        partner_id: str,
        partner_member_id: str,
        start_date: str,
        amount: str,
        *,
        currency: str = "USD",
        frequency: str = "annual",
    ) -> schemas.OperationResponse:
        body = {"start_date": start_date, "amount": amount, "currency": currency, "frequency": frequency}
        return self._operation("members", partner_id, partner_member_id, "/subscription", body)

    def cancel_subscription(
        self, partner_id: str, partner_member_id: str, cancellation_date: str, reason: str | None = None
    ) -> schemas.OperationResponse:
        body = {"cancellation_date": cancellation_date, "reason": reason}
        return self._operation("members", partner_id, partner_member_id, "/subscription/cancel", body)

    def erase_member(self, partner_id: str, partner_member_id: str) -> schemas.ErasureResponse:
        path = f"/api/v1/operations/members/{_segment(partner_id)}/{_segment(partner_member_id)}/erase"
        return self._json("POST", path, schemas.ErasureResponse, body={})

    def rebuild_outcomes(self) -> schemas.RebuildResponse:
        return self._json("POST", "/api/v1/operations/outcomes/rebuild", schemas.RebuildResponse, body={})
