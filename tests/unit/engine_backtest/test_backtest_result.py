"""engine.backtest_result: the figures (MRD, trades, win rate, drawdown) and the report."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from common.calendar import ny_datetime, to_ms
from common.config import PsmStrategyConfig
from engine.backtest import _Trips
from engine.backtest_result import (
    BacktestResult,
    DayResult,
    TradeRecord,
    format_orders,
    format_report,
    max_drawdown_pct,
)
from engine.sim_account import SimFill

D1, D2 = date(2025, 11, 26), date(2025, 11, 28)


def day(
    d: date,
    start: float,
    end: float,
    *,
    minutes: int = 390,
    halted: bool = False,
    flat: bool = True,
    trades: int = 1,
    wins: int = 1,
) -> DayResult:
    return DayResult(d, minutes, start, end, 2 * trades, 2 * trades, trades, wins, flat, halted, 0)


def result(days, trades, equity=(100_000.0,), fills=()) -> BacktestResult:
    return BacktestResult(
        "psm",
        PsmStrategyConfig(),
        days[0].session_date,
        days[-1].session_date,
        20,
        100_000.0,
        tuple(days),
        (),
        tuple(fills),
        tuple(trades),
        (),
        np.arange(len(equity)),
        np.array(equity),
    )


def test_max_drawdown_is_the_largest_fall_from_a_running_peak():
    assert max_drawdown_pct(np.array([100.0, 110.0, 99.0, 120.0, 108.0])) == pytest.approx(10.0)
    assert max_drawdown_pct(np.array([1.0, 2.0, 3.0])) == 0.0
    assert max_drawdown_pct(np.array([])) == 0.0


def test_the_headline_figures():
    trades = [
        TradeRecord("SPY", 0, 1, 12.5, 2),
        TradeRecord("SH", 2, 3, -3.0, 2),
        TradeRecord("SPY", 4, 5, 0.0, 2),
    ]
    r = result(
        [day(D1, 100_000.0, 101_000.0), day(D2, 101_000.0, 99_990.0, minutes=210)],
        trades,
        equity=(100_500.0, 101_000.0, 98_000.0, 99_990.0),
    )
    assert r.mrd_pct == pytest.approx((1.0 - 1.0) / 2)
    assert r.total_return_pct == pytest.approx(-0.01)
    assert r.n_trades == 3 and r.win_rate == pytest.approx(1 / 3)  # a flat trade is not a win
    assert r.max_drawdown_pct == pytest.approx(100 * 3_000 / 101_000)
    assert r.final_equity == 99_990.0 and r.flat_every_close
    assert r.days[1].half_day and not r.days[0].half_day


def test_the_report_shows_the_figures_and_one_line_per_day():
    r = result(
        [
            day(D1, 100_000.0, 101_000.0),
            day(D2, 101_000.0, 97_000.0, minutes=210, halted=True, flat=False),
        ],
        [TradeRecord("SPY", 0, 1, 10.0, 2)],
    )
    text = format_report(r)
    assert "backtest psm: 2025-11-26..2025-11-28, 2 session(s), 20 warm-up session(s)" in text
    assert "mean daily return (MRD)  -1.4802%" in text
    assert "win rate                 100.0%" in text
    assert "flat at every close      NO" in text
    (line,) = [x for x in text.splitlines() if x.strip().startswith("2025-11-28")]
    assert "210" in line and "-3.9604%" in line and "half day, HALTED" in line and "NO" in line
    empty = result([day(D1, 100_000.0, 100_000.0, trades=0, wins=0)], [])
    assert math.isnan(empty.win_rate) and "win rate                 -" in format_report(empty)


def test_round_trips_run_from_flat_to_flat_with_fees_in_their_pnl():
    t = to_ms(ny_datetime(D1, "10:00"))
    trips = _Trips()

    def fill(side: str, qty: float, cash: float, after: float, dt: int) -> SimFill:
        return SimFill("id", "SPY", side, qty, 0.0, 0.01, t + dt * 60_000, t, cash, after)

    assert trips.add(fill("buy", 10, -1000.1, 10, 1)) is None
    assert trips.add(fill("buy", 5, -510.05, 15, 2)) is None
    done = trips.add(fill("sell", 15, 1530.0 - 0.15, 0, 5))
    assert done == TradeRecord("SPY", t + 60_000, t + 300_000, 19.7, 3) and done.won
    assert trips.closed == [done] and not trips.open
    r = result([day(D1, 1.0, 1.0)], [done], fills=[fill("sell", 15, 1.0, 0, 5)])
    assert "10:05  sell        15  SPY" in format_orders(r)
