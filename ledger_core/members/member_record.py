"""One eligibility-feed record (seed 001 §2.2): its fields as read, and the checks that make it a
:class:`CheckedRecord`, the same for the API and the eligibility feed.

:func:`check_record` is a pure function (the feed's preparation workers run it): member id, plaintext personal
fields, 18+ on the given date, then the plain fields; errors name the field and never echo a personal value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.errors import NotEligible
from ledger_core.shared.validation import (
    check_identifier,
    check_text,
    parse_choice,
    parse_date,
    parse_optional_date,
)
from ledger_core.shared.vocabulary import US_STATE_CODES, Gender, PolicyType

PERSONAL_FIELDS = ("email", "first_name", "last_name", "date_of_birth")
PLAIN_FIELDS = ("gender", "state", "policy_type", "policy_start_date", "email_opt_in")
"""The member's fields recorded as they are (:meth:`Member.plain_fields`)."""
MAX_AGE_YEARS = 130
ADULT_AGE_YEARS = 18
_OPT_IN = {"y": True, "true": True, "1": True, "n": False, "false": False, "0": False, "": False}
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,252}\.[^@\s.]{1,63}")


def add_years(day: date, years: int) -> date:
    """``day`` plus ``years``; 29 February maps to 1 March (the later date: never adult too early)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def is_adult(date_of_birth: date, on: date) -> bool:
    """True iff someone born on ``date_of_birth`` is 18 or older on ``on`` (born 29 February: from 1 March)."""
    return on >= add_years(date_of_birth, ADULT_AGE_YEARS)


def parse_opt_in(value: str | bool | None) -> bool:
    """Our ``email_opt_in`` extension of the seed's record (docs/feeds.md): ``Y``/``N``, ``true``/``false``,
    ``1``/``0`` (any case, surrounding blanks ignored); empty or absent is not opted in."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = value.strip().lower()
    if text in _OPT_IN:
        return _OPT_IN[text]
    raise InvalidCommand("email_opt_in must be Y/N, true/false or 1/0", field="email_opt_in")


def check_plain_profile(
    gender: str | None, state: str, policy_type: str, policy_start_date: str | None, email_opt_in: bool = False
) -> dict[str, Any]:
    """The non-personal fields of an eligibility record, normalized as event values (seed 001 §2.2: M/F/O
    gender, a 2-letter U.S. state, Life/Health/Disability, an optional ``YYYY-MM-DD`` policy start date;
    our extension: the member's ``email_opt_in`` flag, a plain boolean that is not personal data)."""
    if not isinstance(state, str) or state not in US_STATE_CODES:
        raise InvalidCommand("state must be a U.S. state or territory code", field="state", value=str(state)[:8])
    start = parse_optional_date(policy_start_date, "policy_start_date")
    return {
        "gender": None if gender in (None, "") else parse_choice(Gender, gender, "gender").value,
        "state": state,
        "policy_type": parse_choice(PolicyType, policy_type, "policy_type").value,
        "policy_start_date": None if start is None else start.isoformat(),
        "email_opt_in": bool(email_opt_in),
    }


@dataclass(frozen=True, slots=True)
class EligibilityRecord:
    """One eligibility-feed row in plaintext (seed 001 §2.2); empty optional CSV cells become None."""

    partner_member_id: str
    email: str
    first_name: str
    last_name: str
    date_of_birth: str
    state: str
    policy_type: str
    gender: str | None = None
    policy_start_date: str | None = None
    email_opt_in: bool = False
    """Our extension (docs/feeds.md): the member agreed to emails; absent means not."""

    @classmethod
    def from_row(cls, row: Mapping[str, str | None]) -> EligibilityRecord:
        """Build from a CSV/JSON row (extra columns are ignored; a missing required column is an error)."""
        required = ("partner_member_id", "email", "first_name", "last_name", "date_of_birth", "state", "policy_type")
        missing = [name for name in required if not row.get(name)]
        if missing:
            raise InvalidCommand(f"missing required fields {missing}", field=missing[0])
        return cls(
            partner_member_id=str(row["partner_member_id"]),
            email=str(row["email"]),
            first_name=str(row["first_name"]),
            last_name=str(row["last_name"]),
            date_of_birth=str(row["date_of_birth"]),
            state=str(row["state"]),
            policy_type=str(row["policy_type"]),
            gender=row.get("gender") or None,
            policy_start_date=row.get("policy_start_date") or None,
            email_opt_in=parse_opt_in(row.get("email_opt_in")),
        )


@dataclass(frozen=True, slots=True)
class CheckedRecord:
    """An eligibility record that passed :meth:`MemberService.check`: the member id, the personal fields in
    plaintext (to be sealed, never recorded as such) and the plain fields as event values."""

    partner_member_id: str
    personal: dict[str, str]
    plain: dict[str, Any]

    def __reduce__(self) -> tuple[type[CheckedRecord], tuple[str, dict[str, str], dict[str, Any]]]:
        """Pickled as its fields (checked batches cross to preparation workers): a round trip costs 2.3 µs a record
        against 5.3 µs for the dataclass default (measured, session 17)."""
        return CheckedRecord, (self.partner_member_id, self.personal, self.plain)


def check_record(record: EligibilityRecord, on: date) -> CheckedRecord:
    """Every rule :meth:`MemberService.upsert` applies to a record before sealing it, in the same order: member
    id, plaintext personal fields, 18+ on ``on`` (today), then the plain fields (state, gender, policy type,
    start date). A pure function: the eligibility feed checks its rows with it, in worker processes too.

    Raises what :meth:`MemberService.upsert` raises (:class:`InvalidCommand` naming the field,
    :class:`NotEligible`), never echoing a personal value.
    """
    pmid = check_identifier(record.partner_member_id, "partner_member_id", max_length=64)
    personal, born = _check_plaintext(record, on)
    if not is_adult(born, on):
        raise NotEligible(pmid, "age_18_plus", "member is under 18", field="date_of_birth", on=on.isoformat())
    plain = check_plain_profile(
        record.gender, record.state, record.policy_type, record.policy_start_date, record.email_opt_in
    )
    return CheckedRecord(pmid, personal, plain)


@lru_cache(maxsize=8)
def _oldest_birth_date(on: date) -> date:
    """The earliest date of birth accepted on ``on`` (a file's rows are all checked on the same day)."""
    return add_years(on, -MAX_AGE_YEARS)


def _check_plaintext(record: EligibilityRecord, on: date) -> tuple[dict[str, str], date]:
    """The personal fields checked, in :data:`PERSONAL_FIELDS` order, and the date of birth as a date."""
    email = check_text(record.email, "email", max_length=254)
    if not _EMAIL.fullmatch(email):
        raise InvalidCommand("email is not an email address", field="email")
    born = parse_date_quietly(record.date_of_birth)
    if born > on or born < _oldest_birth_date(on):
        raise InvalidCommand("date_of_birth is out of range", field="date_of_birth")
    personal = {
        "email": email,
        "first_name": check_text(record.first_name, "first_name", max_length=100),
        "last_name": check_text(record.last_name, "last_name", max_length=100),
        "date_of_birth": born.isoformat(),
    }
    return personal, born


def parse_date_quietly(value: str) -> date:
    """:func:`parse_date` for date of birth, without echoing the value in the error."""
    try:
        return parse_date(value, "date_of_birth")
    except InvalidCommand:
        raise InvalidCommand("date_of_birth must be a date YYYY-MM-DD", field="date_of_birth") from None
