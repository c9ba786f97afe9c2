"""Staff roles in the partner console: read-only views, user also resends webhooks, admin also rotates keys."""

from __future__ import annotations

import pytest

from ledger_core.accounts.identity import StaffRole, UserKind
from ledger_core.accounts.permissions import StaffAction, may, staff_role

ALLOWED = {
    StaffRole.READ_ONLY: {StaffAction.VIEW},
    StaffRole.USER: {StaffAction.VIEW, StaffAction.RESEND_WEBHOOK},
    StaffRole.ADMIN: {StaffAction.VIEW, StaffAction.RESEND_WEBHOOK, StaffAction.ROTATE_CREDENTIALS},
}


@pytest.mark.parametrize("role", list(StaffRole))
@pytest.mark.parametrize("action", list(StaffAction))
def test_each_role_may_do_exactly_its_actions(role: StaffRole, action: StaffAction) -> None:
    assert may(role, action) is (action in ALLOWED[role])


@pytest.mark.parametrize("action", list(StaffAction))
def test_members_and_unknown_roles_may_do_nothing(action: StaffAction) -> None:
    assert staff_role(UserKind.MEMBER.value, None) is None
    assert staff_role(UserKind.MEMBER.value, "admin") is None  # a member holding a role claim is still a member
    assert staff_role(UserKind.STAFF.value, "superuser") is None
    assert not may(None, action)


def test_staff_without_a_role_is_read_only() -> None:
    """The least privilege: no role attribute (and no provider default) means read-only."""
    assert staff_role(UserKind.STAFF.value, None) is StaffRole.READ_ONLY
    assert staff_role(UserKind.STAFF.value, "user") is StaffRole.USER
