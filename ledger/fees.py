"""Fees on one fill: regulatory pass-through fees and an optional commission, and how they are charged.

Per execution of ``q`` shares at price ``p`` (principal ``q·p``):

- SEC transaction fee (Section 31), sells only: ``q·p × sec_fee_per_million / 1,000,000``;
- FINRA Trading Activity Fee (TAF), sells only: ``min(q × taf_per_share, taf_max_per_trade)``,
  each execution being one trade;
- CAT fee, buys and sells: ``q × cat_fee_per_share``;
- commission, every execution: ``q × commission_per_share`` rounded to the cent (Alpaca
  charges none; the knob, ``fee_per_share`` in configs and on mockmarket's command line,
  models a broker that does).

Charging the regulatory fees (:class:`DailyFeeAccrual`), as Alpaca does: fees accrue
intraday and each day is charged its cumulative total rounded UP to the cent. Here each
execution's fees are added, unrounded, to the accrual of its New York trading date, and
cash moves at once by the increase of ``ceil_cents(accrued that day)``: cash always holds
whole cents, and a day's charges add up to exactly its total rounded up (so three sells
whose fees are $0.0033 each cost one cent, not three).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ledger.money import ZERO, ceil_cents, cents

MILLION = Decimal(1_000_000)


def _check_rates(obj: object, names: tuple[str, ...]) -> None:
    for name in names:
        v = getattr(obj, name)
        if not isinstance(v, Decimal) or not v.is_finite() or v < 0:
            raise ValueError(f"{name}={v!r} must be a finite Decimal >= 0")


@dataclass(frozen=True, slots=True)
class FillFees:
    """The fees of one execution (regulatory ones exact, the commission in cents)."""

    sec: Decimal
    taf: Decimal
    cat: Decimal
    commission: Decimal

    @property
    def regulatory(self) -> Decimal:
        """SEC + TAF + CAT, unrounded: what the day's accrual grows by."""
        return self.sec + self.taf + self.cat

    @property
    def total(self) -> Decimal:
        return self.regulatory + self.commission


NO_FEES = FillFees(ZERO, ZERO, ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fee rates (see the module docstring). Every rate is >= 0; all zero charges nothing."""

    sec_fee_per_million: Decimal
    taf_per_share: Decimal
    taf_max_per_trade: Decimal
    cat_fee_per_share: Decimal
    commission_per_share: Decimal = ZERO

    def __post_init__(self) -> None:
        _check_rates(
            self,
            (
                "sec_fee_per_million",
                "taf_per_share",
                "taf_max_per_trade",
                "cat_fee_per_share",
                "commission_per_share",
            ),
        )

    def for_fill(self, side: str, qty: Decimal, price: Decimal) -> FillFees:
        """The fees of one execution of ``qty`` shares at ``price`` on ``side``."""
        if side not in ("buy", "sell"):
            raise ValueError(f"side={side!r} is not buy or sell")
        if qty <= 0 or price <= 0:
            raise ValueError(f"qty={qty} and price={price} must be > 0")
        sec = taf = ZERO
        if side == "sell":
            sec = qty * price * self.sec_fee_per_million / MILLION
            taf = min(qty * self.taf_per_share, self.taf_max_per_trade)
        cat = qty * self.cat_fee_per_share
        return FillFees(sec, taf, cat, cents(qty * self.commission_per_share))


NO_FEE_SCHEDULE = FeeSchedule(ZERO, ZERO, ZERO, ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class DayFees:
    """One trading day's regulatory fees: accrued (exact) and charged (whole cents)."""

    day: date
    accrued: Decimal
    charged: Decimal


class DailyFeeAccrual:
    """Regulatory fees accrued per New York trading day, charged rounded up to the cent."""

    def __init__(self) -> None:
        self._days: dict[date, DayFees] = {}

    def charge(self, day: date, amount: Decimal) -> Decimal:
        """Accrue ``amount`` (>= 0) on ``day``; returns the cash to deduct now (whole cents)."""
        if amount < 0:
            raise ValueError(f"a fee accrual must be >= 0, got {amount}")
        before = self._days.get(day, DayFees(day, ZERO, ZERO))
        accrued = before.accrued + amount
        due = ceil_cents(accrued)
        self._days[day] = DayFees(day, accrued, due)
        return due - before.charged

    def day(self, day: date) -> DayFees:
        """The fees of ``day`` so far (zeros if none)."""
        return self._days.get(day, DayFees(day, ZERO, ZERO))

    def days(self) -> list[DayFees]:
        """Every day with an accrual, oldest first."""
        return [self._days[d] for d in sorted(self._days)]


__all__ = [
    "NO_FEES",
    "NO_FEE_SCHEDULE",
    "DailyFeeAccrual",
    "DayFees",
    "FeeSchedule",
    "FillFees",
]
