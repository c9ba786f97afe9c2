"""Request and response shapes of the eligibility, enrollment, outcome, reminder and member endpoints.

These endpoints implement seed 001 §3.3, whose JSON uses snake_case names (``partner_member_id``,
``enrollment_url``, ...); the shapes keep the seed's names exactly, unlike the claims API of seed 000
(camelCase). Errors use the same envelope as every other endpoint. ``result_type`` is typed ``None``:
no response shape can carry an individual result.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .common import Amount

ResultTypeName = Literal["MM", "MZ", "MS", "SZ", "ZZ"]
ReminderTypeName = Literal["enrollment", "kit", "sample", "counseling", "subscription"]
NpsKindName = Literal["overall", "counseling"]
ActionName = Literal[
    "smoking_cessation",
    "doctor_visit",
    "lung_function_test",
    "liver_function_test",
    "family_testing",
    "alcohol_reduction",
]
IsoDate = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$", description="A date, YYYY-MM-DD.")]


class Snake(msgspec.Struct):
    """Base of the seed 001 shapes: field names as written (snake_case)."""


class SnakeRequest(Snake, forbid_unknown_fields=True):
    """Base of request bodies: unknown fields are refused."""


# -- partner side ------------------------------------------------------------------------------------
class EligibilityResponse(Snake):
    """Seed 001 §3.3 endpoint 1. ``enrollment_url`` carries a signed, expiring token when the member is
    eligible and not yet enrolled; ``rule`` names the failed rule when not eligible."""

    partner_member_id: str
    eligible: bool
    reason: str
    enrollment_url: str | None = None
    enrolled: bool = False
    rule: str | None = None


class EnrollmentResponse(Snake):
    """Seed 001 §3.3 endpoint 2. ``result_type`` is always null: partners never see an individual result."""

    partner_member_id: str
    enrolled: bool
    reason: str | None = None
    enrollment_date: str | None = None
    test_status: str | None = None
    kit_order_date: str | None = None
    sample_received_date: str | None = None
    estimated_result_date: str | None = None
    result_delivery_date: str | None = None
    result_type: None = None
    counseling_scheduled: bool = False
    counseling_date: str | None = None
    subscription_status: str = "none"
    nps_score: int | None = None


class EnrollmentChange(Snake):
    """An enrollment that changed: the change's log ``position`` (the cursor), its time, and the member's
    enrollment as ``GET /api/v1/enrollments/{id}`` shows it now (``result_type`` always null)."""

    position: int
    changed_at: str
    enrollment: EnrollmentResponse


class EnrollmentChangesPage(Snake):
    """Enrollments changed since a time, oldest change first (Stripe-style ``{data, has_more}``)."""

    data: list[EnrollmentChange]
    has_more: bool


class OutcomeMetrics(Snake):
    """Seed 001 §3.3 endpoint 3 / §2.4. Counts from 1 to threshold-1, and figures computed from them, are null."""

    eligible_members: int | None
    enrolled_members: int | None
    enrollment_rate: float | None
    tests_completed: int | None
    mz_detected: int | None
    mz_detection_rate: float | None
    zz_detected: int | None
    nps_overall: int | None
    nps_counseling: int | None
    action_rate_smoking_cessation: float | None
    action_rate_doctor_visit: float | None
    action_rate_lung_function_test: float | None
    action_rate_liver_function_test: float | None
    action_rate_family_testing: float | None
    action_rate_alcohol_reduction: float | None
    projected_savings_5yr: int | None
    cost_per_mz: int | None


class OutcomesResponse(Snake):
    partner_id: str
    period_start: str
    period_end: str
    metrics: OutcomeMetrics
    suppressed: list[str]
    suppression_threshold: int


class ReminderRequest(SnakeRequest):
    """Seed 001 §3.3 endpoint 4. The message is sealed under the member's key before it reaches the log."""

    partner_member_id: str
    message: str
    reminder_type: ReminderTypeName = "enrollment"


class ReminderResponse(Snake):
    status: str
    partner_member_id: str
    reminder_id: str
    estimated_send_time: str


class MemberRecord(SnakeRequest):
    """One eligibility record (the seed 001 §2.2 feed schema)."""

    partner_member_id: str
    email: str
    first_name: str
    last_name: str
    date_of_birth: IsoDate
    state: str
    policy_type: Literal["Life", "Health", "Disability"]
    gender: Literal["M", "F", "O"] | None = None
    policy_start_date: IsoDate | None = None
    email_opt_in: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "Our extension of the seed's record: the member agreed to receive email. A member the"
                " eligibility feed registers with this true gets one 'you are eligible' email at their own"
                " address. Absent means false (each upsert states the whole record)."
            ),
            examples=[True],
        ),
    ] = False


class MemberResponse(Snake):
    """What an upsert did: never echoes personal data, only which fields changed."""

    partner_member_id: str
    created: bool
    changed: list[str]


# -- operations side ---------------------------------------------------------------------------------
class EnrollRequest(SnakeRequest):
    enrollment_date: IsoDate


class KitRequest(SnakeRequest):
    kit_order_date: IsoDate


class SampleRequest(SnakeRequest):
    sample_received_date: IsoDate
    estimated_result_date: IsoDate


class ResultRequest(SnakeRequest):
    """The result is sealed under the member's key at once; it is never stored or answered in plaintext."""

    result_delivery_date: IsoDate
    result_type: ResultTypeName


class CounselingRequest(SnakeRequest):
    counseling_at: str


class NpsRequest(SnakeRequest):
    score: Annotated[int, msgspec.Meta(ge=0, le=10)]
    kind: NpsKindName = "overall"


class ActionRequest(SnakeRequest):
    action: ActionName


class SubscriptionStartRequest(SnakeRequest):
    start_date: IsoDate
    amount: Amount
    currency: Literal["USD", "EUR", "GBP"] = "USD"
    frequency: Literal["annual", "monthly"] = "annual"


class SubscriptionCancelRequest(SnakeRequest):
    cancellation_date: IsoDate
    reason: str | None = None


class OperationResponse(Snake):
    """The state after an operations command and the log positions it wrote (empty: nothing new)."""

    partner_id: str
    partner_member_id: str
    status: str
    positions: list[int]


class ErasureResponse(Snake):
    partner_id: str
    partner_member_id: str
    member_id: str
    keys_destroyed: int
    positions: list[int]


class RebuildResponse(Snake):
    counter_rows: int
