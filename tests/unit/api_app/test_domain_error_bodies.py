"""Errors the use cases raise in the domain render exactly as the HTTP layer's own errors did before them."""

from __future__ import annotations

import pytest

from api.http.errors import ApiError, parameter_error, render_problem
from ledger_core.engine.errors import InvalidCommand, LedgerError
from ledger_core.engine.merkle import CheckpointNotFound
from ledger_core.members.eligibility import NOT_FOUND_REASON
from ledger_core.members.errors import EnrollmentNotFound, MemberNotEligible, MemberNotFound, SubscriptionNotFound
from ledger_core.shared.validation import parse_date

DOCS = "https://docs.example/errors"


@pytest.mark.parametrize(
    ("domain", "api"),
    [
        (
            MemberNotFound("m-1", NOT_FOUND_REASON, eligible=False, reason=NOT_FOUND_REASON),
            ApiError(
                "MEMBER_NOT_FOUND", NOT_FOUND_REASON, partner_member_id="m-1", eligible=False, reason=NOT_FOUND_REASON
            ),
        ),
        (MemberNotFound("m-1"), ApiError("MEMBER_NOT_FOUND", "member not found", partner_member_id="m-1")),
        (EnrollmentNotFound("m-1"), ApiError("ENROLLMENT_NOT_FOUND", "enrollment not found", partner_member_id="m-1")),
        (
            SubscriptionNotFound("m-1"),
            ApiError("SUBSCRIPTION_NOT_FOUND", "subscription not found", partner_member_id="m-1"),
        ),
        (
            MemberNotEligible("m-1", "Genetic testing is not offered", "state_allowed"),
            ApiError(
                "MEMBER_NOT_ELIGIBLE",
                "Genetic testing is not offered",
                partner_member_id="m-1",
                eligible=False,
                rule="state_allowed",
            ),
        ),
        (CheckpointNotFound(None), ApiError("CHECKPOINT_NOT_FOUND", "no checkpoint has been signed yet", size=None)),
        (CheckpointNotFound(7), ApiError("CHECKPOINT_NOT_FOUND", "no checkpoint of size 7", size=7)),
        (
            InvalidCommand("from must not exceed to", field="from"),
            ApiError("VALIDATION_ERROR", "from must not exceed to", field="from"),
        ),
    ],
)
def test_domain_errors_render_like_the_api_errors_they_replace(domain: LedgerError, api: ApiError) -> None:
    """Same status, headers and body bytes."""
    assert render_problem(domain, "req-1", DOCS) == render_problem(api, "req-1", DOCS)


def test_a_query_parameter_keeps_its_snake_case_name() -> None:
    """parameter_error names ``start_date`` as the client spelled it (a body field would be camelCased)."""
    with pytest.raises(InvalidCommand) as caught:
        parse_date("2026-13-01", "start_date")
    status, _, body = render_problem(parameter_error(caught.value), "req-1", DOCS)
    assert status == 400
    assert b'"details":{"field":"start_date"}' in body
