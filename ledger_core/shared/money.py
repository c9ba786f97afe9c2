"""Money as exact decimals. The log holds amounts as decimal strings with the currency's exponent.

Contract: :func:`parse_amount` accepts ``str`` (plain decimal notation: ``"1234"``, ``"1234.5"``,
``"1234.50"``), ``int`` and finite ``Decimal``; it refuses ``float`` and ``bool`` (binary floating point
cannot hold most cents), NaN/Infinity, signs and exponents in strings, more fractional digits than the
currency allows (``"1.005"`` is refused, never rounded), negative values, zero unless ``allow_zero``, and
values of :data:`MAX_AMOUNT` or more. It returns a ``Decimal`` quantized to the currency's exponent.
:func:`format_amount` is its exact inverse for valid amounts.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ledger_core.engine.errors import InvalidCommand


class Currency(StrEnum):
    """ISO 4217 currencies accepted in claim submissions (seed §5.1) and subscriptions."""

    USD = "USD"
    EUR = "EUR"
    GBP = "GBP"

    @property
    def exponent(self) -> int:
        """Number of minor-unit digits (ISO 4217): 2 for all three."""
        return _EXPONENTS[self]


_EXPONENTS = {Currency.USD: 2, Currency.EUR: 2, Currency.GBP: 2}

# One trillion in major units: far above any single claim or subscription, far below 2**53 minor units.
MAX_AMOUNT = Decimal("1000000000000")
_PLAIN_DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,16})?")


def parse_currency(value: Any, field: str = "currency") -> Currency:
    """The :class:`Currency` named by ``value`` (exact, upper-case ISO code)."""
    try:
        return Currency(value)
    except ValueError:
        allowed = [currency.value for currency in Currency]
        raise InvalidCommand(
            f"{field} must be one of {allowed}", field=field, value=str(value)[:16], allowed=allowed
        ) from None


def parse_amount(
    value: str | int | Decimal, currency: Currency, *, field: str = "amount", allow_zero: bool = False
) -> Decimal:
    """Validate ``value`` as an amount in ``currency`` and return it quantized to the currency's exponent."""
    amount = _to_decimal(value, field)
    if amount.is_signed() and amount != 0:
        raise InvalidCommand(f"{field} must not be negative", field=field, value=str(value))
    if amount == 0 and not allow_zero:
        raise InvalidCommand(f"{field} must be greater than zero", field=field, value=str(value))
    if amount >= MAX_AMOUNT:
        raise InvalidCommand(f"{field} must be less than {MAX_AMOUNT}", field=field, value=str(value)[:40])
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > currency.exponent:
        raise InvalidCommand(
            f"{field} has more than {currency.exponent} decimal places for {currency.value}",
            field=field,
            value=str(value),
            currency=currency.value,
        )
    return abs(amount).quantize(_quantum(currency))


def format_amount(amount: Decimal, currency: Currency) -> str:
    """The decimal string of ``amount`` with exactly the currency's exponent (``"1234.50"``).

    Raises :class:`InvalidCommand` if the amount is not finite or needs rounding.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidCommand("amount must be a finite Decimal", field="amount", value=str(amount))
    quantized = amount.quantize(_quantum(currency))
    if quantized != amount:
        raise InvalidCommand(
            f"amount has more than {currency.exponent} decimal places", field="amount", value=str(amount)
        )
    return f"{quantized + 0:f}"  # "+ 0" turns -0 into 0


def _quantum(currency: Currency) -> Decimal:
    return Decimal(1).scaleb(-currency.exponent)


def _to_decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, (bool, float)):
        raise InvalidCommand(f"{field} must be a decimal string or integer, not {type(value).__name__}", field=field)
    if isinstance(value, str):
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise InvalidCommand(
                f"{field} must be a plain decimal string like '1234.50'", field=field, value=value[:40]
            )
        return Decimal(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidCommand(f"{field} must be finite", field=field, value=str(value))
        return value
    raise InvalidCommand(f"{field} must be a decimal string or integer", field=field)
