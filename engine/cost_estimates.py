"""Each symbol's estimated round-trip cost on a session: what the strategies' entry gate
compares an expected return with (:mod:`engine.strategies.cost_gate`).

The estimate is the cost model's (:meth:`ledger.costs.CostModel.round_trip_cost`: both
half-spreads, both slippages, both fills' fees, as a fraction of the price) at the
symbol's liquidity on the session — its median dollar volume per minute over the
``costs.liquidity_sessions`` sessions before, the very figure the broker's (and the
backtest's) fills pay by (:mod:`engine.sim_liquidity`) — and at its last close before the
session (:func:`session_prices`). It is fixed at the open, reads nothing of the session
itself, and is computed once per symbol and session. A symbol without a bar in those
sessions is priced as the broker prices unknown liquidity: at the widest spread
(:func:`unknown_liquidity_cost`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np

from common.calendar import TradingCalendar
from common.config import CostsConfig
from engine.market_grid import MinuteGrid
from engine.sim_liquidity import backtest_liquidity
from ledger.costs import CostModel
from ledger.money import price_of


def _model(costs: CostsConfig | CostModel) -> CostModel:
    return costs if isinstance(costs, CostModel) else CostModel.from_config(costs)


def round_trip_costs(
    costs: CostsConfig | CostModel,
    prices: Mapping[str, float],
    liquidities: Mapping[str, Decimal | None],
) -> dict[str, float]:
    """The round-trip cost (fraction of the price) of each symbol of ``prices``."""
    model = _model(costs)
    return {
        s: float(model.round_trip_cost(price_of(p), liquidities.get(s)))
        for s, p in prices.items()
    }


def unknown_liquidity_cost(costs: CostsConfig | CostModel, price: float) -> float:
    """The round-trip cost of a symbol whose liquidity is unknown (the widest spread)."""
    return float(_model(costs).round_trip_cost(price_of(price), None))


def session_prices(grid: MinuteGrid, k: int) -> dict[str, float]:
    """Each symbol's last close before the grid's session ``k`` (its first price in the
    session when it has none before)."""
    r = grid.session_range(k)
    prices = grid.last_closes(r.start - 1) if r.start > 0 else {}
    for i, sym in enumerate(grid.symbols):
        if sym not in prices:
            seen = np.flatnonzero(grid.present[i, r.start : r.stop])
            if len(seen):
                prices[sym] = float(grid.close[i, r.start + int(seen[0])])
    return prices


def session_round_trip_costs(
    grid: MinuteGrid, k: int, costs: CostsConfig, calendar: TradingCalendar | None = None
) -> dict[str, float]:
    """Each symbol's round-trip cost on the grid's session ``k``, its liquidity from the
    grid's sessions before it (the live warm-up's case: the history is in the grid)."""
    model = _model(costs)
    liquidity = backtest_liquidity(grid, [k], model.liquidity_sessions, calendar=calendar)
    return round_trip_costs(model, session_prices(grid, k),
                            liquidity.on(grid.sessions[k], grid.symbols))  # fmt: skip


__all__ = [
    "round_trip_costs",
    "session_prices",
    "session_round_trip_costs",
    "unknown_liquidity_cost",
]
