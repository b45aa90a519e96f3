"""engine.hold_baseline: equal dollars in every symbol from the first bar to the end-of-day
bar, through the same fill rule and costs as the strategy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from common.bars import MINUTE_MS, Bar
from common.calendar import nyse
from engine.hold_baseline import hold_baseline
from engine.market_grid import build_grid
from engine.sim_fills import SessionMarket
from ledger.costs import CostModel
from ledger.fees import NO_FEE_SCHEDULE

DAY = date(2025, 10, 14)
FREE = CostModel(Decimal(0), None, NO_FEE_SCHEDULE)


@pytest.fixture(scope="module")
def grid():
    """AAA at 10 until 09:34, at 11 from 09:35; BBB trades at 09:30 (20), 09:32 (21) and
    14:29 (close 22) only: its buy rests a minute, its sell until the close."""
    s = nyse().session(DAY)

    def at(m: int) -> int:
        return s.open_ms + m * MINUTE_MS

    aaa = [
        Bar("AAA", at(m), p, p, p, p, 100) for m in range(390) for p in [10.0 if m < 5 else 11.0]
    ]
    bbb = [Bar("BBB", at(0), 20.0, 20.0, 20.0, 20.0, 10), Bar("BBB", at(2), 21.0, 21.0, 21.0, 21.0, 10),
           Bar("BBB", at(299), 21.5, 22.0, 21.5, 22.0, 10)]  # fmt: skip
    return build_grid(["AAA", "BBB"], [s], {"AAA": aaa, "BBB": bbb})


def test_the_baseline_buys_equal_dollars_and_sells_on_the_end_of_day_bar(grid):
    # 1,000 / 2 symbols: 50 AAA at 10 (09:31's open), 25 BBB at 21 (09:32's open, resting);
    # sold on the bar of 14:30: AAA at 11, BBB at the session's last price, 22
    pnl = hold_baseline(grid, 0, SessionMarket(grid, 0, FREE, {}), 1_000.0, 300)
    assert (pnl.start_equity, pnl.end_equity) == (1_000.0, 1_075.0)
    assert pnl.net == 75.0 and pnl.gross == 75.0 and pnl.costs.total == 0
    assert pnl.traded_value == 50 * 10 + 25 * 21 + 50 * 11 + 25 * 22
    assert pnl.return_pct == pytest.approx(7.5)


def test_the_baseline_pays_the_same_costs_as_the_strategy(grid):
    model = CostModel.default()  # no liquidity known: the 25 bp cap, plus 1 bp and fees
    pnl = hold_baseline(grid, 0, SessionMarket(grid, 0, model, {}), 1_000.0, 300)
    assert pnl.gross == pytest.approx(75.0, abs=0.01)  # before costs: the free baseline
    assert pnl.costs.spread > 0 and pnl.costs.slippage > 0 and pnl.costs.fees > 0
    assert pnl.net == pytest.approx(75.0 - pnl.costs.total, abs=0.01)


def test_no_baseline_without_room_to_buy_and_sell(grid):
    market = SessionMarket(grid, 0, FREE, {})
    assert hold_baseline(grid, 0, market, 1_000.0, 0) is None
    assert hold_baseline(grid, 0, market, 1_000.0, 389) is None
    assert hold_baseline(grid, 0, market, 10.0, 300) is None  # $5 buys no share
