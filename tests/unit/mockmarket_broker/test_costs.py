"""The broker with the cost model: half-spread from liquidity, slippage, regulatory fees, and
a market order in a minute without a bar (it rests until the next bar, else fills at the close)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.bars import MINUTE_MS
from common.calendar import parse_rfc3339, to_ms
from common.config import CostsConfig
from ledger.costs import CostModel
from ledger.fees import NO_FEE_SCHEDULE
from ledger.no_bar_rule import NoBarRule, grid_market_fill
from ledger.spread import SpreadModel

D = Decimal
# the defaults, with liquidity measured on the one session before (the fixtures have one)
COSTS = CostModel.from_config(CostsConfig(liquidity_sessions=1))
# the rule alone: no spread, no slippage, no fee
RULE_ONLY = CostModel(D(0), None, NO_FEE_SCHEDULE, no_bar_rule=NoBarRule.NEXT_BAR)


@pytest.fixture
def costly(make_market, session, prev_session):
    """10:00:30 on DAY. AAA: 50 all day, 100 shares a minute the day before at 49 ($4,900 a
    minute: half-spread 1 bp × sqrt(100,000 / 4,900) = 4.52 bp). THIN: one bar in ten the day
    before ($100 a minute: 31.6 bp, capped at 25 bp), one bar at 10:05 today."""
    mk = make_market(session.open_ms + 30 * MINUTE_MS + 30_000, costs=COSTS)
    mk.prices.flat("AAA", prev_session.minutes(), 49.0)
    mk.prices.flat("AAA", session.minutes(), 50.0)
    mk.prices.flat("THIN", list(prev_session.minutes())[::10], 10.0)
    mk.prices.add("THIN", session.open_ms + 35 * MINUTE_MS, 10.2, c=10.3)
    return mk


def test_a_fill_pays_the_half_spread_of_its_liquidity_and_the_slippage(costly):
    buy = costly.order(symbol="AAA", qty=10, side="buy")
    # 50 × 4.5175 bp = 0.022588 → 0.0226 (rounded up); slippage 1 bp = 0.005
    assert buy["filled_avg_price"] == "50.0276"
    sell = costly.order(symbol="AAA", qty=10, side="sell")
    assert sell["filled_avg_price"] == "49.9724"
    fill = costly.broker.fill_costs[0]
    assert (fill.reference, fill.half_spread, fill.price) == (D(50), D("0.0226"), D("50.0276"))


def test_the_spread_comes_from_the_sessions_before_never_the_traded_one(costly, session):
    bars = costly.prices._bars["AAA"]
    for t in session.minutes():  # a thousand times the volume today changes nothing
        bars[t] = replace(bars[t], volume=100_000.0)
    assert costly.order(symbol="AAA", qty=10, side="buy")["filled_avg_price"] == "50.0276"


def test_a_market_order_in_a_minute_without_a_bar_rests_until_the_next_bar(costly, session):
    order = costly.order(symbol="THIN", qty=5, side="buy")  # 10:00, THIN's next bar is 10:05
    assert order["status"] == "new" and order["filled_qty"] == "0"
    costly.run_minutes(session.open_ms + 31 * MINUTE_MS, session.open_ms + 34 * MINUTE_MS)
    assert costly.broker.get_order(order["id"])["status"] == "new"
    costly.minute(session.open_ms + 35 * MINUTE_MS)
    got = costly.broker.get_order(order["id"])
    assert got["status"] == "filled"
    assert got["filled_at"].startswith("2024-03-12T14:05:00")  # 10:05 New York
    assert got["filled_avg_price"] == "10.2265"  # 10.2 + 25 bp (0.0255) + 1 bp (0.00102)
    assert costly.events(order["id"]) == ["new", "fill"]


def test_a_market_order_still_working_at_the_close_fills_at_the_last_price(costly, session):
    costly.at(session.open_ms + 36 * MINUTE_MS + 5_000)  # after THIN's only bar
    order = costly.order(symbol="THIN", qty=5, side="buy")
    costly.run_minutes(session.open_ms + 37 * MINUTE_MS, session.close_ms - MINUTE_MS)
    assert costly.broker.get_order(order["id"])["status"] == "new"
    costly.minute(session.close_ms)
    got = costly.broker.get_order(order["id"])
    # the session's last price, 10.3, + 25 bp + 1 bp, at the close
    assert (got["status"], got["filled_avg_price"]) == ("filled", "10.3268")
    assert got["filled_at"].startswith("2024-03-12T20:00:00")
    flat = costly.order(symbol="THIN", qty=5, side="sell")  # after the close: the next session
    assert flat["status"] == "new"


def test_an_immediate_order_in_a_minute_without_a_bar_is_canceled(costly):
    ioc = costly.order(symbol="THIN", qty=5, side="buy", time_in_force="ioc")
    assert (ioc["status"], ioc["filled_qty"]) == ("canceled", "0")


def test_fees_on_a_sell_reduce_cash_by_the_documented_amount(costly):
    cash0 = costly.broker.portfolio.cash
    costly.order(symbol="AAA", qty=1000, side="buy")  # at 50.0276: CAT 0.046 → 0.05 charged
    after_buy = cash0 - D("50027.60") - D("0.05")
    assert costly.broker.portfolio.cash == after_buy
    costly.order(symbol="AAA", qty=1000, side="sell")  # at 49.9724
    # SEC 49,972.40 × 27.80 / 1e6 = 1.38923272; TAF 1000 × 0.000166 = 0.166; CAT 0.046
    # day's accrual 0.046 + 1.60123272 = 1.64723272 → 1.65 charged in all, 1.60 with the sell
    assert costly.broker.portfolio.cash == after_buy + D("49972.40") - D("1.60")
    account = costly.broker.account()
    assert account["accrued_fees"] == "1.65"
    fees = costly.broker.account_activities({}, "FEE")
    assert [(a["date"], a["net_amount"]) for a in fees] == [("2024-03-12", "-1.65")]
    fills = costly.broker.account_activities({"activity_types": "FILL", "direction": "asc"})
    assert [(a["side"], a["price"], a["qty"]) for a in fills] == [
        ("buy", "50.0276", "1000"),
        ("sell", "49.9724", "1000"),
    ]


def test_the_legacy_model_keeps_the_stale_close_rule(market):
    # the conftest's broker runs CostModel.legacy(): THIN fills at once at 10.5
    assert market.order(symbol="THIN", qty=1, side="buy")["filled_avg_price"] == "10.5"


# make_market is a factory (the Market class): nothing carries over between examples
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    opens=st.lists(st.integers(100, 100_000), min_size=3, max_size=3),
    slippage=st.integers(0, 50),
    at_reference=st.integers(0, 50),
    volume_scale=st.integers(0, 6),
)
def test_a_buy_never_fills_below_the_bars_open_and_a_sell_never_above(
    make_market, session, prev_session, opens, slippage, at_reference, volume_scale
):
    costs = CostModel(
        D(slippage),
        SpreadModel(D(at_reference), D(100_000), D(60)),
        CostModel.default().fees,
        liquidity_sessions=1,
    )
    mk = make_market(session.open_ms - MINUTE_MS, costs=costs)
    for t in prev_session.minutes():
        bar = mk.prices.add("AAA", t, 20.0)
        mk.prices._bars["AAA"][t] = replace(bar, volume=float(10**volume_scale))
    for i, cents in enumerate(opens):
        mk.prices.add("AAA", session.open_ms + i * MINUTE_MS, cents / 100)
    for i, cents in enumerate(opens):
        mk.minute(session.open_ms + i * MINUTE_MS)
        mk.at(session.open_ms + i * MINUTE_MS + 30_000)
        buy = mk.order(symbol="AAA", qty=3, side="buy")
        sell = mk.order(symbol="AAA", qty=3, side="sell")
        assert D(buy["filled_avg_price"]) >= D(cents) / 100 >= D(sell["filled_avg_price"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    density=st.sampled_from([0.0, 0.02, 0.1, 0.5, 1.0]),
    arrival=st.integers(0, 389),
)
def test_the_broker_and_the_grid_function_apply_the_same_no_bar_rule(
    make_market, session, prev_session, seed, density, arrival
):
    """mockmarket's minute-by-minute broker and the backtest's grid function agree on the
    fill minute and price of a market order arriving in any minute of any sparse session."""
    rng = np.random.default_rng(seed)
    n = session.n_minutes
    real = rng.random(n) < density
    opens = np.round(20 + rng.normal(0, 0.5, n), 2)
    closes = np.round(opens + rng.normal(0, 0.05, n), 2)
    mk = make_market(session.open_ms + arrival * MINUTE_MS + 30_000, costs=RULE_ONLY)
    mk.prices.add("AAA", prev_session.close_ms - MINUTE_MS, 19.5)  # the previous close
    grid_close = np.empty(n)
    last = 19.5
    for i, t in enumerate(session.minutes()):
        if real[i]:
            mk.prices.add("AAA", t, float(opens[i]), c=float(closes[i]))
            last = float(closes[i])
        grid_close[i] = last
    order = mk.order(symbol="AAA", qty=1, side="buy")
    mk.run_minutes(session.open_ms + (arrival + 1) * MINUTE_MS, session.close_ms)
    got = mk.broker.get_order(order["id"])
    expected = grid_market_fill(real, opens, grid_close, arrival)
    assert expected is not None and got["status"] == "filled"
    assert D(got["filled_avg_price"]) == expected.reference
    filled_at = to_ms(parse_rfc3339(got["filled_at"]))
    if expected.at_close:
        assert filled_at == session.close_ms
    else:
        assert filled_at - filled_at % MINUTE_MS == session.open_ms + expected.index * MINUTE_MS


def test_a_partial_remainder_still_working_at_the_close_fills_there(make_market, session, prev_session):
    mk = make_market(session.close_ms - MINUTE_MS + 10_000, costs=COSTS)  # 15:59:10
    mk.prices.flat("AAA", prev_session.minutes(), 49.0)
    mk.prices.add("AAA", session.close_ms - MINUTE_MS, 50.0, c=50.5)
    mk.faults.partial_fill_rate = 1.0
    order = mk.order(symbol="AAA", qty=10, side="buy")
    assert order["status"] == "partially_filled"
    mk.minute(session.close_ms)
    got = mk.broker.get_order(order["id"])
    assert (got["status"], got["filled_qty"]) == ("filled", "10")
    last = mk.event_data("fill")[0]
    assert last["price"] == "50.528"  # the last close 50.5 + 4.52 bp (0.0229) + 1 bp (0.00505)
