"""The cost model of a fill, shared by mockmarket's paper broker and the engine's backtest.

One execution of ``q`` shares of a market order, with ``R`` its reference price (the open
of the bar it fills in, or the session's last price at the close: :mod:`ledger.no_bar_rule`):

- price: ``R ± (half-spread + R × slippage_bps / 10 000)`` against the taker, rounded once
  to $0.0001 (:func:`ledger.fill_prices.taker_price`); the half-spread depends on the
  symbol's liquidity on the session (:mod:`ledger.liquidity`, :mod:`ledger.spread`); a
  limit order's price is then clamped to its limit;
- fees: SEC and TAF on sells, CAT on both sides, an optional commission
  (:mod:`ledger.fees`); the regulatory ones accrue per day and are charged rounded up to
  the cent;
- cash: ``∓ cents(q × price) − fee charged`` (:class:`ledger.portfolio.Portfolio`).

:func:`book_fill` does all of it for one execution and returns a :class:`FillCosts`
breakdown (gross value at the reference price, half-spread, slippage, fees), so a report
can show gross, costs and net. Nothing here reads a clock or a file: the broker and the
backtest pass the reference price, the liquidity, the quantity and the trading date.

:meth:`CostModel.legacy` is the pre-cost model (no half-spread, no regulatory fees, a
minute without a bar filling at the last close). The backtest no longer uses it; it stays
behind mockmarket's ``--legacy-fills``, which mockmarket's own tests of the pre-cost rule
(and ``bench/bench_costs.py``'s reference) run on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from common.config import CostsConfig
from ledger.fees import NO_FEE_SCHEDULE, DailyFeeAccrual, FeeSchedule, FillFees
from ledger.fill_prices import taker_price
from ledger.money import ZERO, parse_decimal
from ledger.no_bar_rule import NoBarRule
from ledger.portfolio import Execution, Portfolio
from ledger.spread import SpreadModel

ROUND_TRIP_QTY = Decimal(100)
"""Shares of the round trip :meth:`CostModel.round_trip_cost` prices by default (fees per
share hardly depend on it; a commission's cent rounding and the TAF cap a little)."""


def _knob(value: float, name: str) -> Decimal:
    d = parse_decimal(value, name)
    if d < 0:
        raise ValueError(f"{name}={value!r} must be >= 0")
    return d


@dataclass(frozen=True, slots=True)
class ExecutionPrice:
    """The price a taker gets, and what it is made of."""

    reference: Decimal
    """The gross price: the bar's open (or the session's last price at the close)."""
    half_spread: Decimal
    """Half-spread per share paid on this fill (0 without a spread model)."""
    price: Decimal
    """Reference ± (half-spread + slippage), rounded to $0.0001."""


@dataclass(frozen=True, slots=True)
class CostModel:
    """Every knob of the cost model (``common.config.CostsConfig`` in configs)."""

    slippage_bps: Decimal
    spread: SpreadModel | None
    """None: no half-spread (the legacy model)."""
    fees: FeeSchedule
    liquidity_sessions: int = 10
    """How many sessions before the traded one the liquidity is measured over."""
    no_bar_rule: NoBarRule = NoBarRule.NEXT_BAR

    def __post_init__(self) -> None:
        if not isinstance(self.slippage_bps, Decimal) or not self.slippage_bps.is_finite():
            raise ValueError(f"slippage_bps={self.slippage_bps!r} must be a finite Decimal")
        if self.slippage_bps < 0:
            raise ValueError(f"slippage_bps={self.slippage_bps} must be >= 0")
        if isinstance(self.liquidity_sessions, bool) or not isinstance(self.liquidity_sessions, int):
            raise ValueError(f"liquidity_sessions={self.liquidity_sessions!r} must be an integer")
        if self.liquidity_sessions < 1:
            raise ValueError(f"liquidity_sessions={self.liquidity_sessions} must be >= 1")
        object.__setattr__(self, "no_bar_rule", NoBarRule(self.no_bar_rule))

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_config(cls, costs: CostsConfig) -> CostModel:
        """The model of a strategy config's ``costs`` section."""
        return cls(
            slippage_bps=_knob(costs.slippage_bps, "slippage_bps"),
            spread=SpreadModel(
                at_reference_bps=_knob(
                    costs.half_spread_bps_at_reference, "half_spread_bps_at_reference"
                ),
                reference_dollar_volume=_knob(
                    costs.reference_minute_dollar_volume, "reference_minute_dollar_volume"
                ),
                max_bps=_knob(costs.max_half_spread_bps, "max_half_spread_bps"),
            ),
            fees=FeeSchedule(
                sec_fee_per_million=_knob(costs.sec_fee_per_million, "sec_fee_per_million"),
                taf_per_share=_knob(costs.taf_per_share, "taf_per_share"),
                taf_max_per_trade=_knob(costs.taf_max_per_trade, "taf_max_per_trade"),
                cat_fee_per_share=_knob(costs.cat_fee_per_share, "cat_fee_per_share"),
                commission_per_share=_knob(costs.fee_per_share, "fee_per_share"),
            ),
            liquidity_sessions=int(costs.liquidity_sessions),
        )

    @classmethod
    def default(cls) -> CostModel:
        """The model with every default of ``CostsConfig``."""
        return cls.from_config(CostsConfig())

    @classmethod
    def legacy(cls, slippage_bps: float = 0.0, fee_per_share: float = 0.0) -> CostModel:
        """The pre-cost model: slippage and a per-share fee only, stale-close fills in empty minutes."""
        return cls(
            slippage_bps=_knob(slippage_bps, "slippage_bps"),
            spread=None,
            fees=FeeSchedule(
                ZERO, ZERO, ZERO, ZERO, commission_per_share=_knob(fee_per_share, "fee_per_share")
            ),
            no_bar_rule=NoBarRule.LAST_CLOSE,
        )

    @property
    def is_free(self) -> bool:
        """No spread, no slippage, no fee of any kind."""
        return self.spread is None and self.slippage_bps == 0 and self.fees == NO_FEE_SCHEDULE

    # ------------------------------------------------------------------ one fill

    def half_spread(self, reference: Decimal, liquidity: Decimal | None) -> Decimal:
        """Half-spread per share at ``reference`` for a symbol of this liquidity."""
        return ZERO if self.spread is None else self.spread.half_spread(reference, liquidity)

    def execution_price(
        self, side: str, reference: Decimal, liquidity: Decimal | None
    ) -> ExecutionPrice:
        """The price of a market order on ``side`` at ``reference`` (before any limit clamp)."""
        half = self.half_spread(reference, liquidity)
        return ExecutionPrice(reference, half, taker_price(reference, side, half, self.slippage_bps))

    def fill_fees(self, side: str, qty: Decimal, price: Decimal) -> FillFees:
        return self.fees.for_fill(side, qty, price)

    def round_trip_cost(
        self, price: Decimal, liquidity: Decimal | None, qty: Decimal = ROUND_TRIP_QTY
    ) -> Decimal:
        """What buying ``qty`` shares at ``price`` and selling them back at the same price
        costs, as a fraction of the value bought: both execution prices (half-spread and
        slippage each way, rounded as fills are) and both fills' fees, unrounded. The
        return a trade must earn before costs to break even; the strategies' entry gate.
        """
        if price <= 0 or qty <= 0:
            raise ValueError(f"price={price} and qty={qty} must be > 0")
        buy = self.execution_price("buy", price, liquidity).price
        sell = self.execution_price("sell", price, liquidity).price
        fees = self.fill_fees("buy", qty, buy).total + self.fill_fees("sell", qty, sell).total
        return ((buy - sell) * qty + fees) / (qty * price)


@dataclass(frozen=True, slots=True)
class FillCosts:
    """One execution's breakdown: gross at the reference price, costs, net.

    Signs: a cost is positive when it hurts the account (a limit filled better than the
    reference gives a negative price cost).
    """

    symbol: str
    side: str
    qty: Decimal
    reference: Decimal
    price: Decimal
    half_spread: Decimal
    fees: FillFees
    fee_charged: Decimal
    """Cash taken for fees with this execution: its commission plus the regulatory fees
    that became due (whole cents; a day's charges sum to its accrual rounded up)."""
    t_ms: int

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    @property
    def gross_value(self) -> Decimal:
        """``qty × reference``: the trade's value before costs."""
        return self.qty * self.reference

    @property
    def price_cost(self) -> Decimal:
        """What the execution price cost against the reference: spread + slippage."""
        return self.sign * (self.price - self.reference) * self.qty

    @property
    def spread_cost(self) -> Decimal:
        """The half-spread part of :attr:`price_cost` (less if a limit clamped the price)."""
        per_share = min(max(self.sign * (self.price - self.reference), ZERO), self.half_spread)
        return per_share * self.qty

    @property
    def slippage_cost(self) -> Decimal:
        """The rest of :attr:`price_cost`: slippage and the $0.0001 rounding."""
        return self.price_cost - self.spread_cost

    @property
    def fee_cost(self) -> Decimal:
        """The execution's fees as accrued (exact; cash is charged :attr:`fee_charged`)."""
        return self.fees.total

    @property
    def total_cost(self) -> Decimal:
        return self.price_cost + self.fee_cost


def book_fill(
    portfolio: Portfolio,
    accrual: DailyFeeAccrual,
    model: CostModel,
    *,
    symbol: str,
    side: str,
    qty: Decimal,
    quote: ExecutionPrice,
    price: Decimal,
    day: date,
    now_ms: int,
) -> tuple[Execution, FillCosts]:
    """Book one execution of ``qty`` at ``price`` (``quote.price``, or a limit-clamped one).

    The fees of the execution are computed at ``price``, the regulatory ones accrued on
    ``day`` (the New York trading date), and cash moves by the trade value and the fees
    due now.
    """
    fees = model.fill_fees(side, qty, price)
    charged = fees.commission + accrual.charge(day, fees.regulatory)
    execution = portfolio.apply_execution(symbol, side, qty, price, charged, now_ms)
    costs = FillCosts(
        symbol, side, qty, quote.reference, price, quote.half_spread, fees, charged, now_ms
    )
    return execution, costs


__all__ = ["ROUND_TRIP_QTY", "CostModel", "ExecutionPrice", "FillCosts", "book_fill"]
