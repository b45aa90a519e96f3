"""A backtest of a date and the mock replay of that date over real HTTP (a real mockmarket
process, alpaca-shaped JSON both ways) produce the same orders and the same fills."""

from __future__ import annotations

from datetime import date

import pytest

from common.config import CostsConfig, PsmStrategyConfig, RotationStrategyConfig
from engine.backtest import run_backtest

COSTS = CostsConfig(slippage_bps=1.5, fee_per_share=0.004)


@pytest.mark.parametrize(
    ("cfg", "day"),
    [
        (RotationStrategyConfig(costs=COSTS), date(2025, 11, 26)),
        (PsmStrategyConfig(costs=COSTS), date(2025, 11, 28)),
    ],
    ids=["rotation-full-day", "psm-half-day"],
)
def test_backtest_and_mock_replay_produce_the_same_orders_and_fills(market, http_replay, cfg, day):
    result = run_backtest(cfg, day, day, data_dir=market.directory, warmup_sessions=3)
    mock = http_replay(cfg, day, 3)
    assert len(result.fills) >= 10, "the day must trade for the comparison to mean anything"
    assert mock.fills() == result.fill_table()
    assert sorted(o.client_order_id for o in mock.orders) == sorted(
        o.client_order_id for o in result.orders
    )
    assert {o.status for o in mock.orders} == {"filled"}
    assert mock.positions == {} and result.flat_every_close
    assert mock.account.cash == pytest.approx(result.final_equity, abs=0.005)
