"""Request and response shapes of ``/api/v1/operations/partners`` (operations): the API key rotation schedule."""

from __future__ import annotations

from typing import Annotated

import msgspec

from .common import Camel, Strict

MAX_KEY_AGE_DAYS = 3650


class KeyPolicyUpdate(Strict):
    """The maximum age of the partner's API keys in days (1 to 3650), or null for none."""

    max_age_days: Annotated[int, msgspec.Meta(ge=1, le=MAX_KEY_AGE_DAYS)] | None


class KeyScheduleView(Camel):
    """One API key under the schedule: when it was issued, when it stops working, when the warning starts."""

    key_id: str
    status: str
    issued_at: str
    expires_at: str | None
    """The earlier of the maximum age and the end of a rotation overlap; null: no deadline."""
    warn_from: str | None
    warned: bool


class KeyPolicyView(Camel):
    partner_id: str
    max_age_days: int | None
    keys: list[KeyScheduleView]
