"""engine.backtest_result: the figures (MRD, trades, win rate, drawdown; gross, costs, net,
the hold baseline, turnover, round trips per group of sessions) and the report."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from common.calendar import ny_datetime, to_ms
from common.config import PsmStrategyConfig
from engine.backtest import _Trips
from engine.backtest_result import (
    HELD_OUT,
    IN_SAMPLE,
    NO_SPLIT,
    BacktestResult,
    Costs,
    DayResult,
    PnL,
    TradeRecord,
    costs_of,
    format_orders,
    format_report,
    max_drawdown_pct,
)
from engine.sim_account import SimFill
from ledger.costs import CostModel, book_fill
from ledger.fees import DailyFeeAccrual
from ledger.portfolio import Portfolio

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


# ---------------------------------------------------------------------- gross, costs, net


def test_the_costs_of_fills_are_what_cash_paid_over_their_reference_prices():
    """gross (at the reference prices, before fees) − costs == the change in cash, to the cent."""
    model = CostModel.default()
    book, accrual = Portfolio(Decimal("100000.00")), DailyFeeAccrual()
    fills, gross = [], Decimal(0)
    for side, qty, ref, liq in (("buy", 333, "43.1100", None), ("sell", 333, "43.5700", "2500000"),
                                ("buy", 7, "101.2345", "50000"), ("sell", 7, "99.9900", "50000")):  # fmt: skip
        quote = model.execution_price(side, Decimal(ref), None if liq is None else Decimal(liq))
        _, c = book_fill(book, accrual, model, symbol="SPY", side=side, qty=Decimal(qty),
                         quote=quote, price=quote.price, day=D1, now_ms=0)  # fmt: skip
        fills.append(SimFill("id", "SPY", side, qty, float(c.price), 0.0, 0, 0, 0.0, 0.0, c))
        gross += -c.sign * c.qty * c.reference
    costs = costs_of(fills)
    assert costs.spread > 0 and costs.slippage > 0 and costs.fees > 0
    net = book.cash - Decimal("100000.00")
    assert round(float(gross) - costs.total, 2) == float(net)
    assert costs.fees == float(sum(f.costs.fee_charged for f in fills))


def test_each_group_has_its_gross_costs_net_hold_turnover_and_round_trips():
    costs = Costs(spread=30.0, slippage=10.0, fees=2.0)
    d1 = replace(day(D1, 100_000.0, 100_100.0, trades=4, wins=3), costs=costs, traded_value=250_000.0,
                 hold=PnL(100_000.0, 100_500.0, Costs(fees=1.0)))  # fmt: skip
    d2 = replace(day(D2, 100_100.0, 99_900.0, minutes=210, trades=2, wins=0), costs=costs,
                 traded_value=100_100.0, hold=PnL(100_100.0, 99_099.0), held_out=True)  # fmt: skip
    (whole,) = result([d1, d2], []).summaries()
    assert whole.label == NO_SPLIT and whole.days == (d1, d2)
    assert d1.gross == pytest.approx(142.0) and d1.gross_return_pct == pytest.approx(0.142)
    assert whole.net == pytest.approx(-100.0) and whole.costs.total == pytest.approx(84.0)
    assert whole.gross == pytest.approx(-16.0) and math.isnan(whole.cost_share)
    assert whole.turnover == pytest.approx((2.5 + 1.0) / 2)
    assert whole.round_trips_per_day == 3.0
    assert whole.hold_mrd_pct == pytest.approx((0.5 - 1.0) / 2)
    split = replace(result([d1, d2], []), held_out_from=D2)
    ins, out = split.summaries()
    assert (ins.label, ins.days, out.label, out.days) == (IN_SAMPLE, (d1,), HELD_OUT, (d2,))
    assert ins.cost_share == pytest.approx(42.0 / 142.0)
    assert replace(result([d1], []), held_out_from=D2).summaries()[0].label == IN_SAMPLE


def test_the_report_labels_every_figure_in_sample_or_held_out():
    costs = Costs(spread=30.0, slippage=10.0, fees=2.0)
    d1 = replace(day(D1, 100_000.0, 100_100.0), costs=costs, traded_value=250_000.0,
                 hold=PnL(100_000.0, 100_500.0, Costs(fees=1.0)))  # fmt: skip
    d2 = replace(day(D2, 100_100.0, 99_900.0, minutes=210), costs=costs, held_out=True)
    text = format_report(replace(result([d1, d2], []), held_out_from=D2))
    lines = text.splitlines()

    def row(name: str) -> str:
        (x,) = [x for x in lines if x.startswith(f"  {name:<24} ")]
        return x[27:]

    assert row("").split() == ["in-sample", "held-out"]
    assert row("gross P&L").split() == ["$+142.00", "(+0.1420%/day)", "$-158.00", "(-0.1578%/day)"]
    assert row("costs").split() == ["$42.00", "$42.00"]
    assert row("  half-spread").split() == ["$30.00", "$30.00"]
    assert row("net P&L").split() == ["$+100.00", "$-200.00"]
    assert row("mean daily return (MRD)").split() == [
        "+0.1000%",
        "net",
        "of",
        "costs",
        "-0.1998%",
        "net",
        "of",
        "costs",
    ]
    assert row("hold baseline").split()[:4] == ["+0.5000%/day", "net", "(costs", "$1.00)"]
    assert row("costs / gross").split()[0] == "29.6%" and "- (gross $-158.00)" in row(
        "costs / gross"
    )
    assert row("turnover").split()[0] == "2.50x" and row("round trips per day").split() == [
        "1.0",
        "1.0",
    ]
    (d2_line,) = [x for x in lines if x.startswith("  2025-11-28")]
    assert d2_line.split()[1] == "HO" and "-158.00" in d2_line and "42.00" in d2_line
