"""A backtest of a date and the mock replay of that date over real HTTP (a real mockmarket
process with the realistic cost model, alpaca-shaped JSON both ways) produce the same
orders, the same fills to the cent, and the same end cash."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from common.config import CostsConfig, PsmStrategyConfig, RotationStrategyConfig
from engine.backtest import run_backtest


@pytest.mark.parametrize(
    ("cfg", "day"),
    [
        (RotationStrategyConfig(), date(2025, 11, 26)),  # the default costs
        (
            PsmStrategyConfig(costs=CostsConfig(slippage_bps=1.5, fee_per_share=0.004)),
            date(2025, 11, 28),
        ),
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
    assert sorted(o.client_order_id for o in mock.orders if o.status == "canceled") == sorted(
        result.canceled
    )
    assert {o.status for o in mock.orders} <= {"filled", "canceled"}
    assert mock.positions == {} and result.flat_every_close
    assert Decimal(repr(mock.account.cash)) == Decimal(repr(result.final_equity))
    assert result.days[0].costs.spread > 0 and result.days[0].costs.fees > 0
