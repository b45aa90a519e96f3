"""A one-day backtest and a replay of that day on mockmarket's paper broker send the same
orders and get the same fills, to the cent, for both strategies, on a full and a half day."""

from __future__ import annotations

from datetime import date

import pytest

from common.config import CostsConfig, PsmStrategyConfig, RotationStrategyConfig
from engine.backtest import run_backtest

COSTS = CostsConfig(slippage_bps=2.0, fee_per_share=0.005)
CONFIGS = {
    "rotation": RotationStrategyConfig(costs=COSTS),
    "psm": PsmStrategyConfig(costs=COSTS),
}


@pytest.mark.parametrize("day", [date(2025, 11, 26), date(2025, 11, 28)], ids=["full", "half"])
@pytest.mark.parametrize("strategy", ["rotation", "psm"])
def test_backtest_and_broker_replay_agree(market, replay, strategy, day):
    cfg = CONFIGS[strategy]
    result = run_backtest(cfg, day, day, data_dir=market.directory, warmup_sessions=3)
    mock = replay(cfg, market.directory, day, 3)
    assert len(mock.orders) < 500  # one page of the broker's order list holds them all
    assert len(result.fills) >= 10, "the day must trade for the comparison to mean anything"
    assert mock.fills() == result.fill_table()
    assert sorted(o["client_order_id"] for o in mock.orders) == sorted(
        o.client_order_id for o in result.orders
    )
    assert all(o["status"] == "filled" for o in mock.orders)
    assert mock.positions == [] and result.days[0].flat_at_close
    assert float(mock.account["cash"]) == pytest.approx(result.final_equity, abs=0.005)
    assert float(mock.account["equity"]) == pytest.approx(result.days[0].end_equity, abs=0.005)
