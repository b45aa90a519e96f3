"""engine.sim_fills and engine.sim_account: mockmarket's fill rule and ledger on the grid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from common.bars import MINUTE_MS, Bar
from common.calendar import nyse
from engine.market_grid import build_grid, load_sessions
from engine.order_plan import PlannedOrder
from engine.sim_account import SimAccount
from engine.sim_fills import GridPrices, fill_minute, fill_price
from engine.strategies import Holding
from ledger.fill_prices import open_price
from mockmarket.store import MarketStore

DAY = date(2025, 10, 14)


def order(symbol: str, side: str, qty: float, cid: str = "x") -> PlannedOrder:
    return PlannedOrder(symbol, side, qty, cid, side == "sell", "test")


@pytest.fixture(scope="module")
def small():
    """AAA trades at 09:30 and 09:33 only; BBB from 09:31."""
    s = nyse().session(DAY)
    t0 = s.open_ms
    bars = {
        "AAA": [
            Bar("AAA", t0, 10.0, 10.5, 9.9, 10.2, 100),
            Bar("AAA", t0 + 3 * MINUTE_MS, 11.0, 11.1, 10.8, 10.9, 50),
        ],
        "BBB": [Bar("BBB", t0 + MINUTE_MS, 20.0, 20.0, 19.0, 19.5, 10)],
    }
    return build_grid(["AAA", "BBB"], [s], bars), t0


def test_an_order_fills_at_the_next_minutes_open_or_the_last_close_for_a_thin_symbol(small):
    grid, t0 = small
    prices = GridPrices(grid)
    assert fill_minute(t0) == t0 + MINUTE_MS
    assert fill_price(prices, "AAA", "buy", t0 + 2 * MINUTE_MS, Decimal(0)) == Decimal("11.0000")
    # no AAA bar at 09:31 or 09:32: the last close before the minute (09:30's)
    assert fill_price(prices, "AAA", "buy", t0, Decimal(0)) == Decimal("10.2000")
    assert fill_price(prices, "AAA", "sell", t0 + MINUTE_MS, Decimal(0)) == Decimal("10.2000")
    # BBB has no price before 09:31: an order decided at 09:29 finds none; at 09:30 its open
    assert fill_price(prices, "BBB", "buy", t0 - MINUTE_MS, Decimal(0)) is None
    assert fill_price(prices, "BBB", "buy", t0, Decimal(0)) == Decimal("20.0000")
    assert fill_price(prices, "ZZZ", "buy", t0, Decimal(0)) is None
    with pytest.raises(ValueError, match="side"):
        fill_price(prices, "AAA", "short", t0, Decimal(0))


def test_slippage_goes_against_the_taker_rounded_to_a_hundredth_of_a_cent(small):
    grid, t0 = small
    prices = GridPrices(grid)
    bps = Decimal("3.3")
    assert fill_price(prices, "AAA", "buy", t0 + 2 * MINUTE_MS, bps) == Decimal("11.0036")
    assert fill_price(prices, "AAA", "sell", t0 + 2 * MINUTE_MS, bps) == Decimal("10.9964")


def test_the_grid_prices_are_mockmarkets_store_prices(market):
    """open_price over GridPrices == over MarketStore for every symbol and minute of a day."""
    day = market.sessions[-2]
    symbols = ["SPY", "SDS", "UVXY", "SVXY", "FAZ"]
    grid = load_sessions(symbols, market.sessions[:-1], market.directory / "equities")
    store = MarketStore.load(market.directory / "equities", day.date, symbols=symbols)
    prices = GridPrices(grid)
    thin = 0
    for t in [*day.minutes(), day.close_ms]:
        for s in symbols:
            thin += store.bar_at(s, t) is None
            assert open_price(prices, s, t) == open_price(store, s, t), (s, t)
    assert thin > 0  # some minutes have no bar: the last-close branch is compared too


def test_the_account_books_fills_like_the_paper_broker_and_reads_back_like_its_api(small):
    grid, t0 = small
    acct = SimAccount(10_000.0, slippage_bps=1.0, fee_per_share=0.01)
    fills, missed = acct.execute(
        [order("AAA", "buy", 300, "a"), order("BBB", "buy", 5, "b")],
        t0 - MINUTE_MS,
        GridPrices(grid),
    )
    assert [o.client_order_id for o in missed] == ["b"] and len(fills) == 1
    f = fills[0]
    assert (f.symbol, f.side, f.qty, f.price, f.t_ms) == ("AAA", "buy", 300.0, 10.001, t0)
    assert f.fee == 3.0 and f.cash_delta == -(3000.30 + 3.0) and f.position_after == 300.0
    assert acct.cash == 10_000.0 - 3003.30
    fills, _ = acct.execute([order("AAA", "buy", 100)], t0 + 2 * MINUTE_MS, GridPrices(grid))
    avg = (Decimal("10.001") * 300 + Decimal("11.0011") * 100) / 400
    assert acct.holdings() == {"AAA": Holding(400, float(avg.quantize(Decimal("0.000001"))))}
    assert acct.positions() == {"AAA": 400.0}
    assert acct.equity({"AAA": 12.0}) == round(acct.cash + 400 * 12.0, 2)
    assert acct.equity({}) == round(acct.cash + float(avg * 400), 2)  # no mark: entry value
    fills, _ = acct.execute([order("AAA", "sell", 400)], t0 + 2 * MINUTE_MS, GridPrices(grid))
    assert acct.positions() == {} and fills[0].position_after == 0.0


def test_bad_account_settings_are_refused():
    with pytest.raises(ValueError, match="cash"):
        SimAccount(0.0)
    with pytest.raises(ValueError, match="slippage_bps"):
        SimAccount(1.0, slippage_bps=-1.0)
    with pytest.raises(ValueError, match="starting_cash"):
        SimAccount(float("nan"))
