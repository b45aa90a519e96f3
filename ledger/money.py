"""Exact decimal arithmetic for the paper broker, and Alpaca's number-as-string forms.

Prices come from bars as floats; they enter the broker through :func:`price_of`
(shortest repr, then 4 decimals), so every later sum is exact. Cash moves in
whole cents (:func:`cents`); quantities keep up to 9 decimals as Alpaca's do.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

ZERO = Decimal(0)
CENT = Decimal("0.01")
PRICE_STEP = Decimal("0.0001")
QTY_STEP = Decimal("0.000000001")
RATIO_STEP = Decimal("0.0000000001")
BPS = Decimal(10_000)
"""Basis points per unit: ``x_bps / BPS`` is a fraction."""


def price_of(value: float) -> Decimal:
    """A bar price as an exact decimal with at most 4 decimals."""
    return Decimal(repr(float(value))).quantize(PRICE_STEP, rounding=ROUND_HALF_EVEN)


def cents(value: Decimal) -> Decimal:
    """Round a money amount to the cent (banker's rounding, as a ledger would)."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def ceil_cents(value: Decimal) -> Decimal:
    """Round a money amount UP to the cent (how Alpaca charges a day's accrued fees)."""
    return value.quantize(CENT, rounding=ROUND_CEILING)


def round_price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_STEP, rounding=ROUND_HALF_EVEN)


def floor_qty(value: Decimal) -> Decimal:
    """A quantity truncated to Alpaca's 9 decimals."""
    return value.quantize(QTY_STEP, rounding=ROUND_DOWN)


def is_whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


def fmt(value: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: ``Decimal('10.500')`` → ``'10.5'``."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def fmt_money(value: Decimal) -> str:
    """A money amount as Alpaca prints it: rounded to the cent, at most 2 decimals."""
    return fmt(cents(value))


def fmt_ratio(value: Decimal) -> str:
    return fmt(value.quantize(RATIO_STEP, rounding=ROUND_HALF_EVEN))


def parse_decimal(value: object, field: str) -> Decimal:
    """A JSON number or numeric string as a finite Decimal; ValueError names ``field``.

    alpaca-py sends quantities and prices as JSON floats while Alpaca's docs use
    strings; both are accepted. Booleans, NaN and infinities are refused.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{field} must be a number or a numeric string, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{field} must be finite, got {value!r}")
        text = repr(value)
    else:
        text = str(value).strip()
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{field} must be a number, got {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"{field} must be finite, got {value!r}")
    return d
