"""Streaming readers of the eligibility feed: whole-file rejections, record problems, CSV dialect details."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.members.feeds.formats import (
    ELIGIBILITY_COLUMNS,
    MAX_RECORD_BYTES,
    FeedFormat,
    FileRejected,
    FileRejection,
    RowRefusal,
    parse_eligibility_name,
)
from ledger_core.members.feeds.parsing import RawRecord, RecordReader, scan

HEADER = ",".join(ELIGIBILITY_COLUMNS)
ROW = "12345678,john.doe@email.com,John,Doe,1980-05-15,M,IA,Life,2022-01-01"


def records(data: bytes, fmt: FeedFormat = FeedFormat.CSV) -> list[RawRecord]:
    return list(RecordReader(io.BytesIO(data), fmt))


def rejection(data: bytes, fmt: FeedFormat = FeedFormat.CSV) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        scan(io.BytesIO(data), fmt)
    return caught.value


def test_seed_example_reads_with_lf_and_crlf() -> None:
    """The seed's own example parses the same with LF and CRLF line ends."""
    for end in ("\n", "\r\n"):
        found = records(f"{HEADER}{end}{ROW}{end}".encode())
        assert len(found) == 1
        assert found[0].fields is not None
        assert found[0].fields["email"] == "john.doe@email.com"
        assert found[0].fields["policy_start_date"] == "2022-01-01"
        assert (found[0].row, found[0].line) == (1, 2)


def test_bom_is_dropped() -> None:
    """A UTF-8 byte order mark before the header is not part of the first column's name."""
    found = records(("\ufeff" + HEADER + "\n" + ROW + "\n").encode())
    assert found[0].fields is not None
    assert found[0].fields["partner_member_id"] == "12345678"


def test_quoted_newline_stays_in_its_field_and_lines_are_counted() -> None:
    """A newline inside quotes belongs to the field; the next record's line number counts both lines."""
    data = f'{HEADER}\n1,a@b.co,"Jo\nhn",Doe,1980-05-15,M,IA,Life,\n2,c@d.co,Ann,Lee,1980-05-15,F,TX,Health,\n'
    found = records(data.encode())
    assert [r.fields["first_name"] for r in found if r.fields] == ["Jo\nhn", "Ann"]
    assert [(r.row, r.line) for r in found] == [(1, 2), (2, 4)]


def test_columns_in_any_order_are_accepted() -> None:
    """The header must hold exactly the seed's columns; their order is free."""
    columns = list(reversed(ELIGIBILITY_COLUMNS))
    values = dict(zip(ELIGIBILITY_COLUMNS, ROW.split(","), strict=True))
    data = ",".join(columns) + "\n" + ",".join(values[c] for c in columns) + "\n"
    found = records(data.encode())
    assert found[0].fields == values


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (HEADER.replace(",gender", ""), "missing columns ['gender']"),
        (HEADER + ",extra", "unknown columns at positions [10]"),
        (HEADER.replace("last_name", "lastname"), "missing columns ['last_name']"),
        (HEADER + ",email", "duplicate columns ['email']"),
    ],
)
def test_wrong_header_rejects_the_file(header: str, words: str) -> None:
    """Missing, extra, misspelt or duplicate columns: the file is rejected whole, and the message says which."""
    error = rejection(f"{header}\n{ROW}\n".encode())
    assert error.rejection is FileRejection.HEADER
    assert words in error.message


def test_header_message_never_echoes_unknown_cells() -> None:
    """A file without a header (its first line is a member) is rejected without quoting that member."""
    error = rejection(f"{ROW}\n{ROW}\n".encode())
    assert error.rejection is FileRejection.NOT_CSV
    assert "john" not in error.message.lower()
    other = rejection(f"partner_member_id,{ROW}\n".encode())
    assert "john" not in other.message.lower()


def test_latin1_file_is_rejected_whole() -> None:
    """Bytes that are not UTF-8 (a Latin-1 é) reject the whole file, with the line."""
    data = (HEADER + "\n" + ROW.replace("John", "Jos\u00e9") + "\n").encode("latin-1")
    error = rejection(data)
    assert error.rejection is FileRejection.NOT_UTF8
    assert error.line == 2


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_empty_file_is_rejected(data: bytes) -> None:
    """No bytes, only a BOM, only blank lines: rejected as empty."""
    assert rejection(data).rejection is FileRejection.EMPTY


def test_binary_file_is_not_csv() -> None:
    """Something that is not text at all is rejected whole."""
    assert rejection(bytes(range(256)) * 4).rejection in {FileRejection.NOT_UTF8, FileRejection.NOT_CSV}
    assert rejection(b'[{"partner_member_id": "1"}]\n').rejection is FileRejection.NOT_CSV


def test_ten_megabyte_line_is_one_refused_record() -> None:
    """A 10 MB line is refused as one record (never held whole); the records around it load."""
    huge = "9," + "x" * (10 * 1024 * 1024) + ",Doe,1980-05-15,M,IA,Life,"
    data = f"{HEADER}\n{ROW}\n{huge}\n{ROW.replace('12345678', '2')}\n".encode()
    found = records(data)
    assert [r.row for r in found] == [1, 2, 3]
    assert found[1].problem is not None
    assert found[1].problem[0] is RowRefusal.TOO_LONG
    assert found[2].fields is not None
    assert found[2].fields["partner_member_id"] == "2"
    assert found[2].line == 4


