"""``exact_ln.ln`` is ``Decimal.ln``: the same digits and exponent, or ``Decimal.ln``'s own answer."""

from __future__ import annotations

from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger_core.claims import exact_ln
from ledger_core.claims.risk_rules import DECIMAL_CONTEXT


def same(got: Decimal, want: Decimal) -> bool:
    return got.as_tuple() == want.as_tuple()


@settings(max_examples=2_000)
@given(st.integers(min_value=1, max_value=10**30), st.integers(min_value=-40, max_value=40))
def test_equals_decimal_ln_at_28_digits(coefficient: int, exponent: int) -> None:
    value = Decimal(coefficient).scaleb(exponent, Context(prec=40))
    assert same(exact_ln.ln(value, DECIMAL_CONTEXT), value.ln(DECIMAL_CONTEXT))


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=2), st.integers(6, 36))
def test_equals_decimal_ln_for_amounts_at_other_precisions(cents: int, places: int, precision: int) -> None:
    value = Decimal(cents).scaleb(-places)
    context = Context(prec=precision)
    assert same(exact_ln.ln(value, context), value.ln(context))


@pytest.mark.parametrize(
    "text", ["1", "1.00", "1.000000001", "0.999999999", "2", "10", "1E+5", "0.01", "7", "1024", "123456789012.34"]
)
def test_edges_equal_decimal_ln(text: str) -> None:
    value = Decimal(text)
    assert same(exact_ln.ln(value, DECIMAL_CONTEXT), value.ln(DECIMAL_CONTEXT))


def test_contexts_it_does_not_answer_are_decimal_ln_s() -> None:
    value = Decimal("1234.56")
    for context in (Context(prec=50), Context(prec=28, rounding=ROUND_DOWN)):
        assert same(exact_ln.ln(value, context), value.ln(context))


@pytest.mark.parametrize("text", ["0", "-1", "NaN", "Infinity", "-0"])
def test_non_positive_and_special_values_behave_as_decimal_ln(text: str) -> None:
    value = Decimal(text)
    try:
        want: Decimal | type[Exception] = value.ln(Context(prec=28))
    except InvalidOperation as error:
        want = type(error)
    if isinstance(want, Decimal):
        got = exact_ln.ln(value, Context(prec=28))
        assert str(got) == str(want)
    else:
        with pytest.raises(want):
            exact_ln.ln(value, Context(prec=28))


def test_amounts_are_answered_without_decimal_ln() -> None:
    """The fast path answers (nearly) every claim amount: the equality tests above exercise it, not the fallback."""
    amounts = [Decimal(f"{200 + (n * 7919) % 4800}.{n % 100:02d}") for n in range(1_000)]
    answered = sum(exact_ln._fast_ln(amount, DECIMAL_CONTEXT) is not None for amount in amounts)
    assert answered >= 990
