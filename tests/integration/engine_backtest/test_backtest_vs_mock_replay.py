"""A backtest of a date and the mock replay of that date over real HTTP (a real mockmarket
process with the realistic cost model, alpaca-shaped JSON both ways) produce the same
orders, the same fills to the cent, and the same end cash."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from common.config import original_config
from engine.backtest import run_backtest


@pytest.mark.parametrize(
    ("cfg", "day"),
    [
        # the ported tuning trades within three warm-up sessions; the default costs
        (original_config("rotation"), date(2025, 11, 26)),
        (
            original_config("psm").model_copy(update={"costs": original_config("psm").costs.model_copy(
                update={"slippage_bps": 1.5, "fee_per_share": 0.004})}),
            date(2025, 11, 28),
        ),
        # the cost gate on: both sides estimate the same round-trip costs
        (original_config("rotation").model_copy(update={"oes_config": original_config(
            "rotation").oes_config.model_copy(update={"entry_cost_margin": 1.0})}),
         date(2025, 11, 26)),
    ],
    ids=["rotation-full-day", "psm-half-day", "rotation-gated"],
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
