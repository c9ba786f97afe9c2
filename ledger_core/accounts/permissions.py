"""What each staff role may do in the partner console (seed 001 section 1.2 roles; docs/portal.md "Partner console").

``read-only`` sees everything and changes nothing; ``user`` may also resend webhook deliveries; ``admin`` may
also rotate the partner's API credentials. A staff account without a role is treated as ``read-only``
(the least privilege). Members are never staff and may do none of it.
"""

from __future__ import annotations

from enum import StrEnum

from ledger_core.accounts.identity import StaffRole, UserKind


class StaffAction(StrEnum):
    """Something a staff user does in the console."""

    VIEW = "view"
    RESEND_WEBHOOK = "resend_webhook"
    ROTATE_CREDENTIALS = "rotate_credentials"


_LEAST_ROLE: dict[StaffAction, StaffRole] = {
    StaffAction.VIEW: StaffRole.READ_ONLY,
    StaffAction.RESEND_WEBHOOK: StaffRole.USER,
    StaffAction.ROTATE_CREDENTIALS: StaffRole.ADMIN,
}
_RANK: dict[StaffRole, int] = {StaffRole.READ_ONLY: 0, StaffRole.USER: 1, StaffRole.ADMIN: 2}


def staff_role(user_kind: str, role: str | None) -> StaffRole | None:
    """The role a session acts with: ``None`` for a member (or an unknown kind or role), else the staff role."""
    if user_kind != UserKind.STAFF.value:
        return None
    if role is None:
        return StaffRole.READ_ONLY
    try:
        return StaffRole(role)
    except ValueError:
        return None


def may(role: StaffRole | None, action: StaffAction) -> bool:
    """Whether a session acting with ``role`` (see :func:`staff_role`) may do ``action``."""
    return role is not None and _RANK[role] >= _RANK[_LEAST_ROLE[action]]
