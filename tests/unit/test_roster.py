"""The partner's user roster (deprovisioning sync input): name, header, rows, refusals."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.roster import parse_roster, roster_file_name
from ledger_core.engine.errors import InvalidCommand


def test_the_file_name_gives_partner_and_day() -> None:
    """``users_<partner>_<YYYYMMDD>.csv`` names its partner (underscores allowed) and its day."""
    assert roster_file_name("users_northwestern_mutual_20260115.csv") == ("northwestern_mutual", date(2026, 1, 15))
    assert roster_file_name("users_acme_20261332.csv") is None
    assert roster_file_name("eligibility_acme_20260115.csv") is None


def test_the_header_says_whose_accounts_it_lists() -> None:
    """``staff_id`` lists staff, ``partner_member_id`` members; other columns are ignored; BOM accepted."""
    staff = parse_roster("acme", b"\xef\xbb\xbfstaff_id,email\nEMP1,a@x\nEMP2,b@x\n", name="users_acme_20260115.csv")
    assert (staff.user_kind, staff.as_of, staff.active_ids) == ("staff", date(2026, 1, 15), frozenset({"EMP1", "EMP2"}))
    members = parse_roster("acme", b"partner_member_id\n123\n")
    assert members.user_kind == "member"
    generic = parse_roster("acme", b"partner_user_id\nU1\n", user_kind="staff")
    assert generic.active_ids == {"U1"}


@pytest.mark.parametrize(
    ("content", "kwargs"),
    [
        (b"staff_id\n", {}),  # empty: would deactivate everyone
        (b"email\nx@y\n", {}),  # no id column
        (b"partner_user_id\nU1\n", {}),  # generic column without a kind
        (b"staff_id\nEMP1\n", {"user_kind": "member"}),  # kind contradicts the column
        (b"staff_id\nEMP1\n,\n", {}),  # an empty id
        (b"staff_id\nEMP1\n", {"name": "users_other_20260115.csv"}),  # another partner's file
        (b"staff_id\n\xff\n", {}),  # not UTF-8
    ],
)
def test_bad_rosters_are_refused(content: bytes, kwargs: dict[str, str]) -> None:
    """A roster that cannot be trusted to list the active users deactivates nobody."""
    with pytest.raises(InvalidCommand):
        parse_roster("acme", content, **kwargs)


@given(st.sets(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True), min_size=1, max_size=50))
def test_every_listed_id_is_active(ids: set[str]) -> None:
    """The active set is exactly the ids of the rows."""
    content = ("staff_id\n" + "".join(f"{i}\n" for i in sorted(ids))).encode()
    assert parse_roster("acme", content).active_ids == ids
