"""The cost model of one fill: execution price, its breakdown, and the cash it moves."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.config import CostsConfig
from ledger.costs import CostModel, book_fill
from ledger.fees import DailyFeeAccrual, FeeSchedule
from ledger.fill_prices import slipped
from ledger.money import cents
from ledger.no_bar_rule import NoBarRule
from ledger.portfolio import Portfolio
from ledger.spread import SpreadModel

D = Decimal
DAY = date(2025, 10, 16)


def test_the_default_model_is_the_configs_defaults():
    m = CostModel.default()
    cfg = CostsConfig()
    assert m.slippage_bps == D(repr(cfg.slippage_bps)) == D(1)
    assert m.spread == SpreadModel(D(1), D(100_000), D(25))
    assert m.fees == FeeSchedule(D("27.8"), D("0.000166"), D("8.3"), D("0.000046"), D(0))
    assert m.liquidity_sessions == cfg.liquidity_sessions == 10
    assert m.no_bar_rule is NoBarRule.NEXT_BAR
    assert not m.is_free and CostModel.legacy().is_free


def test_every_knob_of_a_config_reaches_the_model():
    cfg = CostsConfig(
        slippage_bps=2.5, fee_per_share=0.003, sec_fee_per_million=8.0, taf_per_share=0.0002,
        taf_max_per_trade=6.0, cat_fee_per_share=0.00003, half_spread_bps_at_reference=3.0,
        reference_minute_dollar_volume=5e5, max_half_spread_bps=40.0, liquidity_sessions=4,
    )  # fmt: skip
    m = CostModel.from_config(cfg)
    assert m.slippage_bps == D("2.5") and m.liquidity_sessions == 4
    assert m.spread == SpreadModel(D(3), D(500_000), D(40))
    assert m.fees == FeeSchedule(D(8), D("0.0002"), D(6), D("0.00003"), D("0.003"))


def test_buy_pays_half_spread_and_slippage_over_the_reference_sell_gets_less():
    m = CostModel.default()
    # liquidity unknown → the cap, 25 bp: half-spread $0.125 on $50; slippage 1 bp = $0.005
    buy = m.execution_price("buy", D(50), None)
    sell = m.execution_price("sell", D(50), None)
    assert (buy.half_spread, buy.price) == (D("0.125"), D("50.13"))
    assert (sell.half_spread, sell.price) == (D("0.125"), D("49.87"))


def test_the_legacy_model_is_the_pre_cost_rule():
    m = CostModel.legacy(slippage_bps=10, fee_per_share=0.005)
    assert m.no_bar_rule is NoBarRule.LAST_CLOSE and m.spread is None
    assert m.execution_price("buy", D(50), D(1)).price == slipped(D(50), "buy", D(10)) == D("50.05")
    assert CostModel.legacy().execution_price("sell", D("12.34"), None).price == D("12.34")


def test_bad_knobs_are_refused():
    with pytest.raises(ValueError, match="slippage_bps"):
        CostModel.legacy(slippage_bps=-1)
    with pytest.raises(ValueError, match="liquidity_sessions"):
        CostModel(D(0), None, FeeSchedule(D(0), D(0), D(0), D(0)), liquidity_sessions=0)


knobs = st.builds(
    CostModel,
    slippage_bps=st.decimals(min_value=0, max_value=100, places=2),
    spread=st.one_of(
        st.none(),
        st.builds(
            SpreadModel,
            at_reference_bps=st.decimals(min_value=0, max_value=100, places=2),
            reference_dollar_volume=st.decimals(min_value=1, max_value="1e9", places=0),
            max_bps=st.decimals(min_value=0, max_value=500, places=1),
        ),
    ),
    fees=st.just(CostModel.default().fees),
)


@given(
    model=knobs,
    open_=st.decimals(min_value="0.01", max_value="5000", places=2),
    liquidity=st.one_of(st.none(), st.decimals(min_value=0, max_value="1e10", places=2)),
)
def test_a_buy_never_fills_below_the_bars_open_and_a_sell_never_above(model, open_, liquidity):
    buy = model.execution_price("buy", open_, liquidity).price
    sell = model.execution_price("sell", open_, liquidity).price
    assert buy >= open_ >= sell
    if model.spread is not None:  # at least half a cent each way
        assert buy - open_ >= D("0.005") and open_ - sell >= D("0.005")


def test_book_fill_moves_cash_by_value_and_fees_due_and_breaks_the_fill_down():
    m = CostModel.default()
    pf, acc = Portfolio(D(100_000)), DailyFeeAccrual()
    q = m.execution_price("buy", D(50), D(400_000))  # half-spread 0.5 bp of $50 → the half cent
    assert (q.half_spread, q.price) == (D("0.005"), D("50.01"))
    ex, buy = book_fill(pf, acc, m, symbol="X", side="buy", qty=D(1000), quote=q, price=q.price, day=DAY, now_ms=1)
    assert buy.fees.cat == D("0.046") and buy.fee_charged == D("0.05")
    assert ex.cash_delta == -D("50010.00") - D("0.05") and pf.cash == D(100_000) + ex.cash_delta
    assert buy.gross_value == D(50_000)
    assert buy.price_cost == D(10) == buy.spread_cost + buy.slippage_cost
    assert buy.spread_cost == D(5) and buy.slippage_cost == D(5)
    s = m.execution_price("sell", D(50), D(400_000))
    ex2, sell = book_fill(pf, acc, m, symbol="X", side="sell", qty=D(1000), quote=s, price=s.price, day=DAY, now_ms=2)
    # accrued today: 0.046 (buy) + 1.38978 SEC + 0.166 TAF + 0.046 CAT = 1.64778 → 1.65 due, 0.05 paid
    assert sell.fees.sec == D("49990") * D("27.8") / 1_000_000
    assert sell.fee_charged == D("1.60") and acc.day(DAY).charged == D("1.65")
    assert ex2.cash_delta == cents(D(1000) * D("49.99")) - D("1.60")
    assert pf.positions == {} and pf.cash == D(100_000) - D(20) - D("1.65")
    assert buy.total_cost + sell.total_cost == D(20) + buy.fee_cost + sell.fee_cost


def test_a_limit_clamp_is_reported_as_less_spread_and_an_improvement_as_negative_cost():
    m = CostModel.default()
    pf, acc = Portfolio(D(100_000)), DailyFeeAccrual()
    q = m.execution_price("buy", D(50), None)  # 50.13 before the clamp
    _, clamped = book_fill(pf, acc, m, symbol="X", side="buy", qty=D(10), quote=q, price=D("50.05"), day=DAY, now_ms=1)
    assert clamped.spread_cost == D("0.5") and clamped.slippage_cost == 0
    _, better = book_fill(pf, acc, m, symbol="X", side="buy", qty=D(10), quote=q, price=D("49.90"), day=DAY, now_ms=2)
    assert better.price_cost == D(-1) and better.spread_cost == 0


def test_a_round_trip_costs_both_half_spreads_both_slippages_and_both_fills_fees():
    m = CostModel.default()
    # liquidity unknown: buy at 50.13, sell at 49.87 (above); 100 shares
    fees = (
        m.fill_fees("buy", D(100), D("50.13")).total + m.fill_fees("sell", D(100), D("49.87")).total
    )
    want = (D("0.26") * 100 + fees) / D(5000)
    assert m.round_trip_cost(D(50), None) == want
    assert D("0.0052") < want < D("0.0053")  # 2 x (25 + 1) bp and about 0.5 bp of fees
    # a liquid symbol pays the half-cent floor: 2 x (0.5 c + 1 bp) on $50 = 4 bp, plus fees
    liquid = m.round_trip_cost(D(50), D(10_000_000))
    assert D("0.0004") < liquid < D("0.00044")
    # the legacy model charges slippage only
    assert CostModel.legacy(slippage_bps=1).round_trip_cost(D(50), None) == D("0.0002")
    with pytest.raises(ValueError, match="price"):
        m.round_trip_cost(D(0), None)
