"""Our ``email_opt_in`` extension of the eligibility record: the header rule, the JSON forms, the values."""

from __future__ import annotations

import io
import json

import pytest

from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.feeds.formats import ELIGIBILITY_COLUMNS, FeedFormat, FileRejected, RowRefusal
from ledger_core.members.feeds.parsing import RawRecord, RecordReader
from ledger_core.members.member_record import EligibilityRecord, parse_opt_in

HEADER = ",".join(ELIGIBILITY_COLUMNS)
ROW = "12345678,john.doe@email.com,John,Doe,1980-05-15,M,IA,Life,2022-01-01"


def records(data: bytes, fmt: FeedFormat = FeedFormat.CSV) -> list[RawRecord]:
    return list(RecordReader(io.BytesIO(data), fmt))


def test_the_column_is_optional_anywhere_in_the_header() -> None:
    with_flag = records(f"email_opt_in,{HEADER}\nY,{ROW}\n".encode())
    without = records(f"{HEADER}\n{ROW}\n".encode())
    assert with_flag[0].fields is not None
    assert with_flag[0].fields["email_opt_in"] == "Y"
    assert without[0].fields is not None
    assert "email_opt_in" not in without[0].fields
    assert not EligibilityRecord.from_row(without[0].fields).email_opt_in
    assert EligibilityRecord.from_row(with_flag[0].fields).email_opt_in


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (HEADER + ",email_opt_in,extra", "unknown columns at positions [11]"),
        (HEADER + ",email_opt_in,email_opt_in", "duplicate columns ['email_opt_in']"),
        (HEADER + ",email_optin", "unknown columns at positions [10]"),
    ],
)
def test_unknown_and_repeated_columns_are_still_refused(header: str, words: str) -> None:
    with pytest.raises(FileRejected) as raised:
        records(f"{header}\n{ROW},Y\n".encode())
    assert words in raised.value.message


def test_json_takes_a_string_or_a_boolean() -> None:
    item: dict[str, object] = dict(zip(ELIGIBILITY_COLUMNS, ROW.split(","), strict=True))
    found = records(
        json.dumps([{**item, "email_opt_in": True}, {**item, "email_opt_in": "N"}, item]).encode(), FeedFormat.JSON
    )
    assert [r.fields["email_opt_in"] if r.fields else "?" for r in found] == ["true", "N", None]
    numeric = records(json.dumps({**item, "email_opt_in": 1}).encode(), FeedFormat.JSON_LINES)
    assert numeric[0].problem is not None
    assert numeric[0].problem[:2] == (RowRefusal.INVALID, "email_opt_in")


OPT_IN_VALUES = [("Y", True), ("y", True), ("true", True), ("TRUE", True), (" 1 ", True), (True, True)]
OPT_OUT_VALUES = [("N", False), ("false", False), ("0", False), ("", False), (None, False), (False, False)]


@pytest.mark.parametrize(("value", "expected"), [*OPT_IN_VALUES, *OPT_OUT_VALUES])
def test_values(value: str | bool | None, expected: bool) -> None:
    assert parse_opt_in(value) is expected


@pytest.mark.parametrize("value", ["yes please", "2", "on", "john.doe@email.com"])
def test_another_value_is_refused_without_being_echoed(value: str) -> None:
    with pytest.raises(InvalidCommand) as raised:
        parse_opt_in(value)
    assert raised.value.details["field"] == "email_opt_in"
    assert value not in str(raised.value.message)
