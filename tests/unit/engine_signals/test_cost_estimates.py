"""engine.cost_estimates: each symbol's round-trip cost on a session, from the liquidity
the broker's fills pay by and the last close before the session."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.config import CostsConfig
from engine.cost_estimates import (
    round_trip_costs,
    session_prices,
    session_round_trip_costs,
    unknown_liquidity_cost,
)
from engine.market_grid import load_sessions
from engine.sim_liquidity import backtest_liquidity
from ledger.costs import CostModel
from ledger.money import price_of


@pytest.fixture(scope="module")
def grid(thin_market):
    return load_sessions(thin_market.symbols, thin_market.sessions, thin_market.directory)


def test_a_sessions_estimate_is_the_cost_model_at_the_fills_liquidity(grid):
    k = len(grid.sessions) - 1
    costs = CostsConfig()
    got = session_round_trip_costs(grid, k, costs)
    model = CostModel.from_config(costs)
    liquidity = backtest_liquidity(grid, [k], 10).on(grid.sessions[k], grid.symbols)
    prices = session_prices(grid, k)
    assert prices == grid.last_closes(grid.session_range(k).start - 1)
    for sym in grid.symbols:
        want = float(model.round_trip_cost(price_of(prices[sym]), liquidity[sym]))
        assert got[sym] == want
    assert got == round_trip_costs(model, prices, liquidity)
    # the fixture's thin market: every symbol pays more than 2 x (half a cent + 1 bp)
    assert all(c > 2e-4 for c in got.values())


def test_unknown_liquidity_is_priced_at_the_widest_spread(grid):
    costs = CostsConfig()
    assert unknown_liquidity_cost(costs, 50.0) == float(
        CostModel.from_config(costs).round_trip_cost(Decimal(50), None)
    )
    assert unknown_liquidity_cost(costs, 50.0) > 2 * costs.max_half_spread_bps * 1e-4
    # the first session has no sessions before it in the grid: every symbol unknown
    first = session_round_trip_costs(grid, 0, costs)
    prices = session_prices(grid, 0)
    assert first == {s: unknown_liquidity_cost(costs, p) for s, p in prices.items()}
