"""Money parsing and formatting: exact decimals only, with the currency's exponent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_core.engine.errors import InvalidCommand
from ledger_core.shared.money import MAX_AMOUNT, Currency, format_amount, parse_amount, parse_currency

USD = Currency.USD


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1234.50", "1234.50"),
        ("1234.5", "1234.50"),
        ("0.01", "0.01"),
        ("7", "7.00"),
        (100, "100.00"),
        (Decimal("12.3"), "12.30"),
        (Decimal("1E+2"), "100.00"),
        ("999999999999.99", "999999999999.99"),
    ],
)
def test_valid_amounts_are_quantized(value: str | int | Decimal, expected: str) -> None:
    """Valid strings, ints and Decimals come back quantized to two places."""
    amount = parse_amount(value, USD)
    assert amount == Decimal(expected)
    assert str(amount) == expected


@pytest.mark.parametrize("value", [1.5, 0.1, True, False])
def test_floats_and_bools_are_refused(value: object) -> None:
    """Binary floats (and bools, which are ints) never become money."""
    with pytest.raises(InvalidCommand, match="decimal string or integer") as caught:
        parse_amount(value, USD, field="claim_amount")  # type: ignore[arg-type]
    assert caught.value.details["field"] == "claim_amount"


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")])
def test_non_finite_decimals_are_refused(value: Decimal) -> None:
    """NaN and infinities are not amounts."""
    with pytest.raises(InvalidCommand, match="finite"):
        parse_amount(value, USD)


@pytest.mark.parametrize("value", ["NaN", "1e3", " 1", "1 ", "+1", "1,000", "01", ".5", "5.", "", "1_000", "١٢"])
def test_strings_must_be_plain_decimals(value: str) -> None:
    """Exponents, signs, padding, separators, leading zeros and non-ASCII digits are refused."""
    with pytest.raises(InvalidCommand, match="plain decimal") as caught:
        parse_amount(value, USD)
    assert caught.value.details["value"] == value


@pytest.mark.parametrize("value", ["-1", "-0.01", -5, Decimal("-3")])
def test_negative_amounts_are_refused(value: str | int | Decimal) -> None:
    """Negative amounts fail with a message that says so."""
    with pytest.raises(InvalidCommand, match="negative"):
        parse_amount(value, USD)


@pytest.mark.parametrize("value", ["0", "0.00", 0, Decimal("-0")])
def test_zero_needs_allow_zero(value: str | int | Decimal) -> None:
    """Zero is refused by default and accepted (as 0.00) with allow_zero."""
    with pytest.raises(InvalidCommand, match="greater than zero"):
        parse_amount(value, USD)
    assert str(parse_amount(value, USD, allow_zero=True)) == "0.00"


@pytest.mark.parametrize("value", ["1.005", "0.001", Decimal("1.000"), "1.10000"])
def test_too_many_decimals_are_refused_not_rounded(value: str | Decimal) -> None:
    """More fractional digits than the exponent is an error carrying the currency, never a rounding."""
    with pytest.raises(InvalidCommand, match="more than 2 decimal places") as caught:
        parse_amount(value, Currency.EUR)
    assert caught.value.details["currency"] == "EUR"


@pytest.mark.parametrize("value", ["1000000000000", "99999999999999999", 10**15, Decimal("1E+30")])
def test_absurd_magnitudes_are_refused(value: str | int | Decimal) -> None:
    """Amounts of a trillion or more are refused."""
    with pytest.raises(InvalidCommand):
        parse_amount(value, USD)


def test_format_amount_exact() -> None:
    """Formatting pads to the exponent, turns -0 into 0 and refuses rounding or non-finite values."""
    assert format_amount(Decimal("5"), USD) == "5.00"
    assert format_amount(Decimal("-0.00"), USD) == "0.00"
    assert format_amount(Decimal("1E+2"), USD) == "100.00"
    with pytest.raises(InvalidCommand):
        format_amount(Decimal("1.005"), USD)
    with pytest.raises(InvalidCommand):
        format_amount(Decimal("NaN"), USD)


def test_parse_currency() -> None:
    """Only USD, EUR and GBP (exact upper case) are currencies; the error lists them."""
    assert parse_currency("GBP") is Currency.GBP
    assert Currency.GBP.exponent == 2
    with pytest.raises(InvalidCommand) as caught:
        parse_currency("usd")
    assert caught.value.details["allowed"] == ["USD", "EUR", "GBP"]


cents = st.integers(min_value=1, max_value=int(MAX_AMOUNT * 100) - 1)


@given(cents, st.sampled_from(list(Currency)))
def test_format_parse_round_trip(minor_units: int, currency: Currency) -> None:
    """format(parse(s)) == s and parse(format(x)) == x for every valid amount."""
    amount = Decimal(minor_units).scaleb(-2)
    text = format_amount(amount, currency)
    assert parse_amount(text, currency) == amount
    assert format_amount(parse_amount(text, currency), currency) == text
    assert parse_amount(amount, currency) == amount


@given(st.decimals(allow_nan=True, allow_infinity=True))
def test_parse_never_crashes_and_never_rounds(value: Decimal) -> None:
    """Any Decimal either parses to an exactly equal amount or raises InvalidCommand."""
    try:
        parsed = parse_amount(value, USD)
    except InvalidCommand:
        return
    assert parsed == value
    assert Decimal(0) < parsed < MAX_AMOUNT


@given(st.text(max_size=24))
def test_parse_arbitrary_text(text: str) -> None:
    """Any string either parses to a positive two-place amount or raises InvalidCommand."""
    try:
        parsed = parse_amount(text, USD)
    except InvalidCommand:
        return
    assert parsed == Decimal(text)
    assert parsed.as_tuple().exponent == -2
