"""Shared validators: strict dates and times, identifiers, metadata, JSON objects."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.engine.envelope import RECORDED_AT_FORMAT, utc_text
from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.validation import (
    check_identifier,
    check_int,
    check_json_object,
    check_metadata,
    check_partner_slug,
    check_sha256_hex,
    check_string_list,
    check_text,
    format_timestamp,
    normalize_timestamp,
    parse_choice,
    parse_date,
    parse_optional_date,
)
from ledger_core.shared.vocabulary import ClaimType


def test_parse_date_accepts_only_yyyy_mm_dd() -> None:
    """Only YYYY-MM-DD real dates pass; compact ISO forms and impossible dates fail."""
    assert parse_date("2024-02-29", "d") == date(2024, 2, 29)
    for bad in ("20240101", "2023-02-29", "2024-1-01", "2024-W01-1", 20240101, None):
        with pytest.raises(InvalidCommand) as caught:
            parse_date(bad, "d")
        assert caught.value.details["field"] == "d"
    assert parse_optional_date("", "d") is None
    assert parse_optional_date(None, "d") is None


def test_timestamps_are_normalized_to_utc() -> None:
    """Offsets convert to UTC with six fractional digits and Z; times without an offset fail."""
    assert normalize_timestamp("2026-01-15T16:30:00+02:00", "t") == "2026-01-15T14:30:00.000000Z"
    assert normalize_timestamp("2026-01-15T14:30:00.5Z", "t") == "2026-01-15T14:30:00.500000Z"
    for bad in ("2026-01-15T14:30:00", "2026-01-15 14:30:00Z", "2026-01-15T14:30:00.1234567Z", "yesterday"):
        with pytest.raises(InvalidCommand):
            normalize_timestamp(bad, "t")
    with pytest.raises(InvalidCommand):
        format_timestamp(datetime(2026, 1, 1))
    assert format_timestamp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000000Z"


def test_identifiers_have_no_control_characters_or_padding() -> None:
    """Natural keys refuse U+001F (derive_id's separator), other controls, padding and over-length."""
    assert check_identifier("CLM-2026/001", "id") == "CLM-2026/001"
    for bad in ("a\x1fb", "a\nb", " a", "a ", "", "x" * 129, 12):
        with pytest.raises(InvalidCommand):
            check_identifier(bad, "id")


def test_partner_slug() -> None:
    """Partner ids are [a-z0-9_]{2,64}."""
    assert check_partner_slug("northwestern_mutual") == "northwestern_mutual"
    for bad in ("N", "a", "has-dash", "UPPER", "x" * 65, None):
        with pytest.raises(InvalidCommand):
            check_partner_slug(bad)


def test_text_bounds_and_multiline() -> None:
    """Text length is bounded; newlines only where allowed."""
    assert check_text("line\nline", "m", max_length=20, multiline=True) == "line\nline"
    with pytest.raises(InvalidCommand):
        check_text("line\nline", "m", max_length=20)
    with pytest.raises(InvalidCommand) as caught:
        check_text("x" * 21, "m", max_length=20)
    assert caught.value.details["length"] == 21


def test_sha256_hex_is_lowercase_64() -> None:
    """Digests are exactly 64 lowercase hex characters."""
    assert check_sha256_hex("a" * 64, "h") == "a" * 64
    for bad in ("A" * 64, "a" * 63, "g" * 64, None):
        with pytest.raises(InvalidCommand):
            check_sha256_hex(bad, "h")


def test_check_int_refuses_bools_and_out_of_range() -> None:
    """Integers only (not bool), inside the bounds."""
    assert check_int(5, "n", minimum=0, maximum=10) == 5
    for bad in (True, 11, -1, 5.0, "5"):
        with pytest.raises(InvalidCommand):
            check_int(bad, "n", minimum=0, maximum=10)


def test_metadata_rules() -> None:
    """Metadata is a sorted str->str map with bounded keys, values and size."""
    assert list(check_metadata({"b": "2", "a": "1"}, "m")) == ["a", "b"]
    bad_maps: list[object] = [
        {"a": 1},
        {"": "x"},
        {"bad key": "x"},
        {"k": "x" * 1025},
        {f"k{i}": "v" for i in range(33)},
        ["a"],
    ]
    for bad in bad_maps:
        with pytest.raises(InvalidCommand):
            check_metadata(bad, "m")


def test_json_object_checks_types_and_size() -> None:
    """JSON objects refuse floats (naming the path) and anything over the byte limit."""
    assert check_json_object({"a": [1, "x", None]}, "inputs", max_bytes=100) == {"a": [1, "x", None]}
    with pytest.raises(InvalidCommand) as caught:
        check_json_object({"a": {"b": 1.5}}, "inputs", max_bytes=100)
    assert caught.value.details["field"] == "inputs"
    with pytest.raises(InvalidCommand, match="exceeds"):
        check_json_object({"a": "x" * 200}, "inputs", max_bytes=100)


def test_string_lists_and_choices() -> None:
    """Lists of strings are bounded and a bare string is not a list; choices list allowed values."""
    assert check_string_list(["a", "b"], "f", max_items=2, max_length=5) == ["a", "b"]
    for bad in ("ab", ["a", "b", "c"], ["toolong"], [1]):
        with pytest.raises(InvalidCommand):
            check_string_list(bad, "f", max_items=2, max_length=5)
    assert parse_choice(ClaimType, "auto", "claim_type") is ClaimType.AUTO
    with pytest.raises(InvalidCommand) as caught:
        parse_choice(ClaimType, "boat", "claim_type")
    assert caught.value.details["allowed"] == ["auto", "property", "health", "liability"]


@pytest.mark.parametrize(
    "hidden", ["\u202e", "\u202a", "\u2066", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
)
def test_identifiers_refuse_bidi_controls_and_invisible_characters(hidden: str) -> None:
    """A bidi control or an invisible character anywhere in a natural key is refused, naming it."""
    with pytest.raises(InvalidCommand) as refused:
        check_identifier(f"CLM{hidden}1", "partner_claim_id")
    assert refused.value.details["character"] == f"U+{ord(hidden):04X}"


def test_identifiers_are_kept_in_nfc() -> None:
    """Decomposed and composed spellings give one key (UAX 15 NFC); other scripts stay as they are."""
    assert check_identifier("cafe\u0301", "id") == "caf\u00e9"
    assert check_identifier("caf\u00e9", "id") == "caf\u00e9"
    assert check_identifier("請求-١٢", "id") == "請求-١٢"


@settings(max_examples=500)
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()),
)
def test_utc_text_is_what_strftime_writes(moment: datetime) -> None:
    """The isoformat fast path writes every aware time as strftime with RECORDED_AT_FORMAT does (any zone, any
    year, microseconds zero or not)."""
    assert utc_text(moment) == moment.astimezone(UTC).strftime(RECORDED_AT_FORMAT)
    assert format_timestamp(moment) == utc_text(moment)