def test_ragged_and_badly_quoted_records_are_refused_alone() -> None:
    """A record of the wrong width or with a stray quote is skipped; the next one reads."""
    data = f'{HEADER}\n1,2,3\n4,a@b.co,"Jo"x,Doe,1980-05-15,M,IA,Life,\n{ROW}\n'.encode()
    found = records(data)
    assert [r.problem[0] if r.problem else None for r in found] == [RowRefusal.MALFORMED, RowRefusal.MALFORMED, None]
    assert found[-1].fields is not None


def test_duplicate_member_ids_last_wins() -> None:
    """Every occurrence of a repeated member id but the last is superseded by the last one's row."""
    rows = [ROW, ROW.replace("12345678", "2"), ROW, ROW.replace("12345678", "3"), ROW]
    scanned = scan(io.BytesIO(("\n".join([HEADER, *rows]) + "\n").encode()), FeedFormat.CSV)
    assert scanned.rows == 5
    assert scanned.superseded == {1: 5, 3: 5}
    assert len(scanned.digest) == 64


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.integers(0, 40), min_size=1, max_size=300), blanks=st.sets(st.integers(0, 299)))
def test_repeats_found_in_any_order_of_rows(ids: list[int], blanks: set[int]) -> None:
    """Against a naive reference: each row whose member id appears again later is superseded by the id's last
    row; rows without an id (unreadable here: a short record) are counted and never superseded."""
    lines = [HEADER]
    for index, number in enumerate(ids):
        lines.append("short,row" if index in blanks else ROW.replace("12345678", f"m{number}", 1))
    scanned = scan(io.BytesIO(("\n".join(lines) + "\n").encode()), FeedFormat.CSV)
    last: dict[int, int] = {}
    for index, number in enumerate(ids):
        if index not in blanks:
            last[number] = index + 1
    expected = {
        index + 1: last[number] for index, number in enumerate(ids) if index not in blanks and last[number] != index + 1
    }
    assert scanned.rows == len(ids)
    assert scanned.superseded == expected


def test_json_array_and_json_lines() -> None:
    """The JSON forms carry the same objects; optional keys may be absent or null."""
    item = dict(zip(ELIGIBILITY_COLUMNS, ROW.split(","), strict=True))
    item.pop("gender")
    item["policy_start_date"] = None  # type: ignore[assignment]
    array = records(json.dumps([item, item]).encode(), FeedFormat.JSON)
    lines = records((json.dumps(item) + "\n\n" + json.dumps(item) + "\n").encode(), FeedFormat.JSON_LINES)
    for found in (array, lines):
        assert len(found) == 2
        assert found[0].fields is not None
        assert found[0].fields["gender"] is None
        assert found[0].fields["policy_start_date"] is None
    assert [r.line for r in lines] == [1, 3]


def test_json_record_problems() -> None:
    """A JSON Lines line that is not an object, has unknown keys or numbers is one refused record."""
    good = json.dumps(dict(zip(ELIGIBILITY_COLUMNS, ROW.split(","), strict=True)))
    data = f'[1]\n{{"nickname": "Jo"}}\n{{"partner_member_id": 5}}\n{{not json\n{good}'.encode()
    found = records(data, FeedFormat.JSON_LINES)
    assert [r.problem[0] if r.problem else None for r in found] == [
        RowRefusal.MALFORMED,
        RowRefusal.MALFORMED,
        RowRefusal.INVALID,
        RowRefusal.MALFORMED,
        None,
    ]


def test_json_array_that_does_not_parse_is_rejected() -> None:
    """A truncated array, a non-array and an over-long element reject the file."""
    assert rejection(b'[{"partner_member_id": "1"}', FeedFormat.JSON).rejection is FileRejection.NOT_JSON
    assert rejection(b'{"partner_member_id": "1"}', FeedFormat.JSON).rejection is FileRejection.NOT_JSON
    big = json.dumps([{"first_name": "x" * (MAX_RECORD_BYTES + 10)}]).encode()
    assert rejection(big, FeedFormat.JSON).rejection is FileRejection.RECORD_TOO_LARGE


def test_digest_covers_every_byte() -> None:
    """Two files that differ anywhere (even in a dropped over-long line) have different digests."""
    base = f"{HEADER}\n{'x' * (MAX_RECORD_BYTES + 5)}\n{ROW}\n"
    one = scan(io.BytesIO(base.encode()), FeedFormat.CSV)
    two = scan(io.BytesIO(base.replace("xxx", "xxy", 1).encode()), FeedFormat.CSV)
    assert one.digest != two.digest


def test_file_names() -> None:
    """Only eligibility_<partner>_<YYYYMMDD>.csv|json|jsonl|ndjson of the same partner is accepted."""
    assert parse_eligibility_name("eligibility_acme_20260115.csv", "acme").format is FeedFormat.CSV
    assert parse_eligibility_name("eligibility_acme_20260115.ndjson", "acme").format is FeedFormat.JSON_LINES
    named = parse_eligibility_name("eligibility_acme_20260115.json", "acme")
    assert named.report_name == "eligibility_acme_20260115.report.csv"
    for bad in ("eligibility_other_20260115.csv", "eligibility_acme_20261315.csv", "../eligibility_acme_20260115.csv"):
        with pytest.raises(FileRejected):
            parse_eligibility_name(bad, "acme")


cells = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(cells, min_size=len(ELIGIBILITY_COLUMNS), max_size=len(ELIGIBILITY_COLUMNS)), max_size=20))
def test_any_csv_written_by_the_csv_module_reads_back(rows: list[list[str]]) -> None:
    """Whatever Python's csv module writes (quotes, commas, CR, LF inside cells) reads back cell for cell."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ELIGIBILITY_COLUMNS)
    writer.writerows(rows)
    found = records(out.getvalue().encode("utf-8"))
    assert [list(r.fields.values()) if r.fields else None for r in found] == rows
