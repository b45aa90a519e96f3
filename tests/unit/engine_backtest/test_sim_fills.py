"""engine.sim_fills, engine.sim_liquidity and engine.sim_account: mockmarket's fill rule,
costs and ledger on the grid, resting orders, and fees charged per day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from common.bars import MINUTE_MS, Bar
from common.calendar import nyse
from common.config import CostsConfig
from engine.market_grid import build_grid, load_sessions
from engine.order_plan import PlannedOrder
from engine.sim_account import SimAccount
from engine.sim_fills import SessionMarket
from engine.sim_liquidity import backtest_liquidity
from engine.strategies import Holding
from ledger.costs import CostModel
from ledger.fees import NO_FEE_SCHEDULE, FeeSchedule
from ledger.liquidity import history_liquidity, liquidity_window
from ledger.money import ZERO
from ledger.no_bar_rule import NoBarRule, closing_reference, market_reference
from mockmarket.store import MarketStore

D = Decimal
DAY = date(2025, 10, 14)
# no spread, no fee: the price is the reference plus slippage
SLIP_1BP = CostModel(D(1), None, NO_FEE_SCHEDULE)


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
    return build_grid(["AAA", "BBB"], [s], bars), s


def market(grid, model=SLIP_1BP, liquidity=None) -> SessionMarket:
    return SessionMarket(grid, 0, model, liquidity or {})


def test_an_order_fills_at_its_symbols_next_bar_open_or_at_the_close(small):
    grid, s = small
    m = market(grid)
    # arriving 09:31 (decided on 09:30): AAA has no bar before 09:33, its open
    f = m.fill_of("AAA", 1)
    assert (f.index, f.reference, f.at_close) == (3, D("11.0000"), False)
    assert m.fill_ms(f) == s.open_ms + 3 * MINUTE_MS
    assert m.fill_of("AAA", 3).index == 3 and m.fill_of("AAA", 0).reference == D("10.0000")
    # arriving 09:34: AAA never trades again, the session's last price at the close
    f = m.fill_of("AAA", 4)
    assert (f.index, f.reference, f.at_close) == (grid.n_minutes - 1, D("10.9000"), True)
    assert m.fill_ms(f) == s.close_ms
    # BBB from 09:31; an unknown symbol or an arrival after the session never fills
    assert m.fill_of("BBB", 0).reference == D("20.0000")
    assert m.fill_of("ZZZ", 0) is None and m.fill_of("AAA", grid.n_minutes) is None


def test_the_price_is_the_cost_models_half_spread_and_slippage_over_the_reference(small):
    grid, _ = small
    model = CostModel.default()  # 1 bp slippage; no liquidity known: the 25 bp cap
    m = market(grid, model, {"AAA": None})
    q = m.quote("AAA", "buy", D("11.0000"))
    # 11 × 25 bp = 0.0275 half-spread, 11 × 1 bp = 0.0011 slippage
    assert (q.half_spread, q.price) == (D("0.0275"), D("11.0286"))
    assert m.quote("AAA", "sell", D("11.0000")).price == D("10.9714")
    thick = market(grid, model, {"AAA": D(10_000_000)})  # $10M a minute: the half-cent floor
    assert thick.quote("AAA", "buy", D("11.0000")).price == D("11.0061")


def test_a_resting_order_is_pending_until_its_symbol_trades_and_can_be_canceled(small):
    grid, s = small
    m = market(grid)
    acct = SimAccount(10_000.0, SLIP_1BP)
    fills, never = acct.submit([order("AAA", "buy", 300, "a"), order("BBB", "buy", 5, "b")], 0, m)
    assert not never and [f.client_order_id for f in fills] == ["b"]  # BBB trades at 09:31
    assert acct.pending() == {"AAA": 300.0} and acct.positions() == {"BBB": 5.0}
    assert acct.start_minute(2, m) == [] and acct.pending() == {"AAA": 300.0}
    (f,) = acct.start_minute(3, m)
    assert (f.client_order_id, f.price, f.t_ms, f.decided_t_ms) == (
        "a",
        11.0011,
        s.open_ms + 3 * MINUTE_MS,
        s.open_ms,
    )
    assert f.costs.reference == D("11.0000") and acct.pending() == {}
    # a sell resting with nothing left to trade is canceled: it never fills
    fills, _ = acct.submit([order("AAA", "sell", 100, "c")], 3, m)
    assert fills == [] and acct.pending() == {"AAA": -100.0}
    assert acct.cancel("AAA", "buy") == [] and acct.cancel("AAA", "sell") == ["c"]
    assert acct.pending() == {} and acct.close_session(m) == []
    # one still working at the close fills there, at the session's last price
    acct.submit([order("AAA", "sell", 300, "d")], 3, m)
    (f,) = acct.close_session(m)
    assert (f.price, f.t_ms, f.position_after) == (10.8989, s.close_ms, 0.0)
    assert acct.working == [] and acct.positions() == {"BBB": 5.0}


def test_the_account_books_fills_like_the_paper_broker_and_reads_back_like_its_api(small):
    grid, s = small
    m = market(grid, CostModel(D(1), None, FeeSchedule(ZERO, ZERO, ZERO, ZERO, D("0.01"))))
    acct = SimAccount(10_000.0, m.model)
    (f,), _ = acct.submit([order("AAA", "buy", 300, "a")], -1, m)  # arrives at 09:30
    assert (f.symbol, f.side, f.qty, f.price, f.t_ms) == ("AAA", "buy", 300.0, 10.001, s.open_ms)
    assert f.fee == 3.0 and f.cash_delta == -(3000.30 + 3.0) and f.position_after == 300.0
    assert acct.cash == 10_000.0 - 3003.30
    acct.submit([order("AAA", "buy", 100)], 2, m)
    avg = (D("10.001") * 300 + D("11.0011") * 100) / 400
    assert acct.holdings() == {"AAA": Holding(400, float(avg.quantize(D("0.000001"))))}
    assert acct.positions() == {"AAA": 400.0}
    assert acct.equity({"AAA": 12.0}) == round(acct.cash + 400 * 12.0, 2)
    assert acct.equity({}) == round(acct.cash + float(avg * 400), 2)  # no mark: entry value
    (f3,), _ = acct.submit([order("AAA", "sell", 400)], 2, m)
    assert acct.positions() == {} and f3.position_after == 0.0


def test_regulatory_fees_accrue_per_day_and_are_charged_rounded_up_to_the_cent(small):
    grid, _ = small
    # CAT only: 100 shares × 0.000033 = 0.0033 per fill
    model = CostModel(ZERO, None, FeeSchedule(ZERO, ZERO, ZERO, D("0.000033")))
    m = market(grid, model)
    acct = SimAccount(10_000.0, model)
    fills = []
    for cid in ("a", "b", "c"):
        done, _ = acct.submit([order("BBB", "buy", 100, cid)], 0, m)
        fills += done
    assert [f.fee for f in fills] == [0.01, 0.0, 0.0]  # 0.0099 accrued: one cent in all
    assert [f.costs.fee_cost for f in fills] == [D("0.0033")] * 3
    assert acct.cash == 10_000.0 - 3 * 2000.0 - 0.01
    (day,) = acct.fee_accrual.days()
    assert (day.day, day.accrued, day.charged) == (DAY, D("0.0099"), D("0.01"))
    # the next session accrues anew: its first fee is charged its own cent
    nxt = nyse().sessions_between(date(2025, 10, 15), date(2025, 10, 15))[0]
    g2 = build_grid(["BBB"], [nxt], {"BBB": [Bar("BBB", nxt.open_ms, 20.0, 20.0, 20.0, 20.0, 1)]})
    (f,), _ = acct.submit([order("BBB", "sell", 300, "d")], -1, SessionMarket(g2, 0, model, {}))
    assert f.fee == 0.01 and [d.charged for d in acct.fee_accrual.days()] == [D("0.01"), D("0.01")]


def test_bad_account_settings_are_refused():
    with pytest.raises(ValueError, match="cash"):
        SimAccount(0.0)
    with pytest.raises(ValueError, match="slippage_bps"):
        SimAccount(1.0, CostModel(D(-1), None, NO_FEE_SCHEDULE))
    with pytest.raises(ValueError, match="starting_cash"):
        SimAccount(float("nan"))


def test_the_grid_rule_is_the_brokers_rule_over_its_store(market):
    """Where every market order of a day fills: the grid's rule == the broker's, over the store."""
    day = market.sessions[-2]
    symbols = ["SPY", "SDS", "UVXY", "SVXY", "FAZ"]
    grid = load_sessions(symbols, market.sessions[:-1], market.directory / "equities")
    store = MarketStore.load(market.directory / "equities", day.date, symbols=symbols)
    m = SessionMarket(grid, len(grid.sessions) - 1, SLIP_1BP, {})
    minutes = list(day.minutes())
    lo = grid.session_range(len(grid.sessions) - 1).start
    rested = 0
    for s in symbols:
        for a in range(len(minutes)):
            # the broker: the first minute from the arrival with a bar, else the close
            ref = next(
                (
                    (k, r)
                    for k, u in enumerate(minutes[a:], a)
                    if (r := market_reference(store, s, u, NoBarRule.NEXT_BAR)) is not None
                ),
                None,
            )
            got = m.fill_of(s, lo + a)
            if ref is None:
                assert got.at_close and got.reference == closing_reference(store, s, day.close_ms)
            else:
                assert (got.index - lo, got.reference, got.at_close) == (ref[0], ref[1], False)
                rested += ref[0] > a
    assert rested > 0  # some minutes have no bar: resting orders are compared too


def test_the_liquidity_is_the_brokers_from_the_grid_and_the_files(market):
    """Warm-up shorter than the liquidity window: the older sessions come from the files."""
    model = CostModel.from_config(CostsConfig())
    symbols = ["SPY", "SDS", "FAZ"]
    day = market.sessions[-1]
    grid = load_sessions(symbols, market.sessions[-2:], market.directory / "equities")
    store = MarketStore.load(market.directory / "equities", day.date, symbols=symbols)
    window = liquidity_window(nyse(), day.date, model.liquidity_sessions)
    broker = {s: history_liquidity(store, s, window) for s in symbols}
    full = backtest_liquidity(grid, [1], 10, history_dir=market.directory / "equities")
    assert full.on(day, symbols) == broker and all(v is not None for v in broker.values())
    grid_only = backtest_liquidity(grid, [1], 10)  # only the one session before in the grid
    assert grid_only.on(day, symbols) != broker
