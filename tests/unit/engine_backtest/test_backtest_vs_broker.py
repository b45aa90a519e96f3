"""A one-day backtest and a replay of that day on mockmarket's paper broker, both with the
realistic cost model (half-spread by liquidity, slippage, regulatory fees charged per day,
market orders resting in minutes without a bar), send the same orders and get the same
fills, to the cent, and end with the same cash, for both strategies, on a full and a half
day; on thin days too, where orders rest, are canceled, and fill at the close."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from common.calendar import nyse
from common.config import (
    apply_params,
    original_config,
    original_config_json,
    validate_strategy_config,
)
from engine.backtest import run_backtest
from engine.backtest_result import BacktestResult

# The ported system's tuning trades within three warm-up sessions (the calibrated default
# waits for its forecasts to show skill): the comparison needs days that trade.
CONFIGS = {
    "rotation": original_config("rotation"),  # the default costs
    # a commission on top of the default costs: the cent rounding of every fee path
    "psm": original_config("psm").model_copy(
        update={"costs": original_config("psm").costs.model_copy(update={"fee_per_share": 0.005})}
    ),
    # the cost gate on: both sides must estimate the same round-trip costs
    "gated": validate_strategy_config(
        "rotation",
        apply_params(original_config_json("rotation"), {"oes_config.entry_cost_margin": 1.0},
                     source="<test>", strategy="rotation"),  # fmt: skip
        source="<test>",
    ),
}
# rotation that enters once signals are warm and holds to the close: EOD has work to do
HOLDS = validate_strategy_config(
    "rotation",
    apply_params(
        original_config_json("rotation"),
        {
            "oes_config.buy_threshold": 0.5,
            "oes_config.sell_threshold": 0.06,
            "signal_aggregator_config.min_probability": 0.5,
            "signal_aggregator_config.min_confidence": 0.0,
            "signal_aggregator_config.min_strength": 0.0,
            "signal_aggregator_config.max_signal_age_bars": 390,
            "rotation_manager_config.min_strength_to_enter": 0.0,
            "rotation_manager_config.min_strength_to_exit": 0.0,
            "rotation_manager_config.rotation_strength_delta": 5.0,
            "rotation_manager_config.min_hold_bars": 390,
            "rotation_manager_config.profit_target": 1.0,
            "rotation_manager_config.stop_loss": 1.0,
            "rotation_manager_config.min_rank_to_hold": 12,
            "risk.daily_loss_limit_pct": 0.5,
        },
        source="<test>",
        strategy="rotation",
    ),
    source="<test>",
)
THIN = ("SH", "SDS", "ERY", "FAZ", "TZA", "SVXY", "UVXY", "SQQQ")
FULL = date(2025, 11, 26)


def resting(result: BacktestResult) -> int:
    """Fills later than the minute after the bar they were decided on."""
    return sum(f.t_ms - f.decided_t_ms > 60_000 for f in result.fills)


def assert_same(result: BacktestResult, mock) -> None:
    assert len(mock.orders) < 500  # one page of the broker's order list holds them all
    assert mock.fills() == result.fill_table()
    assert sorted(o["client_order_id"] for o in mock.orders) == sorted(
        o.client_order_id for o in result.orders
    )
    canceled = [o["client_order_id"] for o in mock.orders if o["status"] == "canceled"]
    assert sorted(canceled) == sorted(result.canceled)
    assert {o["status"] for o in mock.orders} <= {"filled", "canceled"}
    assert mock.positions == [] and result.days[0].flat_at_close
    assert Decimal(mock.account["cash"]) == Decimal(repr(result.final_equity))
    assert float(mock.account["equity"]) == pytest.approx(result.days[0].end_equity, abs=0.005)
    # the costs were charged: half-spreads, slippage and fees
    assert result.days[0].costs.spread > 0 and result.days[0].costs.fees > 0


@pytest.mark.parametrize("day", [FULL, date(2025, 11, 28)], ids=["full", "half"])
@pytest.mark.parametrize("strategy", ["rotation", "psm", "gated"])
def test_backtest_and_broker_replay_agree(market, replay, strategy, day):
    cfg = CONFIGS[strategy]
    result = run_backtest(cfg, day, day, data_dir=market.directory, warmup_sessions=3)
    mock = replay(cfg, market.directory, day, 3)
    assert len(result.fills) >= 10, "the day must trade for the comparison to mean anything"
    assert_same(result, mock)


def test_resting_and_canceled_orders_agree_with_the_broker(thinned, replay):
    thin = thinned(FULL, THIN, 3, "15:50")  # two minutes in three without a bar
    cfg = CONFIGS["psm"]
    result = run_backtest(cfg, FULL, FULL, data_dir=thin.directory, warmup_sessions=3)
    assert resting(result) >= 10 and len(result.canceled) >= 2
    assert_same(result, replay(cfg, thin.directory, FULL, 3))


def test_a_flatten_without_bars_fills_at_the_close_like_the_broker(thinned, replay):
    thin = thinned(FULL, HOLDS.symbols, 1, "15:55")  # no bar of any symbol after 15:54
    result = run_backtest(HOLDS, FULL, FULL, data_dir=thin.directory, warmup_sessions=3)
    at_close = [f for f in result.fills if f.t_ms == nyse().session(FULL).close_ms]
    assert len(at_close) == 3 and {f.side for f in at_close} == {"sell"}
    assert all(f.costs is not None and f.price < f.costs.reference for f in at_close)
    assert_same(result, replay(HOLDS, thin.directory, FULL, 3))
